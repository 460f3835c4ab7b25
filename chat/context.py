"""The per-user execution context: everything a run may know about who it runs for.

It is made once per run and frozen, so nothing in the engine can switch a run to another
user or thread halfway through, and two users' runs never share a mutable object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chat.ids import MessageId, RunId, SessionId, ThreadId, UserId


@dataclass(frozen=True)
class Plan:
    """What the supervisor decided to do with a message: the intent and the sub-agents,
    in the order they will work. `params` holds what the intent rule extracted."""

    intent: str
    agents: tuple[str, ...]
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str) -> Any:
        return dict(self.params)[name]

    def as_record(self) -> dict[str, Any]:
        """The plan as stored in temporary_user_data (`run:{run_id}:plan`)."""
        return {"agents": list(self.agents), "intent": self.intent}


@dataclass(frozen=True)
class ExecutionContext:
    """One run for one user: ids, the user's text and the plan made for it."""

    user_id: UserId
    thread_id: ThreadId
    run_id: RunId
    message_id: MessageId
    session_id: SessionId | None
    content: str
    plan: Plan = field(default_factory=lambda: Plan(intent="unknown", agents=()))
