"""The golden path over the wire, one user and fifty: connect and authenticate, one
run's latency, runs per second.

The connect figure's baseline is a bare `websockets` server in this process, so both
sides use the same WebSocket library and client. The run figures' baseline is the
smallest durable write, one raw insert+commit, on the service's own driver path
(`tools.bench.rawdb`): a run stores the user's message, the run and the reply that way.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import select

from support.probes import SESSIONS, eventually
from tools.bench.context import Bench
from tools.bench.figures import Baseline, Distribution, Figure
from tools.bench.store import raw_thread_create
from tools.bench.timing import latency_figure, ms, paired
from tools.bench.wire import RawServer, WireError, WireUser, close_all

__all__ = ["QUESTION", "WEBSOCKETS_PATH", "connect_auth", "run_latency", "runs_per_second"]

QUESTION = "What is {a} + {b}?"
WEBSOCKETS_PATH = "websockets client and server in this process, both sides"


def _run_path(b: Bench) -> str:
    return (f"{b.db.path}, both sides (the service's run also crosses the WebSocket and "
            "the cache)")


async def _session_rows(b: Bench, connection_id: str) -> list[Any]:
    query = select(SESSIONS.c.id).where(SESSIONS.c.connection_id == connection_id)

    async def read(conn: Any) -> list[Any]:
        return list(await conn.execute(query))

    return await b.db.read(read)


def _check_completed(result: Any) -> None:
    if result.status != "completed":
        raise WireError(f"a run ended {result.status!r}: {result.response!r}")


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
    return [latency_figure(
        "gateway.connect_auth_p50", service_s, raw_s, 50,
        "raw websockets connect to a server with no auth, first frame received",
        "connect, authenticate (JWT in the header), connection_established received",
        WEBSOCKETS_PATH)]


async def run_latency(b: Bench) -> list[Figure]:
    """One user, calculator questions, message sent to `agent_completed` received; beside
    one raw SQLAlchemy Core insert+commit on the same database."""
    plan = b.plan
    user_id = b.user("solo")
    user = await b.connect(user_id)

    async def service(i: int) -> None:
        _check_completed(await user.ask(QUESTION.format(a=i, b=i + 1), timeout=b.timeout))

    async def raw(i: int) -> None:
        await raw_thread_create(b.db, user_id)

    try:
        service_s, raw_s = await paired(plan.latency_n, plan.warmup, service, raw,
                                        quiet=b.service.runs.wait_idle)
    finally:
        await b.settle([user], [user_id])
    baseline = "raw SQLAlchemy Core insert+commit, same database"
    about = "one user, calculator question sent until agent_completed received"
    return [latency_figure("golden_path.run_latency_p50", service_s, raw_s, 50, baseline,
                           about, _run_path(b)),
            latency_figure("golden_path.run_latency_p99", service_s, raw_s, 99, baseline,
                           about, _run_path(b))]


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
            started = time.perf_counter()
            await raw_thread_create(b.db, user_ids[k])
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
        Baseline(f"raw insert+commit per s, {plan.throughput_users} concurrent writers",
                 total / raw_wall, Distribution.of(ms(raw_latencies))),
        f"{plan.throughput_users} users at once, {plan.throughput_runs_each} calculator "
        "questions each, one after the other; percentiles: per-run latency", _run_path(b))]
