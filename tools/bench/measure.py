"""The measurements: each phase times the service and its raw baseline side by side.

Paired figures interleave their two sides sample by sample (service, raw, raw, service,
...), so a burst of load from something else on the machine lands on both. Everything
runs on the suite's stack (`support.stack`): the in-process gateway, its store and its
cache on the configured backends; only the idle-connection figure starts processes of
its own (see `tools.bench.idle`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chat.store import Repositories
from support.config import SuiteConfig
from support.probes import EXECUTIONS, MESSAGES, SESSIONS, THREADS, eventually
from support.processes import GatewaySettings, gateway_process
from support.stack import Stack
from support.stats import percentile
from support.tokens import mint
from tools.bench.figures import Baseline, Distribution, Figure
from tools.bench.idle import idle_cost, raw_server
from tools.bench.wire import RawServer, WireError, WireUser, close_all

QUESTION = "What is {a} + {b}?"
RESULT_VALUE = {"status": "completed", "response": "2 + 3 = 5", "thread_id": "t-bench"}
HISTORY_MESSAGES = 20


@dataclass(frozen=True)
class Plan:
    """How many samples each phase takes (`--quick` shrinks them for CI)."""

    warmup: int
    connect_n: int
    latency_n: int
    store_n: int
    cache_rounds: int
    cache_round_ops: int
    cache_batch_ops: int
    throughput_users: int
    throughput_runs_each: int
    concurrent_users: int
    concurrent_rounds: int
    idle_connections: int
    idle_step: int

    @classmethod
    def full(cls) -> Plan:
        return cls(warmup=10, connect_n=300, latency_n=300, store_n=300, cache_rounds=60,
                   cache_round_ops=100, cache_batch_ops=50, throughput_users=50,
                   throughput_runs_each=10, concurrent_users=200, concurrent_rounds=3,
                   idle_connections=1000, idle_step=50)

    @classmethod
    def quick(cls) -> Plan:
        return cls(warmup=3, connect_n=30, latency_n=30, store_n=30, cache_rounds=8,
                   cache_round_ops=100, cache_batch_ops=50, throughput_users=50,
                   throughput_runs_each=2, concurrent_users=200, concurrent_rounds=1,
                   idle_connections=1000, idle_step=50)


def now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def ms(seconds: list[float]) -> list[float]:
    return [s * 1000.0 for s in seconds]


def raw_engine(database_url: str) -> AsyncEngine:
    """A plain SQLAlchemy engine on the service's database. SQLite connections get the
    database's own settings (busy timeout, synchronous NORMAL in WAL) and nothing else."""
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 10})

        @event.listens_for(engine.sync_engine, "connect")
        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        return engine
    return create_async_engine(database_url, connect_args={"timeout": 10})


async def paired(
    n: int, warmup: int,
    service: Callable[[int], Awaitable[Any]], raw: Callable[[int], Awaitable[Any]],
    *, quiet: Callable[[], Awaitable[Any]] | None = None,
) -> tuple[list[float], list[float]]:
    """Time `service(i)` and `raw(i)` n times each, alternating which goes first;
    seconds per call. `warmup` calls of each are made first and not kept. `quiet`, when
    given, is awaited (untimed) after each service call: it waits for work the service
    still does after answering, which would otherwise be billed to the next sample."""

    async def settled(i: int) -> None:
        await service(i)
        if quiet is not None:
            started = time.perf_counter()
            await quiet()
            untimed.append(time.perf_counter() - started)

    untimed: list[float] = []
    for i in range(warmup):
        await settled(-1 - i)
        await raw(-1 - i)
    service_s: list[float] = []
    raw_s: list[float] = []
    for i in range(n):
        sides = ((settled, service_s), (raw, raw_s))
        for call, samples in sides if i % 2 == 0 else reversed(sides):
            untimed.clear()
            started = time.perf_counter()
            await call(i)
            samples.append(time.perf_counter() - started - sum(untimed))
    return service_s, raw_s


@dataclass
class Bench:
    """What every phase needs: the stack, a raw engine on its database, the plan, and
    the users made (removed again at the end on real backends)."""

    stack: Stack
    plan: Plan
    raw: AsyncEngine
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    users: list[str] = field(default_factory=list)

    @property
    def config(self) -> SuiteConfig:
        return self.stack.config

    @property
    def raw_driver(self) -> str:
        """How the baselines reach the database: SQLAlchemy's async engine over the
        driver DESIGN §4 names (aiosqlite or asyncpg), one statement at a time."""
        return f"async engine on {self.raw.dialect.driver}"

    @property
    def timeout(self) -> float:
        return max(self.config.timeout, 30.0)

    @property
    def service(self) -> Any:
        return self.stack.service

    def user(self, label: str) -> str:
        user_id = f"bench{self.tag}-{label}"
        self.users.append(user_id)
        return user_id

    def token(self, user_id: str) -> str:
        token = mint(self.config, user_id, lifetime_s=3600).token
        assert token is not None
        return token

    async def connect(self, user_id: str) -> WireUser:
        user = await WireUser.connect(self.stack.gateway_url, self.token(user_id),
                                      timeout=self.timeout)
        if user.hello.get("type") != "connection_established":
            raise WireError(f"expected connection_established, got {user.hello}")
        return user

    async def settle(self, users: list[WireUser], user_ids: list[str]) -> None:
        """Close these connections and wait until the service has ended their sessions
        and finished every run, so the next phase starts on a quiet service."""
        await close_all(users)
        await self.service.runs.wait_idle()
        if not user_ids:
            return

        async def statuses() -> list[str]:
            async with self.raw.connect() as conn:
                rows = await conn.execute(select(SESSIONS.c.status).where(
                    SESSIONS.c.user_id.in_(user_ids)))
                return [row[0] for row in rows]

        await eventually(statuses, lambda seen: "active" not in seen,
                         what="the benchmark's sessions to end", timeout=self.timeout,
                         describe=lambda seen: f"{seen.count('active')} still active")


async def _session_rows(b: Bench, connection_id: str) -> list[Any]:
    async with b.raw.connect() as conn:
        rows = await conn.execute(select(SESSIONS.c.id).where(
            SESSIONS.c.connection_id == connection_id))
        return list(rows)


def _check_completed(result: Any) -> None:
    if result.status != "completed":
        raise WireError(f"a run ended {result.status!r}: {result.response!r}")


# golden path ---------------------------------------------------------------------------

async def connect_auth(b: Bench, raw_server: RawServer) -> list[Figure]:
    """Connect, authenticate, `connection_established`; beside a bare connect to a
    server with no authentication that greets with one frame."""
    plan = b.plan
    user_ids = [b.user(f"conn-{i}") for i in range(plan.connect_n + plan.warmup)]
    tokens = [b.token(u) for u in user_ids]
    opened: list[WireUser] = []
    raw_opened: list[WireUser] = []

    async def service(i: int) -> None:
        user = await WireUser.connect(b.stack.gateway_url, tokens[i], timeout=b.timeout)
        opened.append(user)

    async def raw(i: int) -> None:
        raw_opened.append(await WireUser.connect(raw_server.url, None, timeout=b.timeout))

    async def recorded() -> None:
        connection_id = str(opened[-1].hello.get("connection_id"))
        await eventually(lambda: _session_rows(b, connection_id), bool,
                         what=f"the session of connection {connection_id} to be recorded",
                         timeout=b.timeout)

    try:
        service_s, raw_s = await paired(plan.connect_n, plan.warmup, service, raw,
                                        quiet=recorded)
        bad = [u.hello for u in opened if u.hello.get("type") != "connection_established"]
        if bad:
            raise WireError(f"expected connection_established, got {bad[0]}")
    finally:
        await close_all(raw_opened)
        await b.settle(opened, user_ids)
    return [_latency_figure(
        "gateway.connect_auth_p50", service_s, raw_s, 50,
        "raw websockets connect to a server with no auth, first frame received",
        "connect, authenticate (JWT in the header), connection_established received")]


async def run_latency(b: Bench) -> list[Figure]:
    """One user, calculator questions, message sent to `agent_completed` received; beside
    one raw SQLAlchemy Core insert+commit on the same database."""
    plan = b.plan
    user_id = b.user("solo")
    user = await b.connect(user_id)

    async def service(i: int) -> None:
        _check_completed(await user.ask(QUESTION.format(a=i, b=i + 1), timeout=b.timeout))

    async def raw(i: int) -> None:
        stamp = now()
        async with b.raw.begin() as conn:
            await conn.execute(insert(THREADS).values(
                id=new_id("rt"), user_id=user_id, title="baseline", last_seq=0,
                created_at=stamp, updated_at=stamp))

    try:
        service_s, raw_s = await paired(plan.latency_n, plan.warmup, service, raw,
                                        quiet=b.service.runs.wait_idle)
    finally:
        await b.settle([user], [user_id])
    baseline = f"raw SQLAlchemy Core insert+commit, same database, {b.raw_driver}"
    about = "one user, calculator question sent until agent_completed received"
    return [_latency_figure("golden_path.run_latency_p50", service_s, raw_s, 50, baseline,
                            about),
            _latency_figure("golden_path.run_latency_p99", service_s, raw_s, 99, baseline,
                            about)]


async def runs_per_second(b: Bench) -> list[Figure]:
    """50 users at once, each asking its questions one after the other in one thread;
    beside as many raw insert+commits by as many concurrent writers."""
    plan = b.plan
    user_ids = [b.user(f"tput-{i}") for i in range(plan.throughput_users)]
    users = await asyncio.gather(*(b.connect(u) for u in user_ids))
    latencies: list[float] = []

    async def asks(user: WireUser, k: int) -> None:
        thread_id: str | None = None
        for j in range(plan.throughput_runs_each):
            result = await user.ask(QUESTION.format(a=k, b=j), thread_id=thread_id,
                                    timeout=b.timeout)
            _check_completed(result)
            thread_id = result.thread_id
            latencies.append(result.seconds)

    raw_latencies: list[float] = []

    async def writes(k: int) -> None:
        for _ in range(plan.throughput_runs_each):
            stamp = now()
            started = time.perf_counter()
            async with b.raw.begin() as conn:
                await conn.execute(insert(THREADS).values(
                    id=new_id("rt"), user_id=user_ids[k], title="baseline", last_seq=0,
                    created_at=stamp, updated_at=stamp))
            raw_latencies.append(time.perf_counter() - started)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(asks(u, k) for k, u in enumerate(users)))
        wall = time.perf_counter() - started
        started = time.perf_counter()
        await asyncio.gather(*(writes(k) for k in range(len(user_ids))))
        raw_wall = time.perf_counter() - started
    finally:
        await b.settle(list(users), user_ids)
    total = plan.throughput_users * plan.throughput_runs_each
    return [Figure(
        "golden_path.runs_per_s", "runs/s", total / wall, Distribution.of(ms(latencies)), "ms",
        Baseline(f"raw insert+commit per s, {plan.throughput_users} concurrent writers, "
                 f"{b.raw_driver}",
                 total / raw_wall, Distribution.of(ms(raw_latencies))),
        f"{plan.throughput_users} users at once, {plan.throughput_runs_each} calculator "
        "questions each, one after the other; percentiles: per-run latency")]


async def concurrent_users(b: Bench, raw_server: RawServer) -> list[Figure]:
    """N users connect at once and each completes one run, in `concurrent_rounds` rounds
    of fresh users; beside N bare clients that connect at once to the no-auth server and
    exchange one frame each. The wall time is the median round's; lost runs add up."""
    n, rounds = b.plan.concurrent_users, b.plan.concurrent_rounds
    walls: list[float] = []
    raw_walls: list[float] = []
    outcomes: list[Any] = []
    raw_outcomes: list[Any] = []
    stored: set[str] = set()
    for k in range(rounds):
        user_ids = [b.user(f"conc{k}-{i}") for i in range(n)]
        round_outcomes, wall, raw_round, raw_wall, round_stored = await _concurrent_round(
            b, raw_server, user_ids)
        walls.append(wall)
        raw_walls.append(raw_wall)
        outcomes += round_outcomes
        raw_outcomes += raw_round
        stored |= round_stored
    completed = [o[1] for o in outcomes
                 if not isinstance(o, BaseException) and o[1].status == "completed"]
    lost = n * rounds - len([r for r in completed if r.run_id in stored])
    per_user = ms([o[0] for o in outcomes if not isinstance(o, BaseException)])
    raw_per_user = ms([o for o in raw_outcomes if not isinstance(o, BaseException)])
    raw_samples = Distribution.of(raw_per_user)
    samples = Distribution.of(per_user)
    about = (f"{n} users connect at once, each asks one calculator question ({rounds} "
             f"round{'s' if rounds > 1 else ''} of fresh users, the median round's wall "
             "time); percentiles: per-user time from the start to agent_completed, of the "
             "runs that completed")
    raw_name = f"{n} bare websockets clients at once, connect + one echoed frame"
    reasons = _why_lost(outcomes, stored)
    lost_about = (about + f"; lost of {n * rounds} runs: no agent_completed, or no reply in "
                  "the database" + (f" ({reasons})" if reasons else ""))
    return [
        Figure("golden_path.concurrent_200.wall_s", "s", percentile(walls, 0.5), samples, "ms",
               Baseline(raw_name, percentile(raw_walls, 0.5), raw_samples), about),
        Figure("golden_path.concurrent_200.p99_ms", "ms", samples.p99, samples, "ms",
               Baseline(raw_name + " (p99)", raw_samples.p99, raw_samples), about),
        Figure("golden_path.concurrent_200.lost", "runs", float(lost), samples, "ms", None,
               lost_about),
    ]


async def _concurrent_round(
    b: Bench, raw_server: RawServer, user_ids: list[str],
) -> tuple[list[Any], float, list[Any], float, set[str]]:
    tokens = [b.token(u) for u in user_ids]
    opened: list[WireUser] = []

    async def one(i: int, started: float) -> tuple[float, Any]:
        user = await WireUser.connect(b.stack.gateway_url, tokens[i], timeout=b.timeout)
        opened.append(user)
        result = await user.ask(QUESTION.format(a=i, b=2), timeout=b.timeout)
        return time.perf_counter() - started, result

    raw_opened: list[WireUser] = []

    async def raw_one(started: float) -> float:
        user = await WireUser.connect(raw_server.url, None, timeout=b.timeout)
        raw_opened.append(user)
        await user.echo(timeout=b.timeout)
        return time.perf_counter() - started

    try:
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(one(i, started) for i in range(len(user_ids))),
                                        return_exceptions=True)
        wall = time.perf_counter() - started
        started = time.perf_counter()
        raw_outcomes = await asyncio.gather(*(raw_one(started) for _ in user_ids),
                                            return_exceptions=True)
        raw_wall = time.perf_counter() - started
        await close_all(raw_opened)
        completed = [o[1].run_id for o in outcomes
                     if not isinstance(o, BaseException) and o[1].status == "completed"]
        stored = await _replies_stored(b, completed)
    finally:
        await b.settle(opened, user_ids)
    return list(outcomes), wall, list(raw_outcomes), raw_wall, stored


def _why_lost(outcomes: list[Any], stored: set[str]) -> str:
    """How the lost runs were lost, counted by kind, e.g. "100 x InvalidStatus: server
    rejected WebSocket connection: HTTP 500"."""
    kinds: Counter[str] = Counter()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            text = str(outcome).splitlines()[0] if str(outcome) else ""
            kinds[f"{type(outcome).__name__}: {text}"[:120]] += 1
        elif outcome[1].status != "completed":
            kinds[f"run ended {outcome[1].status}"] += 1
        elif outcome[1].run_id not in stored:
            kinds["no reply in the database"] += 1
    return "; ".join(f"{count} x {kind}" for kind, count in kinds.most_common())


async def _replies_stored(b: Bench, run_ids: list[str]) -> set[str]:
    if not run_ids:
        return set()
    async with b.raw.connect() as conn:
        rows = await conn.execute(select(MESSAGES.c.run_id).where(and_(
            MESSAGES.c.role == "assistant", MESSAGES.c.run_id.in_(run_ids))))
        return {row[0] for row in rows}


# store ----------------------------------------------------------------------------------

async def store_figures(b: Bench) -> list[Figure]:
    """Each store operation through the service's repositories, beside the same
    statements in raw SQLAlchemy Core on a plain engine."""
    return [
        await _thread_create(b),
        await _message_batch(b),
        await _result_store(b),
        await _history_read(b),
    ]


async def _thread_create(b: Bench) -> Figure:
    store, user_id = b.service.store, b.user("store")

    async def service(i: int) -> None:
        await store.write(
            lambda repos: repos.threads.create(user_id, new_id("st"), "a benchmark thread"))

    async def raw(i: int) -> None:
        stamp = now()
        async with b.raw.begin() as conn:
            await conn.execute(insert(THREADS).values(
                id=new_id("rt"), user_id=user_id, title="a benchmark thread", last_seq=0,
                created_at=stamp, updated_at=stamp))

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return _latency_figure("store.thread_create_p50", service_s, raw_s, 50,
                           f"raw Core insert into threads + commit, {b.raw_driver}", "create a thread")


async def _message_batch(b: Bench) -> Figure:
    store, user_id = b.service.store, b.user("batch")
    thread_id = new_id("st")

    async def batch(repos: Repositories) -> None:
        for j in range(10):
            await repos.messages.add(user_id, new_id("sm"), thread_id, "user",
                                     f"message {j}", run_id=None)

    async def service(i: int) -> None:
        await store.write(batch)

    async def raw(i: int) -> None:
        async with b.raw.begin() as conn:
            for j in range(10):
                await conn.execute(insert(MESSAGES).values(
                    id=new_id("rm"), thread_id=thread_id, user_id=user_id, role="user",
                    content=f"message {j}", client_message_id=None, run_id=None,
                    created_at=now()))

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return _latency_figure("store.message_batch10_p50", service_s, raw_s, 50,
                           f"raw Core: 10 inserts into messages, one commit, {b.raw_driver}",
                           "10 messages stored in one transaction")


async def _result_store(b: Bench) -> Figure:
    """The reply and the run's final status, in one transaction, as a run ends."""
    store, user_id = b.service.store, b.user("result")
    thread_id = new_id("st")
    count = b.plan.store_n + b.plan.warmup
    service_runs = [new_id("sr") for _ in range(count)]
    raw_runs = [new_id("rr") for _ in range(count)]

    async def create(repos: Repositories) -> None:
        for run_id in service_runs + raw_runs:
            await repos.runs.create(user_id, run_id, thread_id, new_id("sm"), ["data"],
                                    "bench")

    await store.write(create)

    async def service(i: int) -> None:
        run_id = service_runs[i]

        async def finish(repos: Repositories) -> None:
            await repos.messages.add(user_id, new_id("sm"), thread_id, "assistant",
                                     "2 + 3 = 5", run_id=run_id)
            await repos.runs.finish(user_id, run_id, status="completed", agents=["data"],
                                    result="2 + 3 = 5")

        await store.write(finish)

    async def raw(i: int) -> None:
        run_id = raw_runs[i]
        async with b.raw.begin() as conn:
            await conn.execute(insert(MESSAGES).values(
                id=new_id("rm"), thread_id=thread_id, user_id=user_id, role="assistant",
                content="2 + 3 = 5", client_message_id=None, run_id=run_id,
                created_at=now()))
            await conn.execute(update(EXECUTIONS).where(and_(
                EXECUTIONS.c.id == run_id, EXECUTIONS.c.user_id == user_id,
                EXECUTIONS.c.status == "running")).values(
                status="completed", agents=["data"], result="2 + 3 = 5", error_code=None,
                error_message=None, completed_at=now()))

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return _latency_figure("store.result_store_p50", service_s, raw_s, 50,
                           f"raw Core: insert reply + update run, one commit, {b.raw_driver}",
                           "a run's reply and final status stored in one transaction")


async def _history_read(b: Bench) -> Figure:
    store, user_id = b.service.store, b.user("history")
    thread_id = new_id("st")

    async def history(repos: Repositories) -> None:
        await repos.threads.create(user_id, thread_id, "history")
        for j in range(HISTORY_MESSAGES):
            await repos.messages.add(user_id, new_id("sm"), thread_id,
                                     "user" if j % 2 == 0 else "assistant", f"message {j}",
                                     run_id=None)

    await store.write(history)
    c = MESSAGES.c

    async def service(i: int) -> None:
        rows = await store.read(lambda repos: repos.messages.list_for_thread(user_id, thread_id))
        assert len(rows) == HISTORY_MESSAGES

    async def raw(i: int) -> None:
        async with b.raw.connect() as conn:
            rows = (await conn.execute(
                select(c.id, c.thread_id, c.user_id, c.role, c.content, c.client_message_id,
                       c.run_id)
                .where(and_(c.user_id == user_id, c.thread_id == thread_id))
                .order_by(c.created_at, c.id))).all()
        assert len(rows) == HISTORY_MESSAGES

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return _latency_figure("store.history_read_p50", service_s, raw_s, 50,
                           f"raw Core select of the thread's {HISTORY_MESSAGES} messages, {b.raw_driver}",
                           f"read a thread's history of {HISTORY_MESSAGES} messages")


# cache ----------------------------------------------------------------------------------

async def cache_figures(b: Bench) -> list[Figure]:
    """Result entries written and read through the service's cache layer, beside the
    raw redis-py client it wraps: sequential, and as one batch (a pipeline for the raw
    client; the layer's calls issued together for the service, as concurrent
    connections would issue them)."""
    cache = b.service.cache
    client = cache.redis
    user_id = b.user("cache")
    payload = json.dumps(RESULT_VALUE)
    pairs = b.plan.cache_round_ops // 2
    half = b.plan.cache_batch_ops // 2
    runs = [f"run-{j}" for j in range(pairs)]
    keys = [f"gp:{user_id}:result:raw-{j}" for j in range(pairs)]
    for run_id in runs:
        await cache.put_result(user_id, run_id, RESULT_VALUE)
    for key in keys:
        await client.set(key, payload, ex=86400)

    async def service_sequential(i: int) -> None:
        for run_id in runs:
            await cache.put_result(user_id, run_id, RESULT_VALUE)
            await cache.get_result(user_id, run_id)

    async def raw_sequential(i: int) -> None:
        for key in keys:
            await client.set(key, payload, ex=86400)
            await client.get(key)

    batched = hasattr(cache, "put_results") and hasattr(cache, "get_results")

    async def service_batch(i: int) -> None:
        if batched:
            await asyncio.gather(
                cache.put_results(user_id, {f"batch-{j}": RESULT_VALUE for j in range(half)}),
                cache.get_results(user_id, runs[:half]))
            return
        await asyncio.gather(
            *(cache.put_result(user_id, f"batch-{j}", RESULT_VALUE) for j in range(half)),
            *(cache.get_result(user_id, run_id) for run_id in runs[:half]))

    async def raw_batch(i: int) -> None:
        pipe = client.pipeline(transaction=False)
        for j in range(half):
            pipe.set(f"gp:{user_id}:result:raw-batch-{j}", payload, ex=86400)
        for key in keys[:half]:
            pipe.get(key)
        await pipe.execute()

    warm = max(1, b.plan.warmup // 3)
    seq_s, raw_seq_s = await paired(b.plan.cache_rounds, warm, service_sequential,
                                    raw_sequential)
    batch_s, raw_batch_s = await paired(b.plan.cache_rounds, warm, service_batch, raw_batch)
    return [
        _rate_figure("cache.set_get_ops_per_s", pairs * 2, seq_s, raw_seq_s,
                     "raw redis-py client, sequential set+get",
                     f"put_result then get_result, one after the other, rounds of "
                     f"{pairs * 2} ops"),
        _rate_figure("cache.batch_ops_per_s", half * 2, batch_s, raw_batch_s,
                     "raw redis-py client, one pipeline (transaction=False)",
                     (f"{half} results written and {half} read in one batch through the "
                      "layer's put_results and get_results, issued together" if batched else
                      f"{half} put_result and {half} get_result issued together (the layer "
                      "has no batch operation)") + f"; batches of {half * 2} ops"),
    ]


# idle connections -----------------------------------------------------------------------

async def idle_connections(b: Bench) -> list[Figure]:
    """RSS growth per idle authenticated connection of `python -m chat serve`, beside
    the same for a bare websockets server, each in its own process."""
    plan = b.plan
    real = b.config.backends != "embedded"
    settings = GatewaySettings(b.config.jwt_secret, b.config.jwt_issuer, b.config.jwt_audience,
                               b.config.database_url if real else None,
                               b.config.redis_url if real else None)
    total = plan.idle_connections + 20
    user_ids = [b.user(f"idle-{i}") for i in range(total)]
    tokens = [b.token(u) for u in user_ids]

    gateway = gateway_process(settings)
    await gateway.start()
    try:
        cost = await idle_cost(gateway, lambda i: tokens[i], plan.idle_connections,
                               plan.idle_step, b.timeout)
    finally:
        await gateway.stop()
    raw = raw_server(settings.environment())
    await raw.start()
    try:
        raw_cost = await idle_cost(raw, lambda i: None, plan.idle_connections,
                                   plan.idle_step, b.timeout)
    finally:
        await raw.stop()
    where = "its in-process cache included" if b.config.backends == "embedded" else (
        "cache and database in their own servers")
    return [Figure(
        "gateway.idle_conn_kib", "KiB", cost.kib_per_connection,
        Distribution.of(cost.step_kib_per_connection), "KiB per connection, per step",
        Baseline("bare websockets server, no auth, own process", raw_cost.kib_per_connection,
                 Distribution.of(raw_cost.step_kib_per_connection)),
        f"RSS growth of `python -m chat serve` ({where}) over {cost.connections} idle "
        f"authenticated connections opened {plan.idle_step} at a time, "
        f"{cost.rss_before_kib} -> {cost.rss_after_kib} KiB")]


# helpers --------------------------------------------------------------------------------

def _latency_figure(name: str, service_s: list[float], raw_s: list[float], q: int,
                    baseline: str, about: str) -> Figure:
    samples, raw_samples = Distribution.of(ms(service_s)), Distribution.of(ms(raw_s))
    value = samples.p50 if q == 50 else samples.p99
    raw_value = raw_samples.p50 if q == 50 else raw_samples.p99
    return Figure(name, "ms", value, samples, "ms",
                  Baseline(f"{baseline} (p{q})", raw_value, raw_samples), about)


def _rate_figure(name: str, ops: int, service_s: list[float], raw_s: list[float],
                 baseline: str, about: str) -> Figure:
    rates = [ops / s for s in service_s]
    raw_rates = [ops / s for s in raw_s]
    return Figure(name, "ops/s", ops * len(service_s) / sum(service_s),
                  Distribution.of(rates), "ops/s per round",
                  Baseline(baseline, ops * len(raw_s) / sum(raw_s), Distribution.of(raw_rates)),
                  about)
