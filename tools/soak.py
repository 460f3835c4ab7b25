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

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed

from support.client import ChatClient, Refusal
from support.config import ConfigError, SuiteConfig, redact
from support.faults import (
    CrowdPlan,
    FaultError,
    Survival,
    check_crowd,
    crowd,
    delete_users,
    gateway_settings,
    stalled_client,
)
from support.probes import StorageProbe, eventually
from support.processes import ServerProcess, gateway_process
from support.tokens import mint

QUICK_USERS = 30
QUICK_RUNS = 2
STALLED_FRAMES = 3_000
HISTORY_QUESTIONS = 3
LONG_QUESTION = "Wait for 30 seconds"


@dataclass
class Report:
    """Everything the soak found, part by part; `ok` when every part ended as it should."""

    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    runs: int = 0
    lost: int = 0
    duplicated: int = 0
    leaked: int = 0
    recovery_s: dict[str, float] = field(default_factory=dict)
    users: list[str] = field(default_factory=list)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(line, flush=True)

    def fail(self, what: str) -> None:
        self.failures.append(what)
        self.say(f"  FAILED: {what}")

    @property
    def ok(self) -> bool:
        return not (self.failures or self.lost or self.duplicated or self.leaked)

    def last_line(self) -> str:
        text = (f"survived: runs {self.runs}, lost {self.lost}, duplicated {self.duplicated}, "
                f"leaked {self.leaked}")
        if self.recovery_s:
            text += "; recovery after a kill " + ", ".join(
                f"{seconds:.1f} s ({how})" for how, seconds in self.recovery_s.items())
        if self.failures:
            text += f"; {len(self.failures)} fault(s) not survived"
        return text


# -- parts ------------------------------------------------------------------------------


async def crowd_part(urls: Sequence[str], config: SuiteConfig, database_url: str,
                     users: int, runs: int, report: Report) -> None:
    plan = CrowdPlan(users, runs, prefix=f"soak-{report.tag}", timeout=60.0)
    report.say(f"crowd: {users} users at once, {runs} questions each, over "
               f"{len(urls)} gateway(s)")
    result = await crowd(urls, config, plan)
    report.users += [m.user_id for m in result.members]
    survival = await check_crowd(result, database_url)
    for line in survival.lines():
        report.say(f"  {line}")
    _count(report, survival)


def _count(report: Report, survival: Survival) -> None:
    report.runs += survival.runs
    report.lost += survival.lost
    report.duplicated += survival.duplicated
    report.leaked += survival.leaked
    if survival.resumed_incomplete:
        report.fail(f"{survival.resumed_incomplete} resumed answer(s) incomplete")
    if survival.repeated_new_run:
        report.fail(f"{survival.repeated_new_run} message(s) sent twice were run twice")
    if survival.problems:
        report.fail(f"{len(survival.problems)} user(s) met a problem")


async def _open(url: str, token: str, timeout: float) -> ChatClient:
    client = await ChatClient.open(url, token, timeout=timeout)
    if isinstance(client, Refusal):
        raise FaultError(f"turned away: {client.describe()}")
    return client


async def slow_consumer_part(url: str, config: SuiteConfig, database_url: str,
                             report: Report, timeout: float) -> None:
    """A client that never reads follows a conversation and keeps asking for its whole
    history; the service must let it go, and answer everyone else as usual."""
    report.say("slow consumer: a client that never reads floods a gateway with requests")
    tag = report.tag
    owner, bystander = f"soak-{tag}-slow", f"soak-{tag}-bystander"
    report.users += [owner, bystander]
    token = str(mint(config, owner).token)
    normal = await _open(url, token, timeout)
    thread_id: str | None = None
    try:
        for _ in range(HISTORY_QUESTIONS):
            sent = await normal.send_message("How can I reduce the cost of my GPU usage?",
                                             thread_id=thread_id)
            thread_id = (await normal.run_of(sent, timeout=timeout)).thread_id
    finally:
        await normal.close()
    stalled = await stalled_client(url, token, timeout=timeout)
    greeting = json.loads(await asyncio.wait_for(stalled.recv(), timeout))
    connection_id = greeting.get("connection_id")
    frame = json.dumps({"type": "resume", "thread_id": thread_id, "after_seq": 0})
    began = time.perf_counter()
    sent_frames = 0
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(timeout * 4):
            for _ in range(STALLED_FRAMES):
                await stalled.send(frame)
                sent_frames += 1
    flooded_in = time.perf_counter() - began
    answered = time.perf_counter()
    other = await _open(url, str(mint(config, bystander).token), timeout)
    try:
        asked = await other.send_message("What is 20 + 22?")
        other_run = await other.run_of(asked, timeout=timeout)
    finally:
        await other.close()
    answered_in = time.perf_counter() - answered
    if other_run.response != "20 + 22 = 42":
        report.fail(f"the bystander got {other_run.response!r}")
    probe = StorageProbe(database_url)
    try:
        row = await eventually(lambda: probe.session_of_connection(str(connection_id)),
                               lambda r: r is not None and r.get("status") != "active",
                               what="the service to let the client that does not read go "
                               "(its session recorded as no longer active)",
                               timeout=timeout * 4)
        let_go_in = time.perf_counter() - began
        report.say(f"  {sent_frames} requests for a long history sent in {flooded_in:.1f} s "
                   f"without reading; the service let the connection go within "
                   f"{let_go_in:.1f} s (session recorded {row.get('status') if row else None})")
    except AssertionError as exc:
        report.fail(str(exc))
    finally:
        await probe.close()
    report.say(f"  meanwhile another user was answered in {answered_in * 1000:.0f} ms")
    received = 0
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(timeout):
            while True:
                await stalled.recv()
                received += 1
    with contextlib.suppress(Exception):
        await stalled.close()


async def scale_out_part(gateways: Sequence[ServerProcess], config: SuiteConfig,
                         report: Report, timeout: float) -> None:
    """A run started on one gateway and followed from its first event on another: the
    same events, the live ones through Redis."""
    first, second = gateways[0], gateways[1]
    user = f"soak-{report.tag}-scale"
    report.users.append(user)
    token = str(mint(config, user).token)
    asker = await _open(str(first.url), token, timeout)
    follower = await _open(str(second.url), token, timeout)
    try:
        sent = await asker.send_message("Wait for 1 seconds")
        started = await asker.first_event_of(sent)
        mark = await follower.resume(started.thread_id, 0)
        await follower.log.expect_event("agent_completed", run_id=started.run_id, start=mark,
                                        timeout=timeout, what="the run on the other gateway")
        run = await asker.run_of(sent, timeout=timeout)
        followed = follower.log.events(start=mark, run_id=started.run_id)
    finally:
        await asker.close()
        await follower.close()
    report.runs += 1
    same = [(e.seq, e.type, dict(e.payload)) for e in followed] == [
        (e.seq, e.type, dict(e.payload)) for e in run.events]
    report.say(f"scale out: a run on one gateway followed from another: "
               f"{'identical' if same else 'DIFFERENT'} events ({len(followed)})")
    if not same:
        report.fail("the other gateway's events differ from the asking gateway's")


async def kill_part(gateways: Sequence[ServerProcess], config: SuiteConfig,
                    report: Report, timeout: float) -> None:
    """SIGKILL a gateway mid-run: the run must end `failed` / `interrupted` for whoever
    follows it, found by another gateway and by a restart on the same port."""
    report.say("kill: a gateway killed outright (SIGKILL) in the middle of an answer")
    victim = gateways[0]
    witness = gateways[1] if len(gateways) > 1 else None
    if witness is not None:
        seconds = await _kill_once(victim, witness, config, report, timeout * 6,
                                   restart_first=False)
        if seconds is not None:
            report.recovery_s["found by another gateway"] = seconds
            report.say(f"  found by the other gateway: the run ended as interrupted "
                       f"{seconds:.1f} s after the kill")
        await victim.start()
    seconds = await _kill_once(victim, witness, config, report, timeout * 6,
                               restart_first=True)
    if seconds is not None:
        report.recovery_s["restart on the same port"] = seconds
        report.say(f"  restarted on the same port: the run ended as interrupted "
                   f"{seconds:.1f} s after the kill (start-up took "
                   f"{victim.started_in_s or 0:.1f} s)")


async def _kill_once(victim: ServerProcess, witness: ServerProcess | None,
                     config: SuiteConfig, report: Report, timeout: float, *,
                     restart_first: bool) -> float | None:
    user = f"soak-{report.tag}-kill-{uuid.uuid4().hex[:6]}"
    report.users.append(user)
    report.runs += 1
    token = str(mint(config, user).token)
    asker = await _open(str(victim.url), token, timeout)
    sent = await asker.send_message(LONG_QUESTION)
    started = await asker.first_event_of(sent)
    await asker.log.expect_event("tool_executing", run_id=started.run_id, timeout=timeout,
                                 what="the agents to start waiting")
    follower: ChatClient | None = None
    mark = 0
    if witness is not None:
        follower = await _open(str(witness.url), token, timeout)
        mark = await follower.resume(started.thread_id, 0)
        await follower.log.expect_event("tool_executing", run_id=started.run_id, start=mark,
                                        timeout=timeout, what="the follower to catch up")
    await victim.kill()
    killed_at = victim.killed_at or time.perf_counter()
    with contextlib.suppress(Exception):
        await asker.drop()
    try:
        if restart_first:
            await victim.start()
            if follower is None:
                follower = await _open(str(victim.url), token, timeout)
                mark = await follower.resume(started.thread_id, 0)
        assert follower is not None
        done = await follower.log.expect_event(
            "agent_completed", run_id=started.run_id, start=mark, timeout=timeout,
            what="the killed gateway's run to end for its follower")
        seconds = done_at(follower, started.run_id) - killed_at
    except AssertionError as exc:
        report.fail(str(exc))
        return None
    finally:
        if follower is not None:
            await follower.close()
    error = done.payload.get("error") or {}
    if done.payload.get("status") != "failed" or error.get("code") != "interrupted":
        report.fail(f"the killed run ended {dict(done.payload)}")
    return seconds


def done_at(client: ChatClient, run_id: str) -> float:
    """When the run's agent_completed arrived on this connection."""
    for received in client.log.received:
        if received.type == "agent_completed" and received.frame.get("run_id") == run_id:
            return received.at
    raise AssertionError(f"run {run_id} has not ended on this connection")


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
            settings = gateway_settings(config, database_url)
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
    except (AssertionError, FaultError) as exc:
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.soak",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--gateway-url", help="ws://HOST:PORT/ws of a running gateway "
                        "(default: start gateway processes of our own)")
    parser.add_argument("--database-url", help="the database the gateway uses")
    parser.add_argument("--redis-url", help="the Redis the gateway uses")
    parser.add_argument("--jwt-secret", help="the gateway's signing secret")
    parser.add_argument("--users", type=int, help="users at once (default 300)")
    parser.add_argument("--runs", type=int, help="questions per user (default 3)")
    parser.add_argument("--gateways", type=int, default=2,
                        help="gateway processes to start without --gateway-url (default 2)")
    parser.add_argument("--quick", action="store_true",
                        help=f"a bounded run for CI: {QUICK_USERS} users, {QUICK_RUNS} "
                        "questions each, unless --users/--runs say otherwise")
    parser.add_argument("--timeout", type=float, help="seconds to wait for one expected "
                        "event (default 5; the crowd allows more)")
    parser.add_argument("--keep", action="store_true", help="keep the soak's rows and keys")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    userdata: dict[str, Any] = {"backends": "real"}
    for key in ("gateway_url", "database_url", "redis_url", "jwt_secret", "timeout"):
        value = getattr(args, key)
        if value is not None:
            userdata[key] = str(value)
    try:
        config = SuiteConfig.load(userdata)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.gateways < 1:
        print("error: --gateways must be at least 1", file=sys.stderr)
        return 2
    users = args.users or (QUICK_USERS if args.quick else 300)
    runs = args.runs or (QUICK_RUNS if args.quick else 3)
    limit = raise_open_files_limit()
    if limit < users * 2 + 64:
        print(f"warning: {limit} open files allowed; {users} users may need more",
              file=sys.stderr)
    report = asyncio.run(soak(config, users=users, runs=runs, gateways=args.gateways,
                              keep=args.keep))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
