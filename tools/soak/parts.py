"""The parts of the soak, each driving one fault from outside a gateway and writing what
it saw into the `Report`: a crowd, a client that never reads, a run followed from another
gateway, a gateway killed mid-run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from websockets.exceptions import ConnectionClosed

from support.actors.crowd import CrowdPlan, crowd
from support.actors.survival import Survival, check_crowd
from support.config import SuiteConfig
from support.probes import StorageProbe, eventually
from support.processes import ServerProcess
from support.tokens import mint
from support.wire.v1 import ChatClient

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


async def _open(url: str, token: str, timeout: float, *, reading: bool = True) -> ChatClient:
    client = await ChatClient.open(url, token, timeout=timeout, reading=reading)
    if isinstance(client, ChatClient):
        return client
    raise AssertionError(f"turned away: {client.describe()}")


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
    stalled = await _open(url, token, timeout, reading=False)
    connection_id = stalled.connection_id
    frame = json.dumps({"type": "resume", "thread_id": thread_id, "after_seq": 0})
    began = time.perf_counter()
    sent_frames = 0
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(timeout * 4):
            for _ in range(STALLED_FRAMES):
                await stalled.send_raw(frame)
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
    with contextlib.suppress(ConnectionClosed, TimeoutError, AssertionError):
        async with asyncio.timeout(timeout):
            while True:
                await stalled.read_one()
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


