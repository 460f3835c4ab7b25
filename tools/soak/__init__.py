"""`python -m tools.soak`: a crowd and the faults that can be driven from outside a
gateway, then what survived.

    python -m tools.soak --gateway-url ws://HOST:PORT/ws --database-url URL --redis-url URL
        [--jwt-secret S] [--users 300] [--runs 3] [--quick] [--keep]
    python -m tools.soak --database-url URL --redis-url URL [--gateways 2] [...]

With `--gateway-url` it soaks a gateway someone else runs (any backend that claims the
wire contract): the crowd (everyone at once, some losing their connection mid-answer and
resuming, some sending a message twice) and a client that stops reading. The database
and Redis URLs are the ones that gateway uses; the soak reads storage to count what
survived, and signs its users in with the same secret (`GOLDEN_PATH_JWT_SECRET`).
Without `--gateway-url` it starts its own gateways (`python -m chat serve`, `--gateways`
processes on the given database and Redis) and adds what needs the processes in hand:
the crowd spread over them (a dropped user comes back on the other one), a run resumed
on another gateway, and SIGKILL mid-run, with the time until the run is recorded failed
and its followers see it end: by the other gateway, and by a restart on the same port.

It prints one block per part and a last line `survived: runs N, lost N, duplicated N,
leaked N, ...`; the exit status is 0 only when nothing was lost, duplicated or leaked
and every fault ended as it should. The settings may also come from the `GOLDEN_PATH_*`
variables (DESIGN §4). Its users (`soak-<tag>-<n>`) are removed afterwards unless
`--keep`.
"""

from __future__ import annotations

import contextlib
import resource
import time

from support.actors.survival import delete_users
from support.config import SuiteConfig, redact
from support.processes import GatewaySettings, ServerProcess, gateway_process
from tools.soak.parts import (
    QUICK_RUNS,
    QUICK_USERS,
    Report,
    crowd_part,
    kill_part,
    scale_out_part,
    slow_consumer_part,
)

__all__ = ["QUICK_RUNS", "QUICK_USERS", "raise_open_files_limit", "soak"]


# -- the whole soak ---------------------------------------------------------------------


async def soak(config: SuiteConfig, *, users: int, runs: int, gateways: int,
               keep: bool) -> Report:
    report = Report()
    database_url = str(config.database_url)
    started: list[ServerProcess] = []
    try:
        if config.gateway_url:
            urls = [config.gateway_url]
            report.say(f"soak: gateway {config.gateway_url}, database {redact(database_url)}, "
                       f"Redis {redact(str(config.redis_url))}")
        else:
            settings = GatewaySettings(config.jwt_secret, config.jwt_issuer,
                                       config.jwt_audience, database_url, config.redis_url)
            for _ in range(gateways):
                process = gateway_process(settings)
                started.append(process)
                await process.start()
            urls = [str(p.url) for p in started]
            report.say(f"soak: {gateways} gateway process(es) of its own at "
                       f"{', '.join(urls)}, database {redact(database_url)}, "
                       f"Redis {redact(str(config.redis_url))}")
        began = time.perf_counter()
        await crowd_part(urls, config, database_url, users, runs, report)
        await slow_consumer_part(urls[0], config, database_url, report, config.timeout * 3)
        if len(started) > 1:
            await scale_out_part(started, config, report, config.timeout * 3)
        if started:
            await kill_part(started, config, report, config.timeout * 3)
        report.say(f"took {time.perf_counter() - began:.1f} s")
    except AssertionError as exc:
        report.fail(str(exc))
    finally:
        for process in started:
            await process.stop()
            if report.ok:
                process.remove_log()
            else:
                report.say(f"  gateway log: {process.log_path}")
        if not keep and report.users:
            began = time.perf_counter()
            await _clean_up(config, report)
            report.say(f"removed the soak's users in {time.perf_counter() - began:.1f} s")
    report.say(report.last_line())
    return report


async def _clean_up(config: SuiteConfig, report: Report) -> None:
    """Remove the soak's rows and keys (every user id starts with `soak-<tag>-`)."""
    await delete_users(str(config.database_url), report.users)
    if not config.redis_url:
        return
    import redis.asyncio

    client = redis.asyncio.from_url(config.redis_url)
    try:
        doomed = [key async for key in client.scan_iter(match=f"gp:soak-{report.tag}-*",
                                                         count=1000)]
        for start in range(0, len(doomed), 500):
            await client.delete(*doomed[start:start + 500])
    finally:
        await client.aclose()


def raise_open_files_limit() -> int:
    """Raise this process's open-file limit to the hard limit (a crowd needs a socket
    per user); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


