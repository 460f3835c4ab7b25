"""Faults driven from outside the service: what the resilience scenarios, their tests and
the soak (`python -m tools.soak`) do to it, and how they count what survived.

- `TcpRelay`: a relay in front of a backend (the database) whose connections can be cut
  and let through again, to take the backend away without touching its server.
- `crowd`: many users at once, each with its own sign-in, asking several questions over
  the real socket, some of them losing their connection mid-answer and resuming, some
  sending the same message twice; `check_crowd` then reads storage with its own engine and
  counts lost, duplicated and leaked runs and events.
- `stalled_client`: a connection that never reads, with a small receive buffer.
- `real_backends`: the PostgreSQL and Redis the tests of faults need (named by the
  GOLDEN_PATH_* variables, or private ones started for the occasion).
- plain functions for the steps (`start_own_gateway`, `crash_and_restart`, `join`,
  `crowd_on`), which run on the harness loop like the rest of support/.

Nothing here imports `chat`: the gateway is a process and the wire is the contract, so
the same faults apply to any backend that claims the contract (except killing a process
the suite did not start). Waiting is always for an event (a line printed, a frame, a
close), bounded by a timeout that fails saying what was awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from websockets.asyncio.client import ClientConnection, connect

from support import loop
from support.client import ChatClient, Event, Refusal, RunSeen
from support.config import SuiteConfig
from support.matchers import a_conversation, a_well_formed_run, assert_that, ended, exactly_seqs
from support.probes import EXECUTIONS, MESSAGES, RUN_EVENTS, THREADS, eventually
from support.processes import (
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    GatewaySettings,
    ServerProcess,
    gateway_process,
)
from support.stack import Stack
from support.tokens import mint
from support.users import Person


class FaultError(RuntimeError):
    """A fault could not be set up (a process did not start, a port was taken)."""


def gateway_settings(config: SuiteConfig, database_url: str | None) -> GatewaySettings:
    """The settings of a gateway process of the suite's own: the run's sign-in settings, the
    given database and the configured Redis."""
    return GatewaySettings(config.jwt_secret, config.jwt_issuer, config.jwt_audience,
                           database_url, config.redis_url)


# -- a backend connection that can be cut -------------------------------------------------


class TcpRelay:
    """Forwards 127.0.0.1:`port` to `target`; `cut()` drops every connection and refuses
    new ones (accepted and closed at once) until `restore()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._pipes |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                             return_exceptions=True)
        self._pipes -= {writer, up_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            writer.transport.abort()

    def cut(self) -> None:
        self.cut_off = True
        for writer in list(self._pipes):
            writer.transport.abort()

    def restore(self) -> None:
        self.cut_off = False

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


# -- a client that never reads -------------------------------------------------------------


async def stalled_client(url: str, token: str, *, receive_buffer: int = 4096,
                         timeout: float = 5.0) -> ClientConnection:
    """A connection whose app never reads: a small socket receive buffer, and the client
    library stops reading from the socket after one unread frame."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    return await connect(url, sock=sock, additional_headers={"Authorization": f"Bearer {token}"},
                         max_queue=1, open_timeout=timeout, ping_interval=None, proxy=None)


# -- a crowd --------------------------------------------------------------------------------


@dataclass
class Member:
    """One user of the crowd, with what they asked and saw."""

    user_id: str
    index: int
    token: str
    clients: list[ChatClient] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    runs: list[RunSeen] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    thread_id: str | None = None
    repeated_same_run: bool | None = None
    repeat_mark: tuple[ChatClient, int, str] | None = None
    resumed_complete: bool | None = None
    problems: list[str] = field(default_factory=list)
    answer_seconds: list[float] = field(default_factory=list)
    connect_seconds: list[float] = field(default_factory=list)

    def events_seen(self) -> list[Event]:
        return [event for client in self.clients for event in client.log.events()]


@dataclass
class CrowdPlan:
    """How the crowd behaves: users, questions each, and the faults some of them meet."""

    users: int
    runs_each: int
    drop_every: int = 10
    repeat_every: int = 5
    prefix: str = "crowd"
    timeout: float = 30.0


@dataclass
class Crowd:
    plan: CrowdPlan
    members: list[Member]
    wall_s: float


# What a user who loses the connection mid-answer asks: long enough to be cut off.
SLOW_QUESTION = ("Wait for 0.5 seconds", "Waited 0.5 seconds")


def question_for(member: int, run: int) -> tuple[str, str]:
    """A question whose answer names who asked it: ('What is M + R?', 'M + R = M+R')."""
    return f"What is {member} + {run}?", f"{member} + {run} = {member + run}"


async def crowd(urls: Sequence[str], config: SuiteConfig, plan: CrowdPlan) -> Crowd:
    """Everyone connects at once (user i to gateway `urls[i % len(urls)]`) and asks
    `runs_each` questions in one conversation. Every `drop_every`-th user loses the
    connection once the agents start on the second question, connects again (to the
    next gateway, when there are several) and resumes after the last event seen; every
    `repeat_every`-th user sends the first question a second time as the same message."""
    tag = uuid.uuid4().hex[:8]
    members = [
        Member(f"{plan.prefix}-{tag}-{i}", i, str(mint(config, f"{plan.prefix}-{tag}-{i}").token))
        for i in range(plan.users)
    ]
    began = time.perf_counter()
    await asyncio.gather(*(
        _member_session(urls[m.index % len(urls)], urls[(m.index + 1) % len(urls)], plan, m)
        for m in members))
    wall = time.perf_counter() - began
    await asyncio.gather(*(c.close() for m in members for c in m.clients if c.is_open),
                         return_exceptions=True)
    return Crowd(plan, members, wall)


async def _connect(url: str, member: Member, timeout: float) -> ChatClient:
    began = time.perf_counter()
    client = await ChatClient.open(url, member.token, timeout=timeout)
    if isinstance(client, Refusal):
        raise FaultError(f"{member.user_id} was turned away: {client.describe()}")
    member.connect_seconds.append(time.perf_counter() - began)
    member.clients.append(client)
    return client


async def _member_session(url: str, other_url: str, plan: CrowdPlan, member: Member) -> None:
    try:
        client = await _connect(url, member, plan.timeout)
        for run in range(plan.runs_each):
            question, answer = question_for(member.index, run)
            member.questions.append(question)
            member.answers.append(answer)
            dropping = plan.drop_every and member.index % plan.drop_every == 0 and run == 1
            if dropping:
                question, answer = SLOW_QUESTION
                member.questions[-1], member.answers[-1] = question, answer
                client = await _drop_and_resume(other_url, plan, member, client, question)
            else:
                seen = await _ask(plan, member, client, question)
                member.runs.append(seen)
            member.thread_id = member.runs[-1].thread_id
            if run == 0 and plan.repeat_every and member.index % plan.repeat_every == 0:
                await _repeat(plan, member, client)
    except (AssertionError, FaultError) as exc:
        member.problems.append(str(exc))
    except Exception as exc:  # noqa: BLE001 - a member's failure is counted, not fatal
        member.problems.append(f"{type(exc).__name__}: {exc}")


async def _ask(plan: CrowdPlan, member: Member, client: ChatClient, question: str) -> RunSeen:
    message_id = f"m-{uuid.uuid4().hex}"
    member.message_ids.append(message_id)
    sent = await client.send_message(question, thread_id=member.thread_id,
                                     message_id=message_id)
    seen = await client.run_of(sent, timeout=plan.timeout)
    member.answer_seconds.append(time.perf_counter() - sent.sent_at)
    return seen


async def _repeat(plan: CrowdPlan, member: Member, client: ChatClient) -> None:
    """Send the first message again with its message id: the same run must come back."""
    first = member.runs[0]
    sent = await client.send_message(member.questions[0], thread_id=None,
                                     message_id=member.message_ids[0])
    member.repeat_mark = (client, sent.mark, first.run_id)
    done = await client.log.expect_event(
        "agent_completed", start=sent.mark, timeout=plan.timeout,
        what=f"the repeated message of {member.user_id} to be answered again")
    member.repeated_same_run = done.run_id == first.run_id


async def _drop_and_resume(url: str, plan: CrowdPlan, member: Member, client: ChatClient,
                           question: str) -> ChatClient:
    """Ask, lose the connection once the agents start, reconnect and resume after the
    last event seen; the run must arrive complete, each event once."""
    message_id = f"m-{uuid.uuid4().hex}"
    member.message_ids.append(message_id)
    sent = await client.send_message(question, thread_id=member.thread_id,
                                     message_id=message_id)
    first = await client.first_event_of(sent)
    await client.drop()
    before = client.log.events(start=sent.mark, run_id=first.run_id)
    last = max(e.seq for e in before)
    if any(e.type == "agent_completed" for e in before):
        # The whole answer came before the connection went: ask for all of it again.
        before, last = [], first.seq - 1
    again = await _connect(url, member, plan.timeout)
    mark = await again.resume(first.thread_id, last)
    await again.log.expect_event("agent_completed", run_id=first.run_id, start=mark,
                                 timeout=plan.timeout,
                                 what=f"the rest of {member.user_id}'s answer after resuming")
    after = again.log.events(start=mark, run_id=first.run_id)
    events = before + after
    seqs = [e.seq for e in events]
    member.resumed_complete = (
        seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        and events[0].type == "agent_started"
        and [e.type for e in events].count("agent_completed") == 1
        and events[-1].type == "agent_completed"
    )
    if not member.resumed_complete:
        member.problems.append(
            f"the answer resumed after seq {last} was incomplete: "
            f"{', '.join(e.describe() for e in events)}")
    member.answer_seconds.append(time.perf_counter() - sent.sent_at)
    member.runs.append(RunSeen(first.run_id, first.thread_id, events))
    return again


# -- what survived --------------------------------------------------------------------------


@dataclass
class Survival:
    """What a crowd left behind, counted from the socket and from storage."""

    runs: int
    completed: int
    lost: int
    duplicated: int
    leaked: int
    resumed: int
    resumed_incomplete: int
    repeated: int
    repeated_new_run: int
    problems: list[str]
    wall_s: float
    connect_s: dict[str, float]
    answer_s: dict[str, float]

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.leaked or self.resumed_incomplete
                    or self.repeated_new_run or self.problems)

    def lines(self) -> list[str]:
        connect, answer = self.connect_s, self.answer_s
        counts = (f"runs {self.runs}, completed {self.completed}, lost {self.lost}, "
                  f"duplicated {self.duplicated}, leaked {self.leaked}")
        faults = (f"resumed after a dropped connection {self.resumed} "
                  f"(incomplete {self.resumed_incomplete}); sent twice {self.repeated} "
                  f"(run twice {self.repeated_new_run})")
        times = (f"wall {self.wall_s:.2f} s; connect p50 {connect['p50'] * 1000:.0f} ms "
                 f"p95 {connect['p95'] * 1000:.0f} ms; answer p50 "
                 f"{answer['p50'] * 1000:.0f} ms p95 {answer['p95'] * 1000:.0f} ms "
                 f"max {answer['max'] * 1000:.0f} ms")
        return [counts, faults, times] + [f"problem: {p}" for p in self.problems[:10]]


def spread(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95 and max of `samples` (zeros when there are none)."""
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(samples)
    return {"p50": statistics.median(ordered),
            "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
            "max": ordered[-1]}


async def check_crowd(result: Crowd, database_url: str) -> Survival:
    """Count, from the socket and from storage (read with an engine of this module's own):
    - lost: a question without its answer on the socket, or without its message, reply
      or completed record in storage;
    - duplicated: a stored message, reply, record or event more than once, or an event
      received twice on one connection;
    - leaked: an event received by a user that belongs to someone else's run, or a stored
      row of a user's conversation under another user.
    """
    engine = create_async_engine(database_url)
    try:
        return await _survival(result, engine)
    finally:
        await engine.dispose()


async def _rows(engine: AsyncEngine, statement: Any) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        return [dict(row._mapping) for row in await connection.execute(statement)]


async def _survival(result: Crowd, engine: AsyncEngine) -> Survival:
    members = result.members
    users = [m.user_id for m in members]
    messages = await _rows(engine, select(
        MESSAGES.c.user_id, MESSAGES.c.thread_id, MESSAGES.c.role, MESSAGES.c.content,
        MESSAGES.c.run_id, MESSAGES.c.client_message_id).where(MESSAGES.c.user_id.in_(users)))
    runs = await _rows(engine, select(
        EXECUTIONS.c.id, EXECUTIONS.c.user_id, EXECUTIONS.c.thread_id, EXECUTIONS.c.status,
        EXECUTIONS.c.result).where(EXECUTIONS.c.user_id.in_(users)))
    received_runs = {e.run_id for m in members for e in m.events_seen()}
    owners = {r["id"]: r["user_id"] for r in runs}
    unknown = received_runs - set(owners)
    if unknown:
        others = await _rows(engine, select(EXECUTIONS.c.id, EXECUTIONS.c.user_id).where(
            EXECUTIONS.c.id.in_(sorted(unknown))))
        owners.update({r["id"]: r["user_id"] for r in others})
    threads = sorted({r["thread_id"] for r in runs} | {m["thread_id"] for m in messages})
    thread_rows = await _rows(engine, select(THREADS.c.id, THREADS.c.user_id).where(
        THREADS.c.id.in_(threads))) if threads else []
    events = await _rows(engine, select(
        RUN_EVENTS.c.thread_id, RUN_EVENTS.c.run_id, RUN_EVENTS.c.user_id, RUN_EVENTS.c.seq,
        RUN_EVENTS.c.type).where(RUN_EVENTS.c.thread_id.in_(threads))) if threads else []
    counts = await _rows(engine, select(RUN_EVENTS.c.thread_id, func.count().label("n"),
                                        func.max(RUN_EVENTS.c.seq).label("top"))
                         .where(RUN_EVENTS.c.thread_id.in_(threads))
                         .group_by(RUN_EVENTS.c.thread_id)) if threads else []

    lost = duplicated = leaked = completed = 0
    problems: list[str] = []
    by_user: dict[str, list[dict[str, Any]]] = {}
    for row in messages:
        by_user.setdefault(row["user_id"], []).append(row)
    runs_by_user: dict[str, list[dict[str, Any]]] = {}
    for row in runs:
        runs_by_user.setdefault(row["user_id"], []).append(row)

    for member in members:
        problems.extend(f"{member.user_id}: {p}" for p in member.problems)
        stored = by_user.get(member.user_id, [])
        asked = [r for r in stored if r["role"] == "user"]
        replies = [r for r in stored if r["role"] == "assistant"]
        records = runs_by_user.get(member.user_id, [])
        for i, (question, answer) in enumerate(zip(member.questions, member.answers,
                                                   strict=True)):
            got = member.runs[i].response if i < len(member.runs) else None
            same_q = [r for r in asked if r["content"] == question]
            same_a = [r for r in replies if r["content"] == answer]
            done = [r for r in records if r["result"] == answer and r["status"] == "completed"]
            if got == answer:
                completed += 1
            if got != answer or not same_q or not same_a or not done:
                lost += 1
                problems.append(
                    f"{member.user_id}: {question!r} answered {got!r} on the socket; stored "
                    f"{len(same_q)} question(s), {len(same_a)} answer(s), {len(done)} "
                    "completed record(s)")
            duplicated += max(0, len(same_q) - 1) + max(0, len(same_a) - 1)
            duplicated += max(0, len(done) - 1)
        for client in member.clients:
            received = client.log.events()
            if member.repeat_mark is not None and member.repeat_mark[0] is client:
                # The repeated message is answered by sending its run's events again.
                _, mark, repeated_run = member.repeat_mark
                later = client.log.events(start=mark)
                received = received[:len(received) - len(later)] + [
                    e for e in later if e.run_id != repeated_run]
            seen_keys = [(e.run_id, e.seq) for e in received]
            duplicated += len(seen_keys) - len(set(seen_keys))
        for event in member.events_seen():
            if owners.get(event.run_id) != member.user_id:
                leaked += 1
    for row in thread_rows:
        owned = [r for r in events if r["thread_id"] == row["id"]]
        leaked += sum(1 for r in owned if r["user_id"] != row["user_id"])
        leaked += sum(1 for r in messages if r["thread_id"] == row["id"]
                      and r["user_id"] != row["user_id"])
    for row in counts:
        duplicated += max(0, int(row["n"]) - int(row["top"]))
        if int(row["n"]) < int(row["top"]):
            lost += int(row["top"]) - int(row["n"])
    closing: dict[str, int] = {}
    for row in events:
        if row["type"] == "agent_completed":
            closing[row["run_id"]] = closing.get(row["run_id"], 0) + 1
    duplicated += sum(n - 1 for n in closing.values() if n > 1)

    dropped = [m for m in members if m.resumed_complete is not None]
    repeated = [m for m in members if m.repeated_same_run is not None]
    return Survival(
        runs=sum(len(m.questions) for m in members),
        completed=completed, lost=lost, duplicated=duplicated, leaked=leaked,
        resumed=len(dropped),
        resumed_incomplete=sum(1 for m in dropped if not m.resumed_complete),
        repeated=len(repeated),
        repeated_new_run=sum(1 for m in repeated if not m.repeated_same_run),
        problems=problems, wall_s=result.wall_s,
        connect_s=spread([s for m in members for s in m.connect_seconds]),
        answer_s=spread([s for m in members for s in m.answer_seconds]),
    )


async def delete_users(database_url: str, user_ids: Sequence[str]) -> None:
    """Remove the crowd's rows (the same tables and order as the suite's own clean-up)."""
    from support.probes import StorageProbe

    probe = StorageProbe(database_url)
    try:
        await probe.delete_users(list(user_ids))
    finally:
        await probe.close()


# -- for the scenarios (plain functions on the harness loop) ------------------------------


def why_no_own_gateway(stack: Stack) -> str | None:
    """Why the suite cannot run a gateway of its own next to the stack (None: it can)."""
    if stack.config.external_gateway:
        return ("the suite talks to a gateway it did not start (gateway_url), so it cannot "
                "crash and restart it; run without gateway_url to include this scenario")
    return None


def start_own_gateway(stack: Stack) -> ServerProcess:
    """`python -m chat serve` on the stack's database (and Redis, if real), for faults."""
    gateway = gateway_process(gateway_settings(stack.config, stack.storage.database_url))
    loop.run(gateway.start(), timeout=START_TIMEOUT_S + 5,
             what="a chat service of the suite's own to start")
    return gateway


def stop_own_gateway(gateway: ServerProcess) -> None:
    loop.run(gateway.stop(), timeout=STOP_TIMEOUT_S * 2, what="the suite's chat service to stop")
    gateway.remove_log()


def crash_and_restart(gateway: ServerProcess) -> None:
    """SIGKILL the gateway, then start it again on the same port."""
    loop.run(gateway.kill(), timeout=STOP_TIMEOUT_S * 2, what="the chat service to crash")
    loop.run(gateway.start(), timeout=START_TIMEOUT_S + 5,
             what="the chat service to start again after crashing")


def join(person: Person, gateway: ServerProcess) -> ChatClient:
    """Connect `person` with their sign-in to `gateway`; the connection becomes theirs."""
    client = loop.run(ChatClient.open(str(gateway.url), person.sign_in.token,
                                      timeout=person.cast.timeout),
                      timeout=person.cast.timeout * 2, what=f"{person.name} to connect")
    if isinstance(client, ChatClient):
        person.sessions.append(client)
        return client
    raise AssertionError(f"{person.name} was turned away: {client.describe()}")


def own_gateway_for(context_cleanup: Any, stack: Stack) -> ServerProcess | str:
    """A gateway of the suite's own, stopped by `context_cleanup` at the end of the
    scenario; or, when there can be none, the reason why (to skip the scenario)."""
    reason = why_no_own_gateway(stack)
    if reason is not None:
        return reason
    gateway = start_own_gateway(stack)
    context_cleanup(stop_own_gateway, gateway)
    return gateway


def answer_found_after_resuming(person: Person) -> list[Event]:
    """The events of the person's current request received since they resumed, up to
    its ending (waiting for it)."""
    return [e for e in person.events_after_resuming() if e.run_id == person.run_id]


def expect_whole_answer(person: Person) -> None:
    """After reopening the conversation: the whole run, well formed, exactly as stored."""
    found = answer_found_after_resuming(person)
    assert_that(found, a_well_formed_run())
    assert_that(found, exactly_seqs([row["seq"] for row in person.stored_events_after(0)]))


def expect_saved_once(person: Person) -> None:
    """The conversation holds the question asked and the answer found, once each."""
    found = answer_found_after_resuming(person)
    question = person.pending.content if person.pending else None
    turns = [("user", str(question)), ("assistant", str(found[-1].payload.get("response")))]
    rows = person.cast.read(person.cast.storage.messages_in(str(person.thread_id)))
    assert_that(rows, a_conversation(turns), f"{person.name}'s conversation")


def expect_interrupted(person: Person) -> None:
    """The resumed request ended failed as interrupted, every tool it started closed."""
    found = answer_found_after_resuming(person)
    assert_that(found, a_well_formed_run())
    assert_that(found, ended("failed", error_code="interrupted"))


def crowd_on(stack: Stack, users: int, runs_each: int) -> Survival:
    """A crowd on the stack's gateway (some users dropping and resuming, some sending a
    question twice), checked against storage, then its users' rows and keys removed."""
    plan = CrowdPlan(users, runs_each, drop_every=5, repeat_every=4, prefix="crowd",
                     timeout=stack.config.timeout * 2)
    limit = stack.config.timeout * 6

    async def run() -> Survival:
        result = await crowd([stack.gateway_url], stack.config, plan)
        try:
            return await check_crowd(result, stack.storage.database_url)
        finally:
            await _settle_and_forget(stack, [m.user_id for m in result.members])

    return loop.run(run(), timeout=limit, what=f"{users} people to be answered")


async def _settle_and_forget(stack: Stack, user_ids: list[str]) -> None:
    async def active() -> int:
        rows = await stack.storage.sessions_of(user_ids)
        return sum(1 for row in rows if row.get("status") == "active")

    with contextlib.suppress(AssertionError):
        await eventually(active, lambda n: n == 0, what="the crowd's sessions to close",
                         timeout=stack.config.timeout)
    await stack.storage.delete_users(user_ids)
    await stack.cache.delete_users(user_ids)


__all__ = [
    "Crowd",
    "CrowdPlan",
    "FaultError",
    "Member",
    "Survival",
    "TcpRelay",
    "answer_found_after_resuming",
    "check_crowd",
    "crash_and_restart",
    "crowd",
    "crowd_on",
    "delete_users",
    "expect_interrupted",
    "expect_saved_once",
    "expect_whole_answer",
    "gateway_settings",
    "join",
    "own_gateway_for",
    "question_for",
    "spread",
    "stalled_client",
    "start_own_gateway",
    "stop_own_gateway",
    "why_no_own_gateway",
]
