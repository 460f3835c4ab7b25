"""What storage holds at the moments the contract makes a run durable (DESIGN §5): when
`agent_started` arrives the user's message is committed; when `agent_completed` arrives
the reply and the finished run record are. One read at each moment, by the person's own
storage probe; `questions.stored.durability_problems` judges them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from support.actors.person import Person
from support.wire.codec import RunSeen

__all__ = ["DurableMoments", "StoredMoment", "moment_read"]


@dataclass(frozen=True)
class StoredMoment:
    """The conversation's stored messages and the run's record, read at one moment."""

    messages: list[dict[str, Any]]
    record: dict[str, Any] | None


@dataclass(frozen=True)
class DurableMoments:
    """A question, its run as seen, and what storage held when it started and ended."""

    question: str
    run: RunSeen
    at_start: StoredMoment
    at_end: StoredMoment


async def moment_read(person: Person, run_id: str, thread_id: str) -> StoredMoment | None:
    """What storage holds for a run now; None when the person cannot read storage."""
    storage = person.abilities.storage_probe
    if storage is None:
        return None
    return StoredMoment(await storage.messages_in(thread_id), await storage.execution(run_id))
