"""Coming back to a conversation: resume after a seq, reopen it from the start, lose the
connection mid-answer and pick up where the person left off."""

from __future__ import annotations

from support.actors.person import Person
from support.actors.tasks.asking import starts_asking
from support.actors.tasks.connecting import connects, loses_connection
from support.wire.codec import Event

__all__ = [
    "loses_connection_once_agents_start",
    "picks_up_where_left_off",
    "reopens_conversation",
    "resumes",
]


def resumes(person: Person, thread_id: str, after_seq: int) -> None:
    """Ask for a conversation's events after `after_seq`."""
    mark = person.abilities.run(person.connection.resume(thread_id, after_seq),
                                f"{person.name} to resume")
    person.remember("reply position", mark)


def reopens_conversation(person: Person) -> tuple[list[Event], list[Event]]:
    """Replay the current conversation from the start; (events seen live, replayed)."""
    thread, client = person.thread_id, person.connection
    live = client.log.events(thread_id=thread)
    last = max(e.seq for e in live)
    mark = person.abilities.run(client.resume(thread, 0), f"{person.name} to reopen")
    person.abilities.run(
        client.log.expect_event(
            start=mark, thread_id=thread, where=lambda e: e.seq >= last,
            timeout=person.abilities.timeout,
            what=f"the replay of {person.name}'s conversation up to seq {last}",
        ),
        "the conversation to be replayed",
    )
    return live, client.log.events(start=mark, thread_id=thread)


def loses_connection_once_agents_start(person: Person, text: str) -> None:
    """Ask, then lose the connection right after the agents start; remember the last
    event seen, to pick up from there."""
    starts_asking(person, text)
    loses_connection(person)
    seen = person.connection.log.events(thread_id=person.thread_id)
    person.remember("last event seen", max(e.seq for e in seen))


def picks_up_where_left_off(person: Person) -> None:
    """Connect again and resume the conversation after the last event seen."""
    left_off_at = person.recall("last event seen")
    connects(person)
    resumes(person, person.thread_id, left_off_at)
