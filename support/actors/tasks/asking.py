"""Asking: a question and its whole answer, a question left running, the same message
twice, a message into a given conversation."""

from __future__ import annotations

import secrets

from support.actors.moments import DurableMoments, moment_read
from support.actors.person import Answered, Person
from support.wire.codec import Event, RunSeen, SentMessage

__all__ = [
    "asking",
    "asks",
    "asks_in_two_byte_characters",
    "asks_on",
    "asks_while_asking",
    "awaits_answer",
    "posts_into",
    "posts_into_made_up",
    "sends_as_same_message_as",
    "sends_twice",
    "starts_asking",
]


def _answered(person: Person, sent: SentMessage, run: RunSeen) -> None:
    person.answered.append(Answered(sent.content, run, str(person.connection.connection_id),
                                    sent.sent_at))
    person.remember("conversation", run.thread_id)
    person.remember("request", run.run_id)


async def asking(person: Person, text: str, *, same_conversation: bool = False,
                 message_id: str | None = None) -> RunSeen:
    """Send a question and wait for its whole run (a coroutine, for people asking at once).
    What storage holds is read the moment the agents start and the moment the answer
    arrives, the moments the contract makes it durable (`questions.stored`)."""
    thread = person.recall("conversation") if same_conversation else None
    client = person.connection
    sent = await client.send_message(text, thread_id=thread, message_id=message_id)
    person.remember("message id", sent.message_id)
    started = await client.log.expect_event(start=sent.mark, timeout=client.timeout,
                                            what=f"the agents to start on {text!r}")
    at_start = await moment_read(person, started.run_id, started.thread_id)
    run = await client.run_of(sent)
    at_end = await moment_read(person, run.run_id, run.thread_id)
    if at_start is not None and at_end is not None:
        person.remember("durable moments", [*person.recall("durable moments", []),
                                            DurableMoments(text, run, at_start, at_end)])
    _answered(person, sent, run)
    return run


def asks(person: Person, text: str, *, same_conversation: bool = False) -> RunSeen:
    """Ask over the current connection and wait for the answer."""
    return person.abilities.run(asking(person, text, same_conversation=same_conversation),
                                f"{person.name} to be answered {text!r}")


def asks_while_asking(person: Person, first: str, second: str) -> None:
    """Ask `first`, and once its agents have started, `second`, on the same connection;
    wait for both answers. The first request exists before the second is made."""
    client = person.connection

    async def both() -> list[tuple[SentMessage, RunSeen]]:
        one = await client.send_message(first)
        await client.first_event_of(one)
        two = await client.send_message(second)
        return [(one, await client.run_of(one)), (two, await client.run_of(two))]

    for sent, run in person.abilities.run(
            both(), f"{person.name} to be answered {first!r} and {second!r}"):
        _answered(person, sent, run)


def asks_in_two_byte_characters(person: Person, size: int) -> RunSeen:
    """Ask a question of exactly `size` bytes of UTF-8, in characters of two bytes each."""
    text = "é" * (size // 2) + "a" * (size % 2)
    return person.abilities.run(asking(person, text),
                                f"{person.name}'s question of {size} bytes to be answered")


def sends_as_same_message_as(person: Person, text: str, other: Person) -> RunSeen:
    """Ask with the message id of `other`'s last question, and wait for the answer."""
    return person.abilities.run(asking(person, text, message_id=other.recall("message id")),
                                f"{person.name} to be answered {text!r}")


def asks_on(person: Person, index: int, text: str) -> RunSeen:
    """Ask over one of the person's earlier connections (by index) and wait for the answer;
    the current connection stays what it was."""
    client = person.connections[index]

    async def ask() -> RunSeen:
        return await client.run_of(await client.send_message(text))

    return person.abilities.run(ask(), f"{person.name}'s connection {index + 1} to answer {text!r}")


def starts_asking(person: Person, text: str) -> Event:
    """Ask in a new conversation and wait only until the agents start; the first event."""
    run = person.abilities.run
    sent = run(person.connection.send_message(text), f"{person.name} to send {text!r}")
    first = run(person.connection.first_event_of(sent), f"the agents to start on {text!r}")
    person.remember("question waiting", sent)
    person.remember("conversation", first.thread_id)
    person.remember("request", first.run_id)
    return first


def awaits_answer(person: Person) -> RunSeen:
    """Wait for the answer to the question started with `starts_asking`."""
    pending: SentMessage = person.recall("question waiting")
    run = person.abilities.run(person.connection.run_of(pending),
                               f"the answer to {pending.content!r}")
    _answered(person, pending, run)
    return run


def sends_twice(person: Person, text: str) -> None:
    """Send the same message (same message id) twice; remembers the events of the first
    run, and every event that arrived after the repeat up to its ending (of any run: the
    repeat must bring that one run's events and nothing else)."""
    client, timeout = person.connection, person.abilities.timeout

    async def twice() -> tuple[list[Event], list[Event]]:
        message_id = f"m-{secrets.token_hex(8)}"
        first = await client.send_message(text, message_id=message_id)
        run = await client.run_of(first)
        again = await client.send_message(text, message_id=message_id)
        await client.log.expect_event(
            "agent_completed", run_id=run.run_id, start=again.mark, timeout=timeout,
            what=f"the repeated message to be answered with run {run.run_id} again")
        _answered(person, first, run)
        return run.events, client.log.events(start=again.mark)

    person.remember("repeated answers",
                    person.abilities.run(twice(), f"{person.name}'s repeated message"))


def posts_into(person: Person, thread_id: str, text: str) -> None:
    """Send a message into a given conversation (possibly someone else's, or none)."""
    sent = person.abilities.run(person.connection.send_message(text, thread_id=thread_id),
                                f"{person.name} to send")
    person.remember("reply position", sent.mark)
    person.remember("posts into conversations",
                    [*person.recall("posts into conversations", []), (thread_id, sent.mark)])


def posts_into_made_up(person: Person, text: str, *, named: str | None = None) -> None:
    """Send a message into a conversation nobody has; `named` "before" or "after" picks a
    name that sorts before, or after, every name the service gives."""
    made_up = {None: "thr_", "before": "thr_00", "after": "thr_zz"}[named]
    posts_into(person, f"{made_up}{secrets.token_hex(16)}", text)
