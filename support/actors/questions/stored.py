"""What the product stored for a person, read by the suite's own database probe."""

from __future__ import annotations

from typing import Any

from hamcrest.core.matcher import Matcher

from support.actors.person import Person
from support.matchers import (
    a_conversation,
    a_run_record,
    a_session_record,
    agents_in,
    assert_that,
    working_notes,
)

__all__ = [
    "conversations",
    "durability_problems",
    "expect_conversations_saved",
    "expect_interrupted_record",
    "expect_nobody_let_in",
    "expect_request_apart",
    "expect_run_record",
    "expect_session_record",
    "expect_working_notes",
    "messages",
    "request_record",
    "requests_recorded",
    "session_record",
    "stored_events_after",
    "turns_in",
]


def session_record(person: Person, index: int = -1) -> dict[str, Any]:
    """The stored record of one of the person's sessions (by connection). The greeting
    does not wait for the record, so this waits (bounded) until it is there."""
    connection = str(person.connections[index].connection_id)
    storage = person.abilities.storage
    row = person.abilities.eventually(
        lambda: storage.session_of_connection(connection),
        lambda found: found is not None,
        f"a session to be recorded for {person.name}'s connection {connection}",
        describe=lambda _: "no session is recorded for it",
    )
    assert row is not None
    return row


def expect_session_record(person: Person, status: str, index: int = -1) -> dict[str, Any]:
    """Wait until the session of one connection is recorded with `status`."""
    connection = str(person.connections[index].connection_id)
    storage = person.abilities.storage
    return person.abilities.expect_eventually(
        lambda: storage.session_of_connection(connection),
        a_session_record(status, ended=True if status == "ended" else None),
        f"{person.name}'s session to be recorded as {status}",
    )


def request_record(person: Person) -> dict[str, Any] | None:
    """The stored record of the person's current request, now."""
    return person.abilities.read(person.abilities.storage.execution(person.recall("request")))


def expect_each_request_completed_as_seen(person: Person) -> None:
    """Every request the person had answered is recorded as completed with the very
    answer she saw for it."""
    storage = person.abilities.storage
    for answered in person.answered:
        run = answered.run
        assert_that(person.abilities.read(storage.execution(run.run_id)),
                    a_run_record("completed", result=run.response),
                    f"{person.name}'s request {run.run_id} for {answered.question!r}")


def expect_run_record(person: Person, matcher: Matcher[Any]) -> dict[str, Any]:
    """Wait until the current request's stored record matches."""
    run_id = person.recall("request")
    storage = person.abilities.storage
    return person.abilities.expect_eventually(
        lambda: storage.execution(run_id), matcher,
        f"{person.name}'s request {run_id} to be recorded")


def expect_interrupted_record(person: Person) -> dict[str, Any]:
    """The current request recorded failed as interrupted, still naming the agents the
    person saw at work on it, on any of her connections."""
    run_id = person.recall("request")
    seen = [e for client in person.connections for e in client.log.events(run_id=run_id)]
    return expect_run_record(person, a_run_record("failed", error_code="interrupted",
                                                  agents=agents_in(seen)))


def expect_working_notes(person: Person, *, session: int, kept: bool) -> None:
    """The working notes of one session: kept (one per run made in it) or removed."""
    record = session_record(person, session)
    runs = [a.run.run_id for a in person.answered
            if a.connection_id == str(record["connection_id"])]
    storage = person.abilities.storage
    person.abilities.expect_eventually(
        lambda: storage.temporary_data_of(person.user_id),
        working_notes(str(record["id"]), runs, kept=kept),
        f"{person.name}'s working notes of session {session + 1 if session >= 0 else 'last'}"
        + (" to be kept" if kept else " to be removed"),
    )


def turns_in(person: Person, thread_id: str) -> list[tuple[str, str]]:
    """(role, text) of each question asked and answer seen in a conversation; a request
    that failed has no answer to keep."""
    turns: list[tuple[str, str]] = []
    for answered in person.answered:
        if answered.run.thread_id == thread_id:
            turns.append(("user", answered.question))
            done = answered.run.completion
            if done is not None and done.payload.get("status") == "completed":
                turns.append(("assistant", str(answered.run.response)))
    return turns


def expect_conversations_saved(person: Person) -> None:
    """Each of the person's conversations is stored as the questions asked, each followed
    by the answer seen on the socket."""
    for thread in dict.fromkeys(a.run.thread_id for a in person.answered):
        rows = person.abilities.read(person.abilities.storage.messages_in(thread))
        assert_that(rows, a_conversation(turns_in(person, thread)),
                    f"{person.name}'s conversation {thread}")


def conversations(person: Person) -> list[dict[str, Any]]:
    """The person's stored conversations (threads), now."""
    return person.abilities.read(person.abilities.storage.threads_of(person.user_id))


def messages(person: Person) -> list[dict[str, Any]]:
    """Every stored message of the person, now."""
    return person.abilities.read(person.abilities.storage.messages_of(person.user_id))


def stored_events_after(person: Person, seq: int | None) -> list[dict[str, Any]]:
    """The stored events of the current conversation after `seq` (the database's view)."""
    rows = person.abilities.read(person.abilities.storage.events_of_thread(person.thread_id))
    return [row for row in rows if seq is None or row["seq"] > seq]


def requests_recorded(person: Person) -> int:
    """How many requests the database records for the person."""
    return len(person.abilities.read(person.abilities.storage.executions_of(person.user_id)))


def expect_request_apart(person: Person, other: Person) -> None:
    """The person's request is recorded as theirs and is not `other`'s, whose record
    still names `other`."""
    mine, theirs = person.recall("request"), other.recall("request")
    records = {run_id: person.abilities.read(person.abilities.storage.execution(run_id))
               for run_id in (mine, theirs)}
    if mine == theirs or (records[mine] or {}).get("user_id") != person.user_id \
            or (records[theirs] or {}).get("user_id") != other.user_id:
        raise AssertionError(
            f"expected {person.name}'s request {mine} to be recorded as theirs, apart from "
            f"{other.name}'s {theirs}; recorded: " + ", ".join(
                f"{run_id} of {(row or {}).get('user_id')}" for run_id, row in records.items()))


def expect_nobody_let_in(person: Person) -> None:
    """No session was ever recorded for the person's user id."""
    rows = person.abilities.read(person.abilities.storage.sessions_of([person.user_id]))
    if rows:
        raise AssertionError(
            f"expected nobody to be let in as {person.name}; sessions recorded: "
            + ", ".join(f"{row.get('id')} ({row.get('status')})" for row in rows))


def durability_problems(person: Person) -> list[str]:
    """For every question the person asked: the message was stored when the agents
    started, and the reply and the finished record when the answer arrived."""
    problems = []
    for moment in person.recall("durable moments", []):
        run, question = moment.run, moment.question
        asked = [m for m in moment.at_start.messages
                 if m.get("role") == "user" and m.get("content") == question]
        if not asked:
            problems.append(f"{person.name}'s question {question[:60]!r} was not stored yet "
                            f"when the agents started on it (run {run.run_id})")
        done = run.completion
        status = done.payload.get("status") if done else None
        replies = [m for m in moment.at_end.messages
                   if m.get("role") == "assistant" and m.get("content") == run.response]
        record = moment.at_end.record or {}
        if status == "completed" and not replies:
            problems.append(f"the answer to {person.name}'s {question[:60]!r} was not stored "
                            f"when it arrived (run {run.run_id})")
        if record.get("status") != status or (
                status == "completed" and record.get("result") != run.response):
            problems.append(
                f"when the answer to {person.name}'s {question[:60]!r} arrived, run "
                f"{run.run_id} was recorded as {record.get('status')!r} with result "
                f"{record.get('result')!r}, not {status!r} with the answer seen")
    return problems
