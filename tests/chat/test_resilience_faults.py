"""What the chat service survives: a gateway killed outright, Redis or the database going
away mid-run, clients that drop, and several gateways sharing one database and Redis.

The faults are real: `python -m chat serve` processes killed with SIGKILL, a private
redis-server stopped and started again, the database behind a relay whose connections are
cut. Tests that need PostgreSQL and Redis use GOLDEN_PATH_DATABASE_URL and
GOLDEN_PATH_REDIS_URL when they name running servers, or start private ones
(`tools.services`); without the binaries they are skipped with the reason, except in CI
(CI=true), where that is a failure. Clients speak only the wire contract (support.wire.v1).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fakeredis
import pytest
import redis.asyncio
from conftest import real_services_unavailable
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import connect as connect_raw
from websockets.exceptions import ConnectionClosed

from chat.app import ChatService, start_service
from chat.cache import GATEWAY_TTL_S
from chat.config import Settings
from chat.redis_hub import RedisEventHub, channel_name
from chat.runs import HEARTBEAT_INTERVAL_S, MISSING_GRACE_S
from support.config import SuiteConfig
from support.probes import eventually
from support.processes import GatewaySettings, free_port, gateway_process
from support.relay import TcpRelay, through
from support.tokens import mint
from support.wire.codec import Event, Refusal
from support.wire.v1 import ChatClient
from tools.services import (
    BackendsUnavailable,
    RedisServer,
    RedisState,
    find_redis_server,
    real_backends,
)

WAIT_S = 10.0
# A killed gateway is found by another within its heartbeat's life, the grace and a tick.
FOUND_BY_ANOTHER_S = GATEWAY_TTL_S + MISSING_GRACE_S + 2 * HEARTBEAT_INTERVAL_S + 3
FOUND_AT_RESTART_S = 8.0


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    try:
        with real_backends(tmp_path_factory.mktemp("services")) as urls:
            yield urls
    except BackendsUnavailable as exc:
        real_services_unavailable(str(exc))


@pytest.fixture
def config() -> SuiteConfig:
    return SuiteConfig(jwt_secret=secrets.token_urlsafe(48))


def settings_of(config: SuiteConfig, database_url: str | None,
                redis_url: str | None = None) -> Settings:
    return Settings(database_url=database_url, redis_url=redis_url,
                    jwt_secret=config.jwt_secret, jwt_issuer=config.jwt_issuer,
                    jwt_audience=config.jwt_audience)


def gateway_settings(config: SuiteConfig, database_url: str,
                     redis_url: str) -> GatewaySettings:
    return GatewaySettings(config.jwt_secret, config.jwt_issuer, config.jwt_audience,
                           database_url, redis_url)


def user() -> str:
    return f"res-{uuid.uuid4().hex[:12]}"


async def connect(url: str, config: SuiteConfig, user_id: str) -> ChatClient:
    client = await ChatClient.open(url, mint(config, user_id).token, timeout=WAIT_S)
    assert not isinstance(client, Refusal), client
    return client


def shape(events: list[Event]) -> list[tuple[int, str, dict[str, Any]]]:
    return [(e.seq, e.type, dict(e.payload)) for e in events]


async def rows(database_url: str, sql: str, **params: Any) -> list[dict[str, Any]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(sql), params)
            return [dict(row._mapping) for row in result]
    finally:
        await engine.dispose()


async def run_record(database_url: str, run_id: str) -> dict[str, Any]:
    found = await rows(database_url, "SELECT status, error_code, gateway_id FROM "
                       "agent_executions WHERE id = :r", r=run_id)
    assert found, f"run {run_id} is not recorded"
    return found[0]


async def session_status(database_url: str, client: ChatClient) -> str:
    found = await rows(database_url, "SELECT status FROM user_sessions WHERE "
                       "connection_id = :c", c=client.connection_id)
    assert found, f"no session recorded for connection {client.connection_id}"
    return str(found[0]["status"])


# -- live fan-out ---------------------------------------------------------------------------


def test_hub_delivers_in_order_fills_a_gap_from_storage_and_drops_repeats() -> None:
    """A batch published elsewhere that never arrived (Redis away) is filled from
    storage when a later one shows the gap; a repeated event is not delivered twice."""
    stored = [{"type": "agent_thinking", "run_id": "r", "thread_id": "t", "seq": n,
               "payload": {"n": n}} for n in range(1, 6)]

    async def backfill(user_id: str, thread_id: str, after: int) -> list[dict[str, Any]]:
        assert (user_id, thread_id) == ("u", "t")
        return [e for e in stored if e["seq"] > after]

    async def scenario() -> None:
        server = fakeredis.FakeServer()
        here = RedisEventHub(fakeredis.FakeAsyncRedis(server=server), backfill)
        elsewhere = fakeredis.FakeAsyncRedis(server=server)
        got: list[int] = []
        arrived = asyncio.Event()

        def listener(event: dict[str, Any]) -> None:
            got.append(event["seq"])
            if event["seq"] == 5:
                arrived.set()

        await here.start()
        try:
            here.subscribe("u", "t", listener)
            await here.ready()
            channel = channel_name("u", "t")
            for batch in ([stored[0]], [stored[0], stored[1]], [stored[4]]):
                await elsewhere.publish(channel, json.dumps({"o": "other", "e": batch}))
            await asyncio.wait_for(arrived.wait(), WAIT_S)
            assert got == [1, 2, 3, 4, 5]
            assert here.backfilled == 2
        finally:
            await here.close()

    asyncio.run(scenario())


def test_a_run_is_followed_live_from_another_gateway_in_process(tmp_path: Path,
                                                                config: SuiteConfig) -> None:
    """Two gateways on one database and one (fake) Redis: a client of the second resumes
    a run of the first as it starts and gets the same events, the live ones included."""
    settings = settings_of(config, f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}")
    shared = fakeredis.FakeServer()
    alice = user()

    async def scenario() -> None:
        first = await start_service(settings, redis=fakeredis.FakeAsyncRedis(server=shared))
        second = await start_service(settings, redis=fakeredis.FakeAsyncRedis(server=shared))
        try:
            asker = await connect(first.url, config, alice)
            follower = await connect(second.url, config, alice)
            sent = await asker.send_message("Wait for 0.5 seconds")
            started = await asker.first_event_of(sent)
            mark = await follower.resume(started.thread_id, 0)
            run = await asker.run_of(sent)
            await follower.log.expect_event("agent_completed", run_id=run.run_id, start=mark,
                                            timeout=WAIT_S)
            followed = follower.log.events(start=mark)
            assert shape(followed) == shape(run.events)
            assert [e.seq for e in followed] == list(range(1, 7))
            await asker.close()
            await follower.close()
        finally:
            await second.close()
            await first.close()

    asyncio.run(scenario())


def test_a_run_failed_elsewhere_gets_no_event_after_its_ending(config: SuiteConfig) -> None:
    """When another gateway has failed a run (it took this one for dead), the events
    this gateway still produces for it are not stored: the tool call it left open is
    closed, one ending follows, and nothing after."""

    async def scenario() -> None:
        service = await start_service(settings_of(config, None),
                                      redis=fakeredis.FakeAsyncRedis())
        try:
            submission = await service.runs.submit("alice", "Wait for 0.5 seconds")
            await eventually(lambda: service.runs.run_events("alice", submission.run_id),
                             lambda events: len(events) >= 4, timeout=WAIT_S,
                             what="the run's first events to be stored")
            failed = await service.runs.fail_run("alice", submission.thread_id,
                                                 submission.run_id, "interrupted",
                                                 "the gateway running this run stopped")
            assert failed
            await service.runs.wait_idle()
            events = await service.runs.run_events("alice", submission.run_id)
            types = [e["type"] for e in events]
            assert types == ["agent_started", "agent_thinking", "agent_thinking",
                             "tool_executing", "tool_completed", "agent_completed"]
            assert events[-2]["payload"]["status"] == "error"
            assert events[-2]["payload"]["call_id"] == events[-3]["payload"]["call_id"]
            assert events[-1]["payload"]["status"] == "failed"
            assert events[-1]["payload"]["error"]["code"] == "interrupted"
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        finally:
            await service.close()

    asyncio.run(scenario())


# -- a gateway killed outright -------------------------------------------------------------


def test_a_gateway_killed_mid_run_fails_the_run_when_it_starts_again(
    backends: tuple[str, str], config: SuiteConfig
) -> None:
    """SIGKILL leaves the run `running`; the gateway started again on the same port (the
    same gateway id) fails it at start-up (and records the session it held as
    disconnected), and a resuming client sees it end."""
    database_url, redis_url = backends
    gateway = gateway_process(gateway_settings(config, database_url, redis_url))
    alice = user()

    async def scenario() -> float:
        url = await gateway.start()
        try:
            client = await connect(url, config, alice)
            sent = await client.send_message("Wait for 30 seconds")
            started = await client.first_event_of(sent)
            await client.log.expect_event("tool_executing", run_id=started.run_id,
                                          timeout=WAIT_S)
            await gateway.kill()
            killed = time.perf_counter()
            await client.log.wait_closed(timeout=WAIT_S)
            record = await run_record(database_url, started.run_id)
            assert record["status"] == "running", record
            assert await gateway.start() == url
            record = await run_record(database_url, started.run_id)
            recovered = time.perf_counter() - killed
            assert (record["status"], record["error_code"]) == ("failed", "interrupted")
            assert await session_status(database_url, client) == "disconnected"
            again = await connect(url, config, alice)
            mark = await again.resume(started.thread_id, 0)
            done = await again.log.expect_event("agent_completed", run_id=started.run_id,
                                                start=mark, timeout=WAIT_S)
            assert done.payload["status"] == "failed"
            assert done.payload["error"]["code"] == "interrupted"
            seen = again.log.events(start=mark)
            assert [e.seq for e in seen] == list(range(1, len(seen) + 1))
            assert [e.type for e in seen] == ["agent_started", "agent_thinking",
                                              "agent_thinking", "tool_executing",
                                              "tool_completed", "agent_completed"]
            await again.close()
            return recovered
        finally:
            await gateway.stop()

    recovered = asyncio.run(scenario())
    print(f"recovery after SIGKILL, restart on the same port: {recovered:.2f} s")
    assert recovered < FOUND_AT_RESTART_S
    gateway.remove_log()


def test_a_gateway_killed_mid_run_is_found_by_another_gateway(
    backends: tuple[str, str], config: SuiteConfig
) -> None:
    """With a second gateway alive, the killed one's run is failed by that one within
    seconds, without any restart, and a client following it there sees it end."""
    database_url, redis_url = backends
    settings = gateway_settings(config, database_url, redis_url)
    victim, witness = gateway_process(settings), gateway_process(settings)
    alice = user()

    async def scenario() -> float:
        await asyncio.gather(victim.start(), witness.start())
        try:
            asker = await connect(str(victim.url), config, alice)
            follower = await connect(str(witness.url), config, alice)
            sent = await asker.send_message("Wait for 30 seconds")
            started = await asker.first_event_of(sent)
            mark = await follower.resume(started.thread_id, 0)
            await follower.log.expect_event("tool_executing", run_id=started.run_id,
                                            start=mark, timeout=WAIT_S)
            await victim.kill()
            killed = time.perf_counter()
            done = await follower.log.expect_event(
                "agent_completed", run_id=started.run_id, start=mark,
                timeout=FOUND_BY_ANOTHER_S + WAIT_S)
            recovered = time.perf_counter() - killed
            assert done.payload["error"]["code"] == "interrupted"
            record = await run_record(database_url, started.run_id)
            assert (record["status"], record["error_code"]) == ("failed", "interrupted")
            assert await session_status(database_url, asker) == "disconnected"
            await follower.close()
            return recovered
        finally:
            await asyncio.gather(victim.stop(), witness.stop())

    recovered = asyncio.run(scenario())
    print(f"recovery after SIGKILL, found by another gateway: {recovered:.2f} s")
    assert GATEWAY_TTL_S - 1 < recovered < FOUND_BY_ANOTHER_S
    victim.remove_log()
    witness.remove_log()


# -- scale out --------------------------------------------------------------------------------


def test_two_gateway_processes_share_runs_live_and_number_events_without_gaps(
    backends: tuple[str, str], config: SuiteConfig
) -> None:
    """Two gateway processes on one PostgreSQL and one Redis: a run started on one is
    followed live on the other with identical events; both write into one conversation
    at once and its events stay numbered one after another, none twice; a client that
    drops mid-run finds the whole run on the other gateway."""
    database_url, redis_url = backends
    settings = gateway_settings(config, database_url, redis_url)
    gateways = [gateway_process(settings), gateway_process(settings)]
    alice = user()

    async def scenario() -> None:
        await asyncio.gather(*(g.start() for g in gateways))
        try:
            first = await connect(str(gateways[0].url), config, alice)
            second = await connect(str(gateways[1].url), config, alice)
            sent = await first.send_message("Wait for 0.5 seconds")
            started = await first.first_event_of(sent)
            mark = await second.resume(started.thread_id, 0)
            run = await first.run_of(sent)
            await second.log.expect_event("agent_completed", run_id=run.run_id, start=mark,
                                          timeout=WAIT_S)
            assert shape(second.log.events(start=mark)) == shape(run.events)

            thread = started.thread_id

            async def ask_many(client: ChatClient, count: int) -> None:
                for n in range(count):
                    asked = await client.send_message(f"What is {n} + 1?", thread_id=thread)
                    seen = await client.run_of(asked)
                    assert seen.response == f"{n} + 1 = {n + 1}"

            writers = [await connect(str(g.url), config, alice) for g in gateways]
            await asyncio.gather(*(ask_many(w, 8) for w in writers))
            stored = await rows(database_url, "SELECT seq, run_id, type FROM run_events "
                                "WHERE thread_id = :t ORDER BY seq", t=thread)
            assert [r["seq"] for r in stored] == list(range(1, len(stored) + 1))
            endings: dict[str, int] = {}
            for row in stored:
                if row["type"] == "agent_completed":
                    endings[row["run_id"]] = endings.get(row["run_id"], 0) + 1
            assert len(endings) == 17 and set(endings.values()) == {1}
            assert len(stored) == 17 * 6

            asked = await first.send_message("Wait for 0.5 seconds", thread_id=thread)
            begun = await first.first_event_of(asked)
            await first.drop()
            back = await connect(str(gateways[1].url), config, alice)
            mark = await back.resume(thread, begun.seq - 1)
            await back.log.expect_event("agent_completed", run_id=begun.run_id, start=mark,
                                        timeout=WAIT_S)
            whole = back.log.events(start=mark, run_id=begun.run_id)
            assert whole[0].type == "agent_started"
            assert [e.seq for e in whole] == list(range(begun.seq, begun.seq + 6))
            assert whole[-1].payload == {"status": "completed", "response": "Waited 0.5 seconds"}
            for client in (second, back, *writers):
                await client.close()
        finally:
            await asyncio.gather(*(g.stop() for g in gateways))

    asyncio.run(scenario())
    for gateway in gateways:
        gateway.remove_log()


# -- Redis away ------------------------------------------------------------------------------


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    try:
        binary = find_redis_server()
    except Exception as exc:  # noqa: BLE001 - MissingBinaryError: skip or fail
        real_services_unavailable(str(exc))
    server = RedisServer(RedisState(str(tmp_path / "redis"), free_port(),
                                    secrets.token_hex(16)), binary, 30.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_redis_going_away_mid_run_then_coming_back(private_redis: RedisServer,
                                                   tmp_path: Path,
                                                   config: SuiteConfig) -> None:
    """Redis stops during a run: the run completes and is recorded, and so does the next
    one; when Redis is back, what the cache missed is written, the heartbeat and live
    fan-out resume, and new clients connect and are answered as usual."""
    settings = settings_of(config, f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}",
                           private_redis.url)
    alice = user()

    async def scenario() -> None:
        service = await start_service(settings)
        try:
            client = await connect(service.url, config, alice)
            sent = await client.send_message("Wait for 0.5 seconds")
            started = await client.first_event_of(sent)
            await asyncio.to_thread(private_redis.stop)
            run = await client.run_of(sent)
            assert run.response == "Waited 0.5 seconds"
            asked = await client.send_message("What is 6 * 7?", thread_id=run.thread_id)
            second = await client.run_of(asked)
            assert second.response == "6 * 7 = 42"
            recorded = await rows(service.database_url, "SELECT status FROM agent_executions "
                                  "WHERE user_id = :u ORDER BY started_at", u=alice)
            assert [r["status"] for r in recorded] == ["completed", "completed"]
            assert len(service.runs.cache_repairs) >= 2
            await asyncio.to_thread(private_redis.start)
            probe = redis.asyncio.from_url(private_redis.url)

            async def cached() -> list[Any]:
                return [await probe.get(f"gp:{alice}:result:{r}")
                        for r in (started.run_id, second.run_id)]

            await eventually(cached, lambda values: all(values), timeout=WAIT_S,
                             what="the missed results to be cached once Redis is back")
            await eventually(lambda: probe.exists(f"gp:gateway:{service.runs.gateway_id}"),
                             bool, timeout=WAIT_S, what="the heartbeat to be written again")
            await eventually(_connected(service), bool, timeout=WAIT_S,
                             what="live fan-out to reconnect")
            other = await connect(service.url, config, alice)
            mark = await other.resume(run.thread_id, 0)
            asked = await client.send_message("What is 1 + 2?", thread_id=run.thread_id)
            third = await client.run_of(asked)
            await other.log.expect_event("agent_completed", run_id=third.run_id, start=mark,
                                         timeout=WAIT_S)
            assert await probe.get(f"gp:{alice}:result:{third.run_id}")
            await client.close()
            await other.close()
            await probe.aclose()
        finally:
            await service.close()

    asyncio.run(scenario())


def _connected(service: ChatService) -> Any:
    async def read() -> bool:
        return bool(service.hub is not None and service.hub.connected)

    return read


# -- the database away -----------------------------------------------------------------------


def test_database_going_away_gives_a_clear_error_and_writes_nothing_half(
    backends: tuple[str, str], config: SuiteConfig
) -> None:
    """The database's connections are cut: a question is answered with `unavailable` and
    nothing of it is stored; a new connection is told the same and closed with 1013; a
    run caught in the middle is reported failed to its client and, once the database is
    back, recorded failed with its closing event. Then everything works again."""
    database_url, redis_url = backends
    target = urlsplit(database_url)
    relay = TcpRelay(str(target.hostname), int(target.port or 5432))
    alice = user()

    async def scenario() -> None:
        await relay.start()
        settings = settings_of(config, through(database_url, relay.port), redis_url)
        service = await start_service(settings)
        try:
            client = await connect(service.url, config, alice)
            sent = await client.send_message("Wait for 1 seconds")
            started = await client.first_event_of(sent)
            await client.log.expect_event("tool_executing", run_id=started.run_id,
                                          timeout=WAIT_S)
            relay.cut()
            await client.log.expect_error("run_failed", start=sent.mark, timeout=WAIT_S)
            asked = await client.send_message("What is 2 + 2?", message_id="m-while-away")
            error = await client.log.expect_error(start=asked.mark, timeout=WAIT_S)
            assert error.code == "unavailable" and "nothing was saved" in error.message
            assert client.is_open
            assert await _turned_back(service.url, str(mint(config, alice).token)) == (
                "unavailable", 1013)
            stored = await rows(database_url, "SELECT id FROM messages WHERE user_id = :u "
                                "AND content = 'What is 2 + 2?'", u=alice)
            assert stored == []
            relay.restore()
            record = await eventually(lambda: run_record(database_url, started.run_id),
                                      lambda r: r["status"] != "running", timeout=WAIT_S,
                                      what="the interrupted run to be recorded failed")
            assert (record["status"], record["error_code"]) == ("failed", "run_failed")
            events = await rows(database_url, "SELECT seq, type FROM run_events WHERE "
                                "run_id = :r ORDER BY seq", r=started.run_id)
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            assert [e["type"] for e in events].count("agent_completed") == 1
            assert events[-1]["type"] == "agent_completed"
            again = await client.send_message("What is 2 + 2?", message_id="m-while-away")
            run = await client.run_of(again)
            assert run.response == "2 + 2 = 4"
            stored = await rows(database_url, "SELECT role FROM messages WHERE user_id = :u "
                                "AND run_id = :r", u=alice, r=run.run_id)
            assert sorted(r["role"] for r in stored) == ["assistant", "user"]
            await client.close()
        finally:
            await service.close()
            await relay.close()

    asyncio.run(scenario())


async def _turned_back(url: str, token: str) -> tuple[str, int | None]:
    """Connect while the database is away: the error code told after the greeting (which
    does not wait for the session to be recorded), and the close code."""
    async with connect_raw(url, additional_headers={"Authorization": f"Bearer {token}"},
                           open_timeout=WAIT_S) as websocket:
        greeting = json.loads(await asyncio.wait_for(websocket.recv(), WAIT_S))
        assert greeting["type"] == "connection_established", greeting
        frame = json.loads(await asyncio.wait_for(websocket.recv(), WAIT_S))
        try:
            await asyncio.wait_for(websocket.recv(), WAIT_S)
        except ConnectionClosed:
            pass
        return str(frame.get("code")), websocket.close_code
