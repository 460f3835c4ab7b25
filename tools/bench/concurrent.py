"""Many users at once: `concurrent_users` connect together, each completes one run, in
rounds of fresh users; the wall time of a round, the slowest users' time, and how many
runs were lost (no `agent_completed`, or no reply in the database).

The baseline is as many bare `websockets` clients connecting at once to a server with
no authentication in this process and exchanging one frame each: the same WebSocket
library on both sides, so the ratio is what authentication, a session and a run add.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

from sqlalchemy import and_, select

from support.probes import MESSAGES
from support.stats import percentile
from tools.bench.context import Bench
from tools.bench.figures import Baseline, Distribution, Figure
from tools.bench.golden_path import QUESTION, WEBSOCKETS_PATH
from tools.bench.timing import ms
from tools.bench.wire import RawServer, WireUser, close_all

__all__ = ["concurrent_users"]


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
               Baseline(raw_name, percentile(raw_walls, 0.5), raw_samples), about,
               WEBSOCKETS_PATH),
        Figure("golden_path.concurrent_200.p99_ms", "ms", samples.p99, samples, "ms",
               Baseline(raw_name + " (p99)", raw_samples.p99, raw_samples), about,
               WEBSOCKETS_PATH),
        Figure("golden_path.concurrent_200.lost", "runs", float(lost), samples, "ms", None,
               lost_about, "no baseline: a count"),
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
    query = select(MESSAGES.c.run_id).where(and_(
        MESSAGES.c.role == "assistant", MESSAGES.c.run_id.in_(run_ids)))

    async def read(conn: Any) -> set[str]:
        return {row[0] for row in await conn.execute(query)}

    return await b.db.read(read)
