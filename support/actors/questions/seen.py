"""What a person saw on their connections: greetings, refusals, events, errors, closes."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from support.actors.person import Person
from support.actors.questions.stored import stored_events_after
from support.actors.tasks.misbehaving import SESSION_ENDS_AT
from support.contract import CLOSE_TOKEN_EXPIRED, FRAME_ERRORS
from support.matchers import assert_that, exactly_seqs
from support.wire.codec import Event, Refusal
from support.wire.v1 import ChatClient

__all__ = [
    "attempt",
    "conversation_events",
    "events_after_resuming",
    "events_of_each_run",
    "events_seen",
    "expect_closed_with",
    "expect_missed_events_after_resuming",
    "expect_other_connections_unharmed",
    "expect_refused_alike",
    "expect_sign_in_ran_out",
    "expect_told",
    "expect_told_about_each_piece",
    "greeting",
    "last_answer",
    "repeated_answers",
    "threads",
]


def attempt(person: Person) -> ChatClient | Refusal:
    """The outcome of the person's last connection attempt."""
    return person.recall("attempt")


def greeting(person: Person) -> ChatClient:
    """The connection of the last attempt, which must have been let in (with the `bearer`
    subprotocol chosen when it was offered)."""
    client = person.recall("attempt", None)
    if client is None or isinstance(client, Refusal):
        refusal = client.describe() if client else "no attempt was made"
        raise AssertionError(f"{person.name} was not let in: {refusal}")
    if client.offered_subprotocol and client.subprotocol != "bearer":
        raise AssertionError(
            f"the gateway chose subprotocol {client.subprotocol!r}, expected 'bearer'")
    return client


def last_answer(person: Person) -> list[Event]:
    """The events of the person's last answered question."""
    return person.last_run.events


def events_of_each_run(person: Person) -> list[list[Event]]:
    """For each question answered, every event of its run on the current connection."""
    return [person.connection.log.events(run_id=answered.run.run_id)
            for answered in person.answered]


def conversation_events(person: Person) -> list[Event]:
    """Every event of the current conversation on the current connection."""
    return person.connection.log.events(thread_id=person.thread_id)


def events_seen(person: Person) -> list[Event]:
    """Every event this person received, on every connection."""
    return [event for client in person.connections for event in client.log.events()]


def threads(person: Person) -> list[str]:
    """The person's conversations, in the order they started."""
    return list(dict.fromkeys(answered.run.thread_id for answered in person.answered))


def repeated_answers(person: Person) -> tuple[list[Event], list[Event]]:
    """The events after the first and after the second send of the same message."""
    return person.recall("repeated answers")


def expect_told(person: Person, code: str) -> None:
    """Wait for the error answering the last frame sent; it must carry `code`."""
    what = f"{person.name} to be told about the problem (error {code!r})"
    reply = person.abilities.run(
        person.connection.log.expect_error(None, timeout=person.abilities.timeout,
                                           start=person.recall("reply position"), what=what),
        what)
    if reply.code != code:
        raise AssertionError(
            f"expected {what}; {person.name} was told {reply.code!r}: {reply.message}")


def events_after_resuming(person: Person, allowance_s: float = 0.0) -> list[Event]:
    """Wait for the resumed request to end (the one timeout, plus `allowance_s` for work
    the service is known to take longer over); the events of its conversation received
    since resuming."""
    run_id, client = person.recall("request"), person.connection
    wait_s = person.abilities.timeout + allowance_s
    person.abilities.run_for(
        client.log.expect_event(
            "agent_completed", run_id=run_id, start=person.recall("reply position"),
            timeout=wait_s, what=f"the answer to arrive after resuming (run {run_id})"),
        wait_s * 2, "the resumed conversation to finish")
    return client.log.events(start=person.recall("reply position"), thread_id=person.thread_id)


def expect_missed_events_after_resuming(person: Person) -> None:
    """After resuming, exactly the stored events after the last one seen arrive, once
    each and in order, up to the answer."""
    received = events_after_resuming(person)
    missed = [row["seq"] for row in stored_events_after(person, person.recall("last event seen"))]
    assert_that(received, exactly_seqs(missed),
                f"the events {person.name} missed after seq {person.recall('last event seen')}")


def _wait_closed(person: Person, client: ChatClient, what: str) -> None:
    person.abilities.run(
        client.log.eventually(lambda log: log.closed, what=what,
                              timeout=person.abilities.timeout), what)


def expect_sign_in_ran_out(person: Person) -> None:
    """The connection ends because the sign-in ran out: `error` token_expired, then 4401,
    and not before the moment the session had to last until."""
    client = person.connection
    what = f"{person.name}'s connection to end because her sign-in ran out"
    _wait_closed(person, client, what)
    told = [r for r in client.log.received
            if r.type == "error" and r.frame.get("code") == "token_expired"]
    if not told or client.log.close_code != CLOSE_TOKEN_EXPIRED:
        raise AssertionError(
            f"expected {what} (told token_expired, close code {CLOSE_TOKEN_EXPIRED}); "
            f"arrived: {client.log.summary()}")
    ends_at: float = person.recall(SESSION_ENDS_AT)
    told_at = time.time() - (time.perf_counter() - told[0].at)
    if told_at < ends_at:
        raise AssertionError(
            f"expected {what} no sooner than {_clock(ends_at)}, when her sign-in (and any "
            f"leeway it was let in with) is over; she was told at {_clock(told_at)}, "
            f"{ends_at - told_at:.2f} s early")


def _clock(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%H:%M:%S.%f")[:-3] + " UTC"


def expect_told_about_each_piece(person: Person) -> None:
    """One error per piece of garbage sent, each with a code of the contract, no run
    started, and the app's connection still open."""
    log, mark = person.connection.log, person.recall("reply position")
    pieces: list[str] = person.recall("garbage sent")
    what = f"{person.name} to be told about each of {len(pieces)} pieces of garbage"
    person.abilities.run(
        log.eventually(lambda lg: len(lg.errors(start=mark)) >= len(pieces), what=what,
                       timeout=person.abilities.timeout), what)
    codes = [error.code for error in log.errors(start=mark)]
    unexpected = [f"{piece}: {code}" for piece, code in zip(pieces, codes, strict=False)
                  if code not in FRAME_ERRORS]
    if len(codes) != len(pieces) or unexpected or log.events(start=mark) or log.closed:
        raise AssertionError(
            f"expected {what}, with codes of the contract, nothing started and the "
            f"connection open; unexpected: {unexpected or 'none'}; arrived: "
            f"{log.summary(start=mark)}")


def expect_refused_alike(person: Person, code: str) -> None:
    """Every message the person sent into a conversation was refused with `code` and the
    same words (the conversation's id aside): nothing tells one refusal from another. The
    service answers a connection's frames in order, so the n-th error answers the n-th."""
    log, posts = person.connection.log, person.recall("posts into conversations")
    first = posts[0][1]
    what = f"{person.name} to be told about each of {len(posts)} messages"
    person.abilities.run(
        log.eventually(lambda lg: len(lg.errors(start=first)) >= len(posts), what=what,
                       timeout=person.abilities.timeout), what)
    told = [(reply.code, reply.message.replace(thread_id, "<conversation>"))
            for (thread_id, _), reply in zip(posts, log.errors(start=first), strict=False)]
    if len(set(told)) != 1 or told[0][0] != code:
        raise AssertionError(f"expected {person.name} to be told {code!r} the same way each "
                             f"time; was told {told}")


def expect_closed_with(person: Person, code: int, why: str) -> None:
    """The current connection was closed by the gateway with `code`."""
    what = f"{person.name}'s app to be disconnected because {why} (close code {code})"
    _wait_closed(person, person.connection, what)
    if person.connection.log.close_code != code:
        raise AssertionError(f"expected {what}; arrived: {person.connection.log.summary()}")


def expect_other_connections_unharmed(person: Person) -> None:
    """The person's connections opened before the current one are still open."""
    closed = [c.connection_id for c in person.connections[:-1] if not c.is_open]
    if closed:
        raise AssertionError(f"{person.name}'s other connections were closed too: {closed}")
