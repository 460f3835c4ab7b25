"""The gateway over a real socket, seen by a client that knows only the wire contract,
with storage and cache read independently (as the acceptance suite's probes do)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import fakeredis
from conftest import make_settings, probe_engine, query, running_service, wire_client
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from chat.auth import issue_token
from chat.config import Settings

ARITHMETIC_TYPES = ["agent_started", "agent_thinking", "agent_thinking", "tool_executing",
                    "tool_completed", "agent_completed"]


def types(frames: list[dict[str, Any]]) -> list[str]:
    return [f["type"] for f in frames]


def test_golden_path_durability_and_cache(settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service, probe_engine(service) as probe:
            async with wire_client(service, "alice") as alice:
                assert alice.established["type"] == "connection_established"
                assert alice.established["user_id"] == "alice"
                connection_id = alice.established["connection_id"]
                await alice.ask("What is 2 + 2?")
                started = await alice.receive()
                assert started["type"] == "agent_started"
                assert started["payload"] == {"agent": "supervisor"}
                thread_id, run_id = started["thread_id"], started["run_id"]
                user_rows = await query(probe, "SELECT role, content FROM messages "
                                        "WHERE thread_id = :t AND role = 'user'", t=thread_id)
                assert user_rows == [{"role": "user", "content": "What is 2 + 2?"}]
                run_rows = await query(probe, "SELECT status FROM agent_executions "
                                       "WHERE id = :r", r=run_id)
                assert run_rows[0]["status"] in ("running", "completed")
                rest = await alice.until_completed()
                frames = [started, *rest]
                assert types(frames) == ARITHMETIC_TYPES
                assert [f["seq"] for f in frames] == [1, 2, 3, 4, 5, 6]
                assert {f["run_id"] for f in frames} == {run_id}
                executing, completed_tool = frames[3]["payload"], frames[4]["payload"]
                assert executing["tool"] == "calculator"
                assert executing["args"] == {"a": 2, "op": "+", "b": 2}
                assert completed_tool == {"call_id": executing["call_id"], "tool": "calculator",
                                          "status": "ok", "result": {"value": 4}}
                assert frames[-1]["payload"] == {"status": "completed", "response": "2 + 2 = 4"}
                reply = await query(probe, "SELECT content FROM messages WHERE thread_id = :t "
                                    "AND role = 'assistant'", t=thread_id)
                assert reply == [{"content": "2 + 2 = 4"}]
                run = (await query(probe, "SELECT status, agents, result, user_id FROM "
                                   "agent_executions WHERE id = :r", r=run_id))[0]
                assert run["status"] == "completed" and run["result"] == "2 + 2 = 4"
                assert json.loads(run["agents"]) == ["data"]
                stored = await query(probe, "SELECT event FROM run_events WHERE thread_id = :t "
                                     "ORDER BY seq", t=thread_id)
                assert [json.loads(r["event"]) for r in stored] == frames
                cached = json.loads(await service.redis.get(f"gp:alice:result:{run_id}"))
                assert cached == {"status": "completed", "response": "2 + 2 = 4",
                                  "thread_id": thread_id}
                assert 86000 < await service.redis.ttl(f"gp:alice:result:{run_id}") <= 86400
                session = (await query(probe, "SELECT id, status, token_jti FROM user_sessions "
                                       "WHERE connection_id = :c", c=connection_id))[0]
                assert session["status"] == "active" and session["token_jti"]
                plan = await query(probe, "SELECT value FROM temporary_user_data WHERE "
                                   "session_id = :s AND key = :k", s=session["id"],
                                   k=f"run:{run_id}:plan")
                assert json.loads(plan[0]["value"]) == {"agents": ["data"],
                                                        "intent": "arithmetic"}
                assert await service.redis.exists(f"gp:alice:session:{session['id']}")
                assert await service.redis.exists(f"gp:alice:conn:{connection_id}")
            await _closed(service)
            ended = (await query(probe, "SELECT status, ended_at FROM user_sessions WHERE id = :s",
                                 s=session["id"]))[0]
            assert ended["status"] == "ended" and ended["ended_at"] is not None
            assert await query(probe, "SELECT id FROM temporary_user_data WHERE "
                               "session_id = :s", s=session["id"]) == []
            assert not await service.redis.exists(f"gp:alice:session:{session['id']}")
            assert not await service.redis.exists(f"gp:alice:conn:{connection_id}")
            assert await service.redis.exists(f"gp:alice:result:{run_id}")

    asyncio.run(scenario())


async def _closed(service: Any) -> None:
    """Wait until the gateway has finished cleaning up every connection."""
    async with asyncio.timeout(5):
        while service.gateway.sessions:
            await asyncio.sleep(0.01)


def test_intents_end_to_end(settings: Settings) -> None:
    async def scenario() -> None:
        async with (
            running_service(settings) as service,
            probe_engine(service) as probe,
            wire_client(service, "alice") as alice,
        ):
            await alice.ask("What is 7 / 0?")
            frames = await alice.until_completed()
            tool = next(f for f in frames if f["type"] == "tool_completed")["payload"]
            assert tool["status"] == "error"
            assert tool["result"] == {"error": "division by zero"}
            assert frames[-1]["payload"]["status"] == "completed"
            assert "division by zero" in frames[-1]["payload"]["response"]

            await alice.ask("Simulate a failure")
            frames = await alice.until_completed()
            assert types(frames) == ["agent_started", "agent_thinking", "agent_thinking",
                                     "agent_completed"]
            payload = frames[-1]["payload"]
            assert payload["status"] == "failed"
            assert payload["error"]["code"] == "agent_error" and payload["error"]["message"]
            run = (await query(probe, "SELECT status, error_code, agents FROM "
                               "agent_executions WHERE id = :r", r=frames[0]["run_id"]))[0]
            assert (run["status"], run["error_code"]) == ("failed", "agent_error")
            assert json.loads(run["agents"]) == ["triage"]

            await alice.ask("How can I reduce the cost of my GPU usage?")
            frames = await alice.until_completed()
            thinking = [f["payload"]["agent"] for f in frames if f["type"] == "agent_thinking"]
            assert thinking[0] == "supervisor"
            assert [a for a in dict.fromkeys(thinking) if a != "supervisor"] == [
                "triage", "data", "optimisation", "reporting"]
            tools = [f["payload"]["tool"] for f in frames if f["type"] == "tool_executing"]
            assert tools == ["classify", "lookup", "cost_calculator"]
            run = (await query(probe, "SELECT agents FROM agent_executions WHERE id = :r",
                               r=frames[0]["run_id"]))[0]
            assert json.loads(run["agents"]) == ["triage", "data", "optimisation",
                                                 "reporting"]

            await alice.ask("Wait for 0 seconds")
            frames = await alice.until_completed()
            assert frames[3]["payload"]["args"] == {"seconds": 0}
            assert frames[-1]["payload"]["response"] == "Waited 0 seconds"

    asyncio.run(scenario())


def test_errors_keep_the_connection_open(settings: Settings) -> None:
    async def scenario() -> None:
        async with (
            running_service(settings) as service,
            wire_client(service, "alice") as alice,
        ):
            cases = [
                ("{not json", "invalid_json"),
                ("[1, 2]", "invalid_message"),
                ({"content": "hi"}, "invalid_message"),
                ({"type": "shout"}, "unknown_type"),
                ({"type": "user_message", "content": 5}, "invalid_message"),
                ({"type": "user_message", "content": "  "}, "invalid_message"),
                ({"type": "user_message", "content": "hi", "thread_id": 3}, "invalid_message"),
                ({"type": "user_message", "content": "hi", "message_id": ""},
                 "invalid_message"),
                ({"type": "user_message", "content": "x" * (64 * 1024 + 1)},
                 "message_too_large"),
                ({"type": "user_message", "content": "hi", "thread_id": "thr_nope"},
                 "not_found"),
                ({"type": "resume", "thread_id": "thr_nope", "after_seq": 0}, "not_found"),
                ({"type": "resume", "thread_id": "thr_nope", "after_seq": -1},
                 "invalid_message"),
                ({"type": "resume", "after_seq": 0}, "invalid_message"),
            ]
            for frame, code in cases:
                await alice.send(frame)
                error = await alice.receive()
                assert error["type"] == "error", (frame, error)
                assert error["code"] == code, (frame, error)
                assert error["message"]
            await alice.ask("x" * (64 * 1024))
            frames = await alice.until_completed()
            assert frames[-1]["payload"]["status"] == "completed"

    asyncio.run(scenario())


def test_frame_over_transport_limit_closes_with_1009(settings: Settings) -> None:
    async def scenario() -> int | None:
        async with running_service(settings) as service:
            token = issue_token(settings, "alice")
            async with connect(service.url, additional_headers={
                    "Authorization": f"Bearer {token}"}, max_size=None) as ws:
                await ws.recv()
                await ws.send(json.dumps({"type": "user_message",
                                          "content": "x" * (1024 * 1024 + 10)}))
                try:
                    await asyncio.wait_for(ws.recv(), 5)
                except ConnectionClosed as closed:
                    return closed.rcvd.code if closed.rcvd else None
                return None

    assert asyncio.run(scenario()) == 1009


def test_resume_sends_exactly_the_missed_events(settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service:
            async with wire_client(service, "alice") as alice:
                await alice.ask("What is 1 + 1?")
                first = await alice.until_completed()
                thread_id = first[0]["thread_id"]
                await alice.ask("What is 2 * 3?", thread_id=thread_id)
                second = await alice.until_completed()
                assert [f["seq"] for f in second] == list(range(7, 13))
            async with wire_client(service, "alice") as again:
                await again.send({"type": "resume", "thread_id": thread_id, "after_seq": 4})
                missed = [await again.receive() for _ in range(8)]
                assert missed == (first + second)[4:]
                await again.nothing_within(0.1)
                await again.send({"type": "resume", "thread_id": thread_id, "after_seq": 12})
                await again.nothing_within(0.1)
                await again.ask("What is 3 - 5?", thread_id=thread_id)
                third = await again.until_completed()
                assert [f["seq"] for f in third] == list(range(13, 19))
                assert third[-1]["payload"]["response"] == "3 - 5 = -2"

    asyncio.run(scenario())


def test_resume_during_a_run_gets_stored_then_live_events_once(settings: Settings) -> None:
    async def scenario() -> None:
        async with (
            running_service(settings) as service,
            wire_client(service, "alice") as alice,
            wire_client(service, "alice") as watcher,
        ):
            await alice.ask("Wait for 0.3 seconds")
            head = [await alice.receive() for _ in range(4)]
            assert head[-1]["type"] == "tool_executing"
            await watcher.send({"type": "resume", "thread_id": head[0]["thread_id"],
                                "after_seq": 0})
            watched = await watcher.until_completed()
            own = head + await alice.until_completed()
            assert watched == own
            assert [f["seq"] for f in watched] == list(range(1, 7))

    asyncio.run(scenario())


def test_repeated_message_id_is_not_run_twice(settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service, probe_engine(service) as probe:
            async with wire_client(service, "alice") as alice:
                await alice.ask("What is 4 + 4?", message_id="m-1")
                first = await alice.until_completed()
                await alice.ask("What is 4 + 4?", message_id="m-1")
                repeat = await alice.until_completed()
                assert repeat == first
                await alice.nothing_within(0.1)
                await alice.ask("Wait for 0.3 seconds", message_id="m-2")
                head = [await alice.receive() for _ in range(2)]
            async with wire_client(service, "alice") as again:
                await again.ask("Wait for 0.3 seconds", message_id="m-2")
                replay = await again.until_completed()
                assert replay[:2] == head
                assert [f["seq"] for f in replay] == list(range(1, 7))
                assert len({f["run_id"] for f in replay}) == 1
            async with wire_client(service, "bob") as bob:
                await bob.ask("What is 4 + 4?", message_id="m-1")
                bobs = await bob.until_completed()
                assert bobs[0]["run_id"] != first[0]["run_id"]
            counts = await query(probe, "SELECT user_id, COUNT(*) AS n FROM agent_executions "
                                 "GROUP BY user_id ORDER BY user_id")
            assert counts == [{"user_id": "alice", "n": 2}, {"user_id": "bob", "n": 1}]
            user_messages = await query(probe, "SELECT COUNT(*) AS n FROM messages WHERE "
                                        "user_id = 'alice' AND role = 'user'")
            assert user_messages == [{"n": 2}]

    asyncio.run(scenario())


def test_two_users_at_once_stay_apart(settings: Settings) -> None:
    async def scenario() -> None:
        async with (
            running_service(settings) as service,
            wire_client(service, "alice") as alice,
            wire_client(service, "bob") as bob,
        ):
            await alice.ask("What is 10 + 1?")
            await bob.ask("What is 20 + 2?")
            alices, bobs = await asyncio.gather(alice.until_completed(),
                                                bob.until_completed())
            assert alices[-1]["payload"]["response"] == "10 + 1 = 11"
            assert bobs[-1]["payload"]["response"] == "20 + 2 = 22"
            assert [f["seq"] for f in alices] == [f["seq"] for f in bobs] == list(range(1, 7))
            alice_thread = alices[0]["thread_id"]
            await bob.send({"type": "resume", "thread_id": alice_thread, "after_seq": 0})
            assert (await bob.receive())["code"] == "not_found"
            await bob.ask("What is 1 + 1?", thread_id=alice_thread)
            assert (await bob.receive())["code"] == "not_found"
            await alice.nothing_within(0.1)

    asyncio.run(scenario())


def test_run_goes_on_after_the_client_disconnects(settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service, probe_engine(service) as probe:
            token = issue_token(settings, "alice")
            ws = await connect(service.url, additional_headers={"Authorization": f"Bearer {token}"})
            established = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "user_message", "content": "Wait for 0.3 seconds",
                                      "thread_id": None, "message_id": None}))
            started = json.loads(await ws.recv())
            ws.transport.abort()
            await _closed(service)
            session = (await query(probe, "SELECT id, status FROM user_sessions WHERE "
                                   "connection_id = :c", c=established["connection_id"]))[0]
            assert session["status"] == "disconnected"
            assert not await service.redis.exists(f"gp:alice:conn:{established['connection_id']}")
            assert await service.redis.exists(f"gp:alice:session:{session['id']}")
            await service.runs.wait_idle()
            run = (await query(probe, "SELECT status, result FROM agent_executions WHERE id = :r",
                               r=started["run_id"]))[0]
            assert run == {"status": "completed", "result": "Waited 0.3 seconds"}
            async with wire_client(service, "alice") as again:
                await again.send({"type": "resume", "thread_id": started["thread_id"],
                                  "after_seq": 1})
                rest = await again.until_completed()
                assert [f["seq"] for f in rest] == [2, 3, 4, 5, 6]

    asyncio.run(scenario())


def test_run_failed_when_storage_breaks_mid_run(settings: Settings) -> None:
    async def scenario() -> None:
        async with (
            running_service(settings) as service,
            probe_engine(service) as probe,
            wire_client(service, "alice") as alice,
        ):
            await alice.ask("Wait for 0.3 seconds")
            head = [await alice.receive() for _ in range(4)]
            assert head[-1]["type"] == "tool_executing"
            async with probe.begin() as connection:
                await connection.exec_driver_sql("DROP TABLE run_events")
            error = await alice.receive()
            assert error["type"] == "error" and error["code"] == "run_failed"

    asyncio.run(scenario())


def test_runs_left_running_by_a_dead_gateway_are_failed_at_start_up(tmp_path: Path) -> None:
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}")

    async def scenario() -> None:
        async with running_service(settings) as first:
            orphan = await first.runs.prepare("alice", None, "Wait for 5 seconds", None, None)
        async with running_service(settings) as second, probe_engine(second) as probe:
            run = (await query(probe, "SELECT status, error_code, gateway_id FROM "
                               "agent_executions WHERE id = :r", r=orphan.run_id))[0]
            assert (run["status"], run["error_code"]) == ("failed", "interrupted")
            assert run["gateway_id"] != second.runs.gateway_id
            async with wire_client(second, "alice") as alice:
                await alice.send({"type": "resume", "thread_id": orphan.thread_id,
                                  "after_seq": 0})
                closing = await alice.receive()
                assert closing["type"] == "agent_completed"
                assert closing["run_id"] == orphan.run_id and closing["seq"] == 1
                assert closing["payload"]["status"] == "failed"
                assert closing["payload"]["error"]["code"] == "interrupted"

    asyncio.run(scenario())


def test_start_up_leaves_runs_of_a_live_gateway_alone(tmp_path: Path) -> None:
    settings = make_settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'chat.sqlite3'}")
    shared = fakeredis.FakeServer()

    async def scenario() -> None:
        async with running_service(settings, redis=fakeredis.FakeAsyncRedis(server=shared)) as first:
            live = await first.runs.submit("alice", "Wait for 0.5 seconds")
            async with running_service(settings,
                                       redis=fakeredis.FakeAsyncRedis(server=shared)) as second:
                assert second.runs.gateway_id != first.runs.gateway_id
                await first.runs.wait_idle()
                events = await second.runs.run_events("alice", live.run_id)
                closing = [e["payload"] for e in events if e["type"] == "agent_completed"]
                assert closing == [{"status": "completed", "response": "Waited 0.5 seconds"}]
            assert not await shared_keys(shared, f"gp:gateway:{second.runs.gateway_id}")
            assert await shared_keys(shared, f"gp:gateway:{first.runs.gateway_id}")

    asyncio.run(scenario())


async def shared_keys(server: fakeredis.FakeServer, pattern: str) -> list[bytes]:
    return await fakeredis.FakeAsyncRedis(server=server).keys(pattern)


def test_closing_the_service_fails_runs_still_going(settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service:
            async with wire_client(service, "alice") as alice:
                await alice.ask("Wait for 10 seconds")
                started = await alice.receive()
            await service.runs.close()
            events = await service.runs.run_events("alice", started["run_id"])
            assert events[-1]["type"] == "agent_completed"
            assert events[-1]["payload"]["error"]["code"] == "interrupted"

    asyncio.run(scenario())
