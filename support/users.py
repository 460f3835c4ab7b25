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
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hamcrest.core.matcher import Matcher

from support import loop
from support.client import UNUSABLE_FRAMES, ChatClient, Event, Refusal, RunSeen, SentMessage
from support.matchers import (
    a_cache_entry,
    a_cached_answer,
    a_conversation,
    a_session_record,
    assert_that,
    exactly_seqs,
    no_cache_entry,
    problem_of,
    working_notes,
)
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
    run_id: str | None = None
    runs_by_connection: dict[str, list[str]] = field(default_factory=dict)
    repeated: tuple[list[Event], list[Event]] | None = None
    left_off_at: int | None = None

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
        if isinstance(outcome, ChatClient):
            return outcome
        raise AssertionError(f"{self.name} was turned away: {outcome.describe()}")

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

    def session_record(self, index: int = -1) -> dict[str, Any]:
        """The stored record of one of the person's sessions (by connection). The greeting
        does not wait for the record, so this waits (bounded) until it is there."""
        connection = str(self.sessions[index].connection_id)
        row = self.cast.eventually(
            lambda: self.cast.storage.session_of_connection(connection),
            lambda found: found is not None,
            f"a session to be recorded for {self.name}'s connection {connection}",
            describe=lambda _: "no session is recorded for it",
        )
        assert row is not None
        return row

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
        self._answered(text, run)
        return run

    def _answered(self, text: str, run: RunSeen) -> None:
        self.questions.append(text)
        self.runs.append(run)
        self.thread_id = run.thread_id
        self.run_id = run.run_id
        connection = str(self.session.connection_id)
        self.runs_by_connection.setdefault(connection, []).append(run.run_id)

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
        self.thread_id = first.thread_id
        self.run_id = first.run_id
        return first

    def awaits_answer(self) -> RunSeen:
        """Wait for the answer to the question started with `starts_asking`."""
        if self.pending is None:
            raise AssertionError(f"{self.name} has no question waiting for an answer")
        run = self.cast.run(
            self.session.run_of(self.pending), f"the answer to {self.pending.content!r}"
        )
        self._answered(self.pending.content, run)
        self.pending = None
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
            self._answered(text, run)
            return run.events, self.session.log.events(start=again.mark, run_id=run.run_id)

        self.repeated = self.cast.run(twice(), f"{self.name}'s repeated message to be answered")
        return self.repeated

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

    def expect_told(self, code: str) -> None:
        """Wait for the error answering the last frame sent; it must carry `code`."""
        what = f"{self.name} to be told about the problem (error {code!r})"
        reply = self.cast.run(
            self.session.log.expect_error(
                None, timeout=self.cast.timeout, start=self.last_mark, what=what
            ),
            what,
        )
        if reply.code != code:
            raise AssertionError(
                f"expected {what}; {self.name} was told {reply.code!r}: {reply.message}"
            )

    def expect_conversations_saved(self) -> None:
        """Each of the person's conversations is stored as the questions asked, each followed
        by the answer seen on the socket."""
        for thread in self.threads():
            rows = self.cast.read(self.cast.storage.messages_in(thread))
            assert_that(rows, a_conversation(self.turns_in(thread)),
                        f"{self.name}'s conversation {thread}")

    def expect_missed_events_after_resuming(self) -> None:
        """After resuming, exactly the stored events after the last one seen arrive, once
        each and in order, up to the answer."""
        received = self.events_after_resuming()
        missed = [row["seq"] for row in self.stored_events_after(self.left_off_at)]
        assert_that(received, exactly_seqs(missed),
                    f"the events {self.name} missed after seq {self.left_off_at}")

    def threads(self) -> list[str]:
        """The person's conversations, in the order they started."""
        return list(dict.fromkeys(run.thread_id for run in self.runs))

    def turns_in(self, thread_id: str) -> list[tuple[str, str]]:
        """(role, text) of each question asked and answer seen in a conversation."""
        turns: list[tuple[str, str]] = []
        for question, run in zip(self.questions, self.runs, strict=True):
            if run.thread_id == thread_id:
                turns += [("user", question), ("assistant", str(run.response))]
        return turns

    def reopens_conversation(self) -> tuple[list[Event], list[Event]]:
        """Replay the current conversation from the start; (events seen live, replayed)."""
        thread = self._thread()
        live = self.session.log.events(thread_id=thread)
        last = max(e.seq for e in live)
        mark = self.cast.run(self.session.resume(thread, 0), f"{self.name} to reopen")
        self.cast.run(
            self.session.log.expect_event(
                start=mark, thread_id=thread, where=lambda e: e.seq >= last,
                timeout=self.cast.timeout,
                what=f"the replay of {self.name}'s conversation up to seq {last}",
            ),
            "the conversation to be replayed",
        )
        return live, self.session.log.events(start=mark, thread_id=thread)

    def loses_connection_once_agents_start(self, text: str) -> None:
        """Ask, then lose the connection right after the agents start; remember the last
        event seen, to pick up from there."""
        self.starts_asking(text)
        self.loses_connection()
        seen = self.sessions[-1].log.events(thread_id=self._thread())
        self.left_off_at = max(e.seq for e in seen)

    def picks_up_where_left_off(self) -> None:
        """Connect again and resume the conversation after the last event seen."""
        if self.left_off_at is None:
            raise AssertionError(f"{self.name} has not lost a connection mid-conversation")
        self.connects()
        self.resumes(self._thread(), self.left_off_at)

    def events_after_resuming(self) -> list[Event]:
        """Wait for the resumed run to end; the events received since resuming."""
        run_id = self.run_id
        self.cast.run(
            self.session.log.expect_event(
                "agent_completed", run_id=run_id, start=self.last_mark,
                timeout=self.cast.timeout, what=f"the answer to arrive after resuming (run {run_id})",
            ),
            "the resumed conversation to finish",
        )
        return self.session.log.events(start=self.last_mark, thread_id=self._thread())

    def connected(self) -> Person:
        """The person, connected (connecting first if they have no open connection)."""
        if not any(client.is_open for client in self.sessions):
            self.connects()
        return self

    def greeted_client(self) -> ChatClient:
        """The connection of the last attempt, which must have been let in."""
        client = self.last_attempt
        if client is None or isinstance(client, Refusal):
            refusal = client.describe() if client else "no attempt was made"
            raise AssertionError(f"{self.name} was not let in: {refusal}")
        if client.offered_subprotocol and client.subprotocol != "bearer":
            raise AssertionError(
                f"the gateway chose subprotocol {client.subprotocol!r}, expected 'bearer'"
            )
        return client

    def sends_unusable(self, description: str) -> None:
        """Send one of the unusable frames the features describe (client.UNUSABLE_FRAMES)."""
        self.sends_raw(UNUSABLE_FRAMES[description])

    def expect_session_record(self, status: str, index: int = -1) -> dict[str, Any]:
        """Wait until the session of one connection is recorded with `status`."""
        connection = str(self.sessions[index].connection_id)
        return self.cast.expect_eventually(
            lambda: self.cast.storage.session_of_connection(connection),
            a_session_record(status, ended=True if status == "ended" else None),
            f"{self.name}'s session to be recorded as {status}",
        )

    def expect_run_record(self, matcher: Matcher[Any]) -> dict[str, Any]:
        """Wait until the current request's stored record matches."""
        run_id = self.run_id
        if run_id is None:
            raise AssertionError(f"{self.name} has made no request yet")
        return self.cast.expect_eventually(
            lambda: self.cast.storage.execution(run_id),
            matcher,
            f"{self.name}'s request {run_id} to be recorded",
        )

    def expect_working_notes(self, *, session: int, kept: bool) -> None:
        """The working notes of one session: kept (one per run made in it) or removed."""
        record = self.session_record(session)
        runs = self.runs_by_connection.get(str(record["connection_id"]), [])
        self.cast.expect_eventually(
            lambda: self.cast.storage.temporary_data_of(self.user_id),
            working_notes(str(record["id"]), runs, kept=kept),
            f"{self.name}'s working notes of session {session + 1 if session >= 0 else 'last'}"
            + (" to be kept" if kept else " to be removed"),
        )

    def cache_of(self, session: int = -1) -> CachedSession:
        """The cache entries of one of the person's sessions."""
        return CachedSession(self, session)

    def cache_entries(self) -> dict[str, Any]:
        """Everything cached under the person's space, key -> parsed value."""
        cache = self.cast.cache

        async def read() -> dict[str, Any]:
            return await cache.entries(await cache.keys_of(self.user_id))

        return self.cast.read(read())

    def own_ids(self) -> dict[str, list[str]]:
        """The person's sessions (stored), connections (greetings), requests, conversations."""
        rows = self.cast.read(self.cast.storage.sessions_of([self.user_id]))
        return {
            "sessions": [str(row["id"]) for row in rows],
            "connections": [str(c.connection_id) for c in self.sessions if c.is_open],
            "runs": [run.run_id for run in self.runs],
            "threads": self.threads(),
        }

    def stored_events_after(self, seq: int | None) -> list[dict[str, Any]]:
        """The stored events of the current conversation after `seq` (the database's view)."""
        rows = self.cast.read(self.cast.storage.events_of_thread(self._thread()))
        return [row for row in rows if seq is None or row["seq"] > seq]

    def requests_recorded(self) -> int:
        """How many requests the database records for the person."""
        return len(self.cast.read(self.cast.storage.executions_of(self.user_id)))

    def _thread(self) -> str:
        if self.thread_id is None:
            raise AssertionError(f"{self.name} has no conversation yet")
        return self.thread_id

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


class CachedSession:
    """Checks on the cache entries of one of a person's sessions (read by the probe)."""

    def __init__(self, person: Person, index: int) -> None:
        self.person = person
        self.index = index
        self.cast = person.cast

    def _entry(self, key: str) -> Callable[[], Awaitable[tuple[Any, int]]]:
        cache = self.cast.cache

        async def read() -> tuple[Any, int]:
            return await cache.get_json(key), await cache.ttl(key)

        return read

    def _session_id(self) -> str:
        return str(self.person.session_record(self.index)["id"])

    def expect_session(self, *, present: bool, ttl: tuple[int, int] = (1, 3600)) -> None:
        key = f"gp:{self.person.user_id}:session:{self._session_id()}"
        matcher = a_cache_entry(ttl=ttl) if present else no_cache_entry()
        state = "cached" if present else "gone from the cache"
        self.cast.expect_eventually(
            self._entry(key), matcher, f"{self.person.name}'s session {key} to be {state}"
        )

    def expect_connection(self, *, present: bool) -> None:
        client = self.person.sessions[self.index]
        key = f"gp:{self.person.user_id}:conn:{client.connection_id}"
        matcher = (
            a_cache_entry(ttl=(1, 3600), fields={"session_id": self._session_id()})
            if present
            else no_cache_entry()
        )
        state = "tracked" if present else "forgotten"
        self.cast.expect_eventually(
            self._entry(key), matcher, f"{self.person.name}'s connection {key} to be {state}"
        )

    def expect_answer(self, *, ttl: tuple[int, int]) -> None:
        run = self.person.last_run
        key = f"gp:{self.person.user_id}:result:{run.run_id}"
        status = str(run.completion.status) if run.completion else "completed"
        self.cast.expect_eventually(
            self._entry(key),
            a_cached_answer(status, run.response, run.thread_id, ttl),
            f"{self.person.name}'s answer {key} to be cached",
        )

    def expect_revocation_until_expiry(self) -> None:
        sign_in = self.person.sign_in
        key = f"gp:revoked:{sign_in.jti}"
        remaining = int(sign_in.expires_at or 0) - int(time.time())
        self.cast.expect_eventually(
            self._entry(key),
            a_cache_entry(ttl=(max(1, remaining - 10), remaining + 1)),
            f"the revocation of {self.person.name}'s sign-in ({key}) to be remembered",
        )


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

    def expect_eventually(
        self, read: Callable[[], Awaitable[T]], matcher: Matcher[Any], what: str
    ) -> T:
        """Re-read until `matcher` matches; fails with the matcher's mismatch of the last read."""
        return self.eventually(
            read,
            matcher.matches,
            what,
            describe=lambda value: problem_of(matcher, value) or repr(value),
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
