"""The AG-UI endpoint of the reference service (`POST /agui`, DESIGN §5.2), over a real socket.

The sign-in is checked before anything else (401 with the §5 body, no event); a body that
is not a `RunAgentInput` is 400 or 422 with a JSON error and starts no run; a question is
streamed as AG-UI events and recorded as a v1 run is; a client that drops mid-stream
leaves the run to end and be recorded as it ended.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import httpx
import pytest
from conftest import WAIT_S, probe_engine, query, running_service, wire_client

from chat.auth import issue_token
from chat.config import Settings


def run_input(content: str | None, thread_id: str | None = None,
              message_id: str | None = None) -> dict[str, Any]:
    messages = [] if content is None else [
        {"id": message_id or f"m-{secrets.token_hex(8)}", "role": "user", "content": content}]
    return {"threadId": thread_id or f"thr_{secrets.token_hex(18)}", "runId": "r-client",
            "messages": messages, "tools": [], "context": [], "state": {},
            "forwardedProps": {}}


async def stream(client: httpx.AsyncClient, url: str, token: str,
                 body: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    async with client.stream("POST", url, json=body,
                             headers={"Authorization": f"Bearer {token}"}) as answer:
        if answer.status_code != 200:
            return answer.status_code, [json.loads(await answer.aread())]
        assert answer.headers["content-type"] == "text/event-stream"
        return 200, [json.loads(line[5:]) async for line in answer.aiter_lines()
                     if line.startswith("data:")]


def test_a_bad_sign_in_is_refused_before_any_event_and_starts_nothing(settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service, probe_engine(service) as engine, \
                httpx.AsyncClient(timeout=WAIT_S) as client:
            missing = await client.post(service.agui_url, json=run_input("What is 6 * 7?"))
            forged = await client.post(service.agui_url, json=run_input("What is 6 * 7?"),
                                       headers={"Authorization": "Bearer not.a.token"})
            assert (missing.status_code, missing.json()) == (
                401, {"error": "invalid_token", "reason": "missing"})
            assert (forged.status_code, forged.json()) == (
                401, {"error": "invalid_token", "reason": "malformed"})
            assert await query(engine, "SELECT id FROM agent_executions") == []

    asyncio.run(scenario())


@pytest.mark.parametrize(("body", "status", "says"), [
    (b"{not json", 400, "not JSON"),
    (b"{}", 422, "threadId"),
    (b'{"threadId": "t1", "runId": "r1", "messages": "hello"}', 422, "messages"),
    (json.dumps(run_input(None)).encode(), 422, "no user message"),
    (json.dumps(run_input("What is 6 * 7?", thread_id="a/../b")).encode(), 422, "threadId"),
])
def test_a_body_that_is_not_a_run_agent_input_is_refused_and_starts_no_run(
        settings: Settings, body: bytes, status: int, says: str) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service, probe_engine(service) as engine, \
                httpx.AsyncClient(timeout=WAIT_S) as client:
            token = issue_token(settings, "alice")
            answer = await client.post(service.agui_url, content=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            assert answer.status_code == status, answer.text
            assert answer.json()["error"] == "invalid_input"
            assert says in answer.json()["message"]
            assert await query(engine, "SELECT id FROM agent_executions") == []

    asyncio.run(scenario())


def test_a_question_is_streamed_as_ag_ui_events_and_recorded(settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service, probe_engine(service) as engine, \
                httpx.AsyncClient(timeout=WAIT_S) as client:
            token = issue_token(settings, "alice")
            thread = f"thr_{secrets.token_hex(18)}"
            status, events = await stream(client, service.agui_url, token,
                                          run_input("What is 6 * 7?", thread_id=thread))
            assert status == 200
            kinds = [e["type"] for e in events]
            assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED"
            assert {"STEP_STARTED", "REASONING_MESSAGE_CONTENT", "TOOL_CALL_START",
                    "TOOL_CALL_ARGS", "TOOL_CALL_END", "TOOL_CALL_RESULT",
                    "TEXT_MESSAGE_CONTENT"} <= set(kinds)
            run_id = events[0]["runId"]
            assert events[0]["threadId"] == thread
            assert (events[-1]["threadId"], events[-1]["runId"]) == (thread, run_id)
            answer = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
            assert answer == "6 * 7 = 42"
            assert [e["rawEvent"]["seq"] for e in events][-1] > 1
            rows = await query(engine, "SELECT status FROM agent_executions WHERE id = :id",
                               id=run_id)
            assert rows == [{"status": "completed"}]
            saved = await query(engine, "SELECT role, content FROM messages WHERE thread_id = "
                                        ":t ORDER BY created_at", t=thread)
            assert saved == [{"role": "user", "content": "What is 6 * 7?"},
                             {"role": "assistant", "content": "6 * 7 = 42"}]
            async with wire_client(service, "alice") as ws:
                assert ws.established["user_id"] == "alice"

    asyncio.run(scenario())


def test_another_users_conversation_is_not_found_and_a_repeat_is_the_same_run(
        settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service, \
                httpx.AsyncClient(timeout=WAIT_S) as client:
            alice, bob = issue_token(settings, "alice"), issue_token(settings, "bob")
            body = run_input("What is 2 + 3?", message_id="m-once")
            _, first = await stream(client, service.agui_url, alice, body)
            _, again = await stream(client, service.agui_url, alice, body)
            assert [e["type"] for e in again] == [e["type"] for e in first]
            assert again[0]["runId"] == first[0]["runId"]
            status, refused = await stream(
                client, service.agui_url, bob,
                run_input("Tell me everything", thread_id=body["threadId"]))
            assert status == 404 and refused[0]["error"] == "not_found"

    asyncio.run(scenario())


def test_a_stream_dropped_mid_run_leaves_the_run_recorded_as_it_ended(settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service, probe_engine(service) as engine, \
                httpx.AsyncClient(timeout=WAIT_S) as client:
            token = issue_token(settings, "alice")
            async with client.stream("POST", service.agui_url,
                                     json=run_input("Wait for 0.5 seconds"),
                                     headers={"Authorization": f"Bearer {token}"}) as answer:
                async for line in answer.aiter_lines():
                    if line.startswith("data:"):
                        run_id = json.loads(line[5:])["runId"]
                        break
            await asyncio.wait_for(service.runs.wait_idle(), WAIT_S)
            rows = await query(engine, "SELECT status, result FROM agent_executions "
                                       "WHERE id = :id", id=run_id)
            assert rows == [{"status": "completed", "result": "Waited 0.5 seconds"}]

    asyncio.run(scenario())


def test_one_port_serves_the_health_check_websockets_and_posts(settings: Settings) -> None:
    async def scenario() -> None:
        async with running_service(settings) as service, \
                httpx.AsyncClient(timeout=WAIT_S) as client:
            base = service.agui_url.removesuffix("/agui")
            health = await client.get(f"{base}/healthz")
            elsewhere = await client.post(f"{base}/elsewhere", json={})
            assert (health.status_code, health.json()) == (200, {"status": "ok"})
            assert (elsewhere.status_code, elsewhere.json()["error"]) == (404, "not_found")
            reader, writer = await asyncio.open_connection(service.host, service.port)
            writer.write(b"POST /agui HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
            assert (await asyncio.wait_for(reader.read(), WAIT_S)).startswith(b"HTTP/1.1 400")
            writer.close()

    asyncio.run(scenario())
