"""Crowds: many users at once, each getting their own answers, every message and reply
stored exactly once, nobody seeing anyone else's events; and a client that never reads,
which the service lets go while everyone else is served as usual.

The crowd of 300 users asking 3 questions each runs against two `python -m chat serve`
processes on PostgreSQL and Redis (GOLDEN_PATH_DATABASE_URL / GOLDEN_PATH_REDIS_URL, or
private ones started here; skipped with the reason when they cannot run, failed in CI).
A smaller crowd and the stalled client run in-process on the embedded backends.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
from conftest import real_services_unavailable

from chat.app import start_service
from chat.config import Settings
from chat.connection import MAX_OUTBOUND_ITEMS
from support.actors.crowd import CrowdPlan, crowd
from support.actors.survival import check_crowd, delete_users
from support.config import SuiteConfig
from support.probes import eventually
from support.processes import GatewaySettings, gateway_process
from support.tokens import mint
from support.wire.codec import Refusal
from support.wire.v1 import ChatClient
from tools.services import BackendsUnavailable, real_backends
from tools.soak import raise_open_files_limit

WAIT_S = 10.0
PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    try:
        with real_backends(tmp_path_factory.mktemp("services")) as urls:
            yield urls
    except BackendsUnavailable as exc:
        real_services_unavailable(exc)


@pytest.fixture
def config() -> SuiteConfig:
    return SuiteConfig(jwt_secret=secrets.token_urlsafe(48))


def test_300_users_3_questions_each_on_two_gateways(backends: tuple[str, str],
                                                    config: SuiteConfig) -> None:
    database_url, redis_url = backends
    assert raise_open_files_limit() >= 1024
    settings = GatewaySettings(config.jwt_secret, config.jwt_issuer, config.jwt_audience,
                               database_url, redis_url)
    gateways = [gateway_process(settings), gateway_process(settings)]
    plan = CrowdPlan(users=300, runs_each=3, prefix="crowd", timeout=60.0)

    async def scenario() -> list[str]:
        await asyncio.gather(*(g.start() for g in gateways))
        try:
            result = await crowd([str(g.url) for g in gateways], config, plan)
            survival = await check_crowd(result, database_url)
        finally:
            await asyncio.gather(*(g.stop() for g in gateways))
        await delete_users(database_url, [m.user_id for m in result.members])
        assert survival.runs == 900 and survival.completed == 900, survival.lines()
        assert (survival.lost, survival.duplicated, survival.leaked) == (0, 0, 0), (
            survival.lines())
        assert survival.resumed == 30 and survival.resumed_incomplete == 0
        assert survival.repeated == 60 and survival.repeated_new_run == 0
        assert survival.clean, survival.lines()
        return survival.lines()

    for line in asyncio.run(scenario()):
        print(line)
    for gateway in gateways:
        gateway.remove_log()


def test_a_crowd_in_process_on_the_embedded_backends(config: SuiteConfig) -> None:
    settings = Settings(jwt_secret=config.jwt_secret, jwt_issuer=config.jwt_issuer,
                        jwt_audience=config.jwt_audience)

    async def scenario() -> None:
        service = await start_service(settings,
                                      redis=fakeredis.FakeAsyncRedis(max_connections=2000))
        try:
            result = await crowd([service.url], config, CrowdPlan(20, 3, timeout=30.0))
            await service.runs.wait_idle()
            survival = await check_crowd(result, service.database_url)
        finally:
            await service.close()
        assert survival.completed == 60 and survival.clean, survival.lines()
        assert (survival.lost, survival.duplicated, survival.leaked) == (0, 0, 0)

    asyncio.run(scenario())


def test_a_client_that_never_reads_is_let_go_and_others_are_served(
    config: SuiteConfig, tmp_path: Path
) -> None:
    """Bob's app follows a long conversation and keeps asking for its history, but never
    reads: what waits for him never exceeds the bound, his connection is closed (1013 too
    slow, or dropped when even that cannot be sent), his session recorded disconnected,
    and Alice is answered as usual meanwhile."""
    settings = Settings(jwt_secret=config.jwt_secret, jwt_issuer=config.jwt_issuer,
                        jwt_audience=config.jwt_audience,
                        database_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}")

    async def scenario() -> None:
        service = await start_service(settings, redis=fakeredis.FakeAsyncRedis())
        try:
            bob_token = str(mint(config, "bob").token)
            bob = await ChatClient.open(service.url, bob_token, timeout=WAIT_S)
            assert not isinstance(bob, Refusal)
            thread: str | None = None
            for _ in range(3):
                sent = await bob.send_message("How can I reduce the cost of my GPU usage?",
                                              thread_id=thread)
                thread = (await bob.run_of(sent)).thread_id
            await bob.close()
            stalled = await ChatClient.open(service.url, bob_token, timeout=WAIT_S,
                                            reading=False)
            assert isinstance(stalled, ChatClient)
            session = next(s for s in service.gateway.sessions
                           if s.connection_id == stalled.connection_id)
            most = 0
            flood = json.dumps({"type": "resume", "thread_id": thread, "after_seq": 0})
            began = time.perf_counter()
            for _ in range(3000):
                await stalled.send_raw(flood)
                most = max(most, session.outbound.qsize())
                if session.too_slow:
                    break
            async with asyncio.timeout(WAIT_S):
                while not session.too_slow:
                    most = max(most, session.outbound.qsize())
                    await asyncio.sleep(0.01)
            assert most <= MAX_OUTBOUND_ITEMS
            alice = await ChatClient.open(service.url, mint(config, "alice").token,
                                          timeout=WAIT_S)
            assert not isinstance(alice, Refusal)
            asked = await alice.send_message("What is 6 * 7?")
            answered = time.perf_counter()
            run = await alice.run_of(asked)
            assert run.response == "6 * 7 = 42"
            assert time.perf_counter() - answered < 2.0
            async with asyncio.timeout(WAIT_S):
                while session in service.gateway.sessions:
                    await asyncio.sleep(0.05)
            let_go = time.perf_counter() - began

            async def status() -> str:
                async with service.store.engine.connect() as connection:
                    return (await connection.exec_driver_sql(
                        "SELECT status FROM user_sessions WHERE connection_id = ?",
                        (stalled.connection_id,))).scalar_one()

            # The session leaves the gateway's list before its record is written.
            await eventually(status, lambda found: found == "disconnected",
                             what="the let-go session to be recorded disconnected",
                             timeout=WAIT_S)
            assert service.runs.active_runs == 0
            await alice.close()
            print(f"a client that never reads was let go {let_go:.1f} s after it began; "
                  f"at most {most} items waited for it")
        finally:
            await service.close()

    asyncio.run(scenario())


def test_the_soak_says_what_it_needs_before_starting(tmp_path: Path) -> None:
    """Without the database it should check, the soak stops at once with exit 2 and says
    which setting is missing."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GOLDEN_PATH_")}
    outcome = subprocess.run(
        [sys.executable, "-m", "tools.soak", "--gateway-url", "ws://127.0.0.1:9/ws",
         "--quick"],
        capture_output=True, text=True, timeout=60, env=environment, cwd=PROJECT,
        check=False)
    assert outcome.returncode == 2, outcome
    assert "database_url" in outcome.stderr and "jwt_secret" in outcome.stderr
