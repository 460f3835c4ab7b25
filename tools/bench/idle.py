"""Memory per idle connection (`gateway.idle_conn_kib`), measured on a gateway in a
process of its own.

The resident set of the process that hosts the gateway is read from /proc/PID/status
(VmRSS) while connections are opened from this process, so the clients' memory is not
counted. The same steps run against `python -m tools.bench.rawserver`, a bare
`websockets` server with no authentication: that is the baseline.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from support.processes import GatewaySettings, ProcessFailed, ServerProcess, gateway_process
from tools.bench.context import Bench
from tools.bench.figures import Baseline, Distribution, Figure
from tools.bench.wire import WireUser

__all__ = ["idle_connections"]

RAW_READY = "raw websockets server listening on "
WARM_CONNECTIONS = 20


def rss_kib(pid: int) -> int:
    """The resident set size of process `pid` in KiB (VmRSS of /proc/PID/status)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise ProcessFailed(f"process {pid} reports no VmRSS")


@dataclass(frozen=True)
class IdleCost:
    """RSS growth per connection: overall, and per step of connections opened together."""

    kib_per_connection: float
    step_kib_per_connection: list[float]
    connections: int
    rss_before_kib: int
    rss_after_kib: int


async def idle_cost(server: ServerProcess, tokens: Callable[[int], str | None], count: int,
                    step: int, timeout: float) -> IdleCost:
    """Open `count` connections (after a few warm-up ones) in steps of `step` opened at
    once, reading the server's RSS before and after each step; the connections stay
    idle and are dropped at the end."""
    users: list[WireUser] = []
    try:
        for i in range(WARM_CONNECTIONS):
            users.append(await WireUser.connect(str(server.url), tokens(-1 - i), timeout=timeout))
        server.alive()
        before = previous = rss_kib(int(server.pid))
        per_step: list[float] = []
        opened = 0
        while opened < count:
            size = min(step, count - opened)
            batch = await asyncio.gather(*(
                WireUser.connect(str(server.url), tokens(opened + i), timeout=timeout)
                for i in range(size)))
            users.extend(batch)
            opened += size
            server.alive()
            now = rss_kib(int(server.pid))
            per_step.append((now - previous) / size)
            previous = now
        return IdleCost((previous - before) / count, per_step, count, before, previous)
    finally:
        for user in users:
            user.abort()


def raw_server(env: Mapping[str, str]) -> ServerProcess:
    """`python -m tools.bench.rawserver` on 127.0.0.1, not started yet."""

    def command(port: int) -> list[str]:
        return [sys.executable, "-m", "tools.bench.rawserver", "--host", "127.0.0.1",
                "--port", str(port)]

    return ServerProcess(command, env, RAW_READY, name="raw-server")


async def idle_connections(b: Bench) -> list[Figure]:
    """RSS growth per idle authenticated connection of `python -m chat serve`, beside
    the same for a bare websockets server, each in its own process."""
    plan = b.plan
    real = b.config.backends != "embedded"
    settings = GatewaySettings(b.config.jwt_secret, b.config.jwt_issuer, b.config.jwt_audience,
                               b.config.database_url if real else None,
                               b.config.redis_url if real else None)
    total = plan.idle_connections + WARM_CONNECTIONS
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
    where = "its in-process cache included" if not real else (
        "cache and database in their own servers")
    return [Figure(
        "gateway.idle_conn_kib", "KiB", cost.kib_per_connection,
        Distribution.of(cost.step_kib_per_connection), "KiB per connection, per step",
        Baseline("bare websockets server, no auth, own process", raw_cost.kib_per_connection,
                 Distribution.of(raw_cost.step_kib_per_connection)),
        f"RSS growth of `python -m chat serve` ({where}) over {cost.connections} idle "
        f"authenticated connections opened {plan.idle_step} at a time, "
        f"{cost.rss_before_kib} -> {cost.rss_after_kib} KiB",
        "websockets server in a process of its own, both sides")]
