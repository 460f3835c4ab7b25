"""The people of one scenario, and what they do: sign in, connect, ask, leave.

Each scenario gets a fresh `Cast`: Alice, Bob and Carol are made on first mention with new
user ids (`alice-<random>`) and their own sign-ins, so scenarios never share data and may
run in any order. A `Person` is what a step talks to: `alice.asks("What is 6 * 7?")`
sends over the real socket and waits, bounded by the configured timeout, for the answer.
Everything runs on the harness loop; these methods are plain functions for plain steps.

`Cast.clean_up` closes what the scenario opened and removes exactly its users' rows and
cache keys (and revocations it made), nothing of anyone else's.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from support import loop
from support.client import ChatClient, Event, Refusal, RunSeen, SentMessage
from support.probes import eventually
from support.stack import Stack
from support.tokens import SignIn, bad_sign_in, mint

T = TypeVar("T")

NAMES = ("Alice", "Bob", "Carol")


@dataclass
class Person:
    """One user of the product in a scenario, with every connection they opened."""

    name: str
    user_id: str
    sign_in: SignIn
    cast: Cast
    sessions: list[ChatClient] = field(default_factory=list)
    runs: list[RunSeen] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    thread_id: str | None = None
    last_attempt: ChatClient | Refusal | None = None
    last_mark: int = 0
    pending: SentMessage | None = None

    # -- connecting ---------------------------------------------------------------

    @property
    def session(self) -> ChatClient:
        """The connection the person is using now (the latest one opened)."""
        if not self.sessions:
            raise AssertionError(f"{self.name} has not connected yet")
        return self.sessions[-1]

    @property
    def last_run(self) -> RunSeen:
        if not self.runs:
            raise AssertionError(f"{self.name} has not had an answer yet")
        return self.runs[-1]

    @property
    def last_refusal(self) -> Refusal:
        if not isinstance(self.last_attempt, Refusal):
            greeted = self.last_attempt
            raise AssertionError(
                f"{self.name} was let in (greeted as {getattr(greeted, 'user_id', None)!r}) "
                "instead of being turned away"
            )
        return self.last_attempt

    async def _attempt(self, sign_in: SignIn, via: str) -> ChatClient | Refusal:
        outcome = await ChatClient.open(
            self.cast.stack.gateway_url, sign_in.token, timeout=self.cast.timeout, via=via
        )
        if isinstance(outcome, ChatClient):
            self.sessions.append(outcome)
        self.last_attempt = outcome
        return outcome

    def tries_to_connect(self, sign_in: SignIn | None = None, *, via: str = "header") -> None:
        """Attempt a connection; the outcome (greeting or refusal) is kept for the Then."""
        self.cast.run(
            self._attempt(sign_in or self.sign_in, via), f"{self.name}'s connection attempt"
        )

    def connects(self, *, via: str = "header") -> ChatClient:
        """Connect with the person's own sign-in; fails if the gateway turns them away."""
        outcome = self.cast.run(self._attempt(self.sign_in, via), f"{self.name} to connect")
        if isinstance(outcome, Refusal):
            raise AssertionError(f"{self.name} was turned away: {outcome.describe()}")
        return outcome

    def bad_sign_in(self, description: str) -> SignIn:
        """A bad sign-in for this person as a feature describes it; revoked when it says so."""
        made = bad_sign_in(self.cast.stack.config, self.user_id, description)
        if "revoked" in description:
            self.cast.revoke(made)
        return made

    def ends_session(self, index: int = 0) -> ChatClient:
        """Close one of the person's connections normally (the session ends)."""
        client = self.sessions[index]
        self.cast.run(client.close(), f"{self.name}'s session {index + 1} to close")
        return client

    def loses_connection(self) -> ChatClient:
        """Drop the current connection without a goodbye, as a broken network would."""
        client = self.session
        self.cast.run(client.drop(), f"{self.name}'s connection to drop")
        return client

    # -- asking ----------------------------------------------------------------------

    async def asking(self, text: str, *, same_conversation: bool = False) -> RunSeen:
        """Send a question and wait for its whole run (a coroutine, for concurrent use)."""
        thread = self.thread_id if same_conversation else None
        sent = await self.session.send_message(text, thread_id=thread)
        run = await self.session.run_of(sent)
        self.questions.append(text)
        self.runs.append(run)
        self.thread_id = run.thread_id
        return run

    def asks(self, text: str, *, same_conversation: bool = False) -> RunSeen:
        """Ask over the current connection and wait for the answer."""
        return self.cast.run(
            self.asking(text, same_conversation=same_conversation),
            f"{self.name} to be answered {text!r}",
        )

    def starts_asking(self, text: str) -> Event:
        """Ask in a new conversation and wait only until the agents start; the first event."""
        sent = self.cast.run(self.session.send_message(text), f"{self.name} to send {text!r}")
        first = self.cast.run(self.session.first_event_of(sent), f"the agents to start on {text!r}")
        self.pending = sent
        self.questions.append(text)
        self.thread_id = first.thread_id
        return first

    def awaits_answer(self) -> RunSeen:
        """Wait for the answer to the question started with `starts_asking`."""
        if self.pending is None:
            raise AssertionError(f"{self.name} has no question waiting for an answer")
        run = self.cast.run(
            self.session.run_of(self.pending), f"the answer to {self.pending.content!r}"
        )
        self.pending = None
        self.runs.append(run)
        return run

    def sends_twice(self, text: str) -> tuple[list[Event], list[Event]]:
        """Send the same message (same message id) twice; the events after each send."""

        async def twice() -> tuple[list[Event], list[Event]]:
            message_id = f"m-{secrets.token_hex(8)}"
            first = await self.session.send_message(text, message_id=message_id)
            run = await self.session.run_of(first)
            again = await self.session.send_message(text, message_id=message_id)
            await self.session.log.expect_event(
                "agent_completed",
                run_id=run.run_id,
                start=again.mark,
                timeout=self.cast.timeout,
                what=f"the repeated message to be answered with run {run.run_id} again",
            )
            self.questions.append(text)
            self.runs.append(run)
            self.thread_id = run.thread_id
            return run.events, self.session.log.events(start=again.mark)

        return self.cast.run(twice(), f"{self.name}'s repeated message to be answered")

    def sends_raw(self, text: str) -> None:
        """Send a frame exactly as given (to check how the gateway treats bad input)."""
        self.last_mark = self.cast.run(self.session.send_raw(text), f"{self.name} to send")

    def posts_into(self, thread_id: str, text: str) -> None:
        """Send a message into a given conversation (possibly someone else's)."""
        sent = self.cast.run(
            self.session.send_message(text, thread_id=thread_id), f"{self.name} to send"
        )
        self.last_mark = sent.mark

    def resumes(self, thread_id: str, after_seq: int) -> None:
        """Ask for a conversation's events after `after_seq`."""
        self.last_mark = self.cast.run(
            self.session.resume(thread_id, after_seq), f"{self.name} to resume"
        )

    def error_reply(self, code: str | None = None) -> str:
        """Wait for the error answering the last frame sent; its code."""
        reply = self.cast.run(
            self.session.log.expect_error(code, timeout=self.cast.timeout, start=self.last_mark),
            f"an error for {self.name}",
        )
        return reply.code

    def events_seen(self) -> list[Event]:
        """Every event this person received, on every connection."""
        return [event for client in self.sessions for event in client.log.events()]

    def wait_for_events(
        self, condition: Callable[[list[Event]], bool], what: str
    ) -> list[Event]:
        """Wait until the current connection's events satisfy `condition`; those events."""
        log = self.session.log
        self.cast.run(
            log.eventually(lambda lg: condition(lg.events()), what=what, timeout=self.cast.timeout),
            what,
        )
        return log.events()


class Cast:
    """The people of one scenario, the stack they use, and the clean-up they need."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.timeout = stack.config.timeout
        self.people: dict[str, Person] = {}
        self.revoked: list[str] = []

    def __getitem__(self, name: str) -> Person:
        """The person called `name`, made on first mention with a fresh user id."""
        if name not in self.people:
            user_id = f"{name.lower()}-{secrets.token_hex(6)}"
            self.people[name] = Person(name, user_id, mint(self.stack.config, user_id), self)
        return self.people[name]

    @property
    def storage(self) -> Any:
        return self.stack.storage

    @property
    def cache(self) -> Any:
        return self.stack.cache

    def run(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        """Run on the harness loop; the loop's own guard is wider than any inner wait."""
        return loop.run(coro, timeout=self.timeout * 3, what=what)

    def read(self, coro: Coroutine[Any, Any, T]) -> T:
        """A probe read, now."""
        return self.run(coro, "a storage read")

    def eventually(
        self,
        read: Callable[[], Awaitable[T]],
        holds: Callable[[T], bool],
        what: str,
        describe: Callable[[T], str] = repr,
    ) -> T:
        """Re-read until `holds`, bounded by the configured timeout (see probes.eventually)."""
        return self.run(
            eventually(read, holds, what=what, timeout=self.timeout, describe=describe), what
        )

    def together(self, *coros: Coroutine[Any, Any, T]) -> list[T]:
        """Run several people's actions at the same time; their results, in order."""

        async def all_of() -> list[T]:
            return list(await asyncio.gather(*coros))

        return self.run(all_of(), "everyone's requests to be answered")

    def revoke(self, sign_in: SignIn) -> None:
        """Revoke a sign-in the way an operator would."""
        if sign_in.token is None or sign_in.jti is None or sign_in.expires_at is None:
            raise ValueError("only a real sign-in can be revoked")
        self.run(
            self.stack.revoke(sign_in.token, sign_in.jti, sign_in.expires_at),
            "the sign-in to be revoked",
        )
        self.revoked.append(sign_in.jti)

    def user_ids(self) -> list[str]:
        return [person.user_id for person in self.people.values()]

    def clean_up(self) -> None:
        """Close the scenario's connections, let the service settle, remove its data."""
        self.run(self._clean_up(), "the scenario's clean-up")

    async def _clean_up(self) -> None:
        clients = [c for p in self.people.values() for c in p.sessions if c.is_open]
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        ids = self.user_ids()
        if not ids:
            return
        await _settled(self.stack, ids, self.timeout)
        await self.stack.storage.delete_users(ids)
        await self.stack.cache.delete_users(ids, [f"gp:revoked:{jti}" for jti in self.revoked])


async def _settled(stack: Stack, user_ids: Sequence[str], timeout: float) -> None:
    """Wait (bounded) until the service has finished with these users' sessions and runs,
    so it writes nothing after the clean-up; carries on regardless when time runs out."""

    async def busy() -> int:
        sessions = await stack.storage.sessions_of(user_ids)
        runs = [
            row
            for user_id in user_ids
            for row in await stack.storage.executions_of(user_id)
            if row.get("status") == "running"
        ]
        return sum(1 for s in sessions if s.get("status") == "active") + len(runs)

    try:
        await eventually(busy, lambda n: n == 0, what="the service to settle", timeout=timeout)
    except AssertionError:
        pass
