"""The AG-UI endpoint: `POST /agui`, a run answered as a stream of AG-UI 1.0 events
(DESIGN §5.2). A thin adapter, like the gateway: the same sign-in checks (chat.auth),
the same runs and storage (chat.runs); only the wire differs.

A request carries `Authorization: Bearer` and a `RunAgentInput`. The sign-in is checked
first: a bad one is 401 with the JSON body of §5 before any event. A body that is not a
`RunAgentInput` (or holds no user message, or a thread id the service cannot store) is
400 or 422 with a JSON error, and starts no run. The last user message is the question;
its `id` is the client's message id, so a repeated message is answered with the run the
first one started. `threadId` names the conversation: the user's own continues, an id no
one holds starts a new conversation under it, another user's is 404 `not_found`.

The answer is `text/event-stream`, one event per `data:` line, mapped from the run's v1
events: `agent_started` is RUN_STARTED (the service's run id), each agent at work a
STEP_STARTED/STEP_FINISHED pair with its thinking as a REASONING message, each tool call
TOOL_CALL_START/ARGS/END and its TOOL_CALL_RESULT (the result as JSON: `{"error": ...}`
when the tool failed), the answer a TEXT_MESSAGE, then RUN_FINISHED; a failed run ends
with RUN_ERROR. Every event carries the v1 event it came from as `rawEvent`, so a client
can still read `seq`. A client that goes away mid-stream stops only its stream: the run
goes on and is recorded as it ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from ag_ui.core import (
    BaseEvent,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedEvent,
    RunStartedEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)
from pydantic import ValidationError

from chat.auth import TokenRefused, TokenVerifier, token_from_headers
from chat.frames import MAX_CLIENT_ID_CHARS, MAX_CONTENT_BYTES
from chat.front import HttpRequest, Reply
from chat.runs import NotFound, RunService, Unavailable

__all__ = ["PATH", "AguiEndpoint", "AguiStream"]

log = logging.getLogger(__name__)

PATH = "/agui"
THREAD_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
SSE_HEADERS = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]


class AguiStream:
    """One run's v1 events turned into AG-UI events, in order."""

    def __init__(self) -> None:
        self.step: str | None = None
        self._messages = 0

    def _message_id(self, run_id: str) -> str:
        self._messages += 1
        return f"{run_id}-m{self._messages}"

    def events(self, event: dict[str, Any]) -> Iterator[BaseEvent]:
        kind, payload = event["type"], event.get("payload") or {}
        run_id, thread_id = str(event["run_id"]), str(event["thread_id"])
        common: dict[str, Any] = {"timestamp": _millis(event.get("timestamp")),
                                  "raw_event": event}
        if kind == "agent_started":
            yield RunStartedEvent(thread_id=thread_id, run_id=run_id, **common)
        elif kind == "agent_thinking":
            agent = str(payload.get("agent"))
            if agent != self.step:
                yield from self._end_step(common)
                self.step = agent
                yield StepStartedEvent(step_name=agent, **common)
            message_id = self._message_id(run_id)
            yield ReasoningStartEvent(message_id=message_id, **common)
            yield ReasoningMessageStartEvent(message_id=message_id, role="reasoning", **common)
            if payload.get("text"):
                yield ReasoningMessageContentEvent(message_id=message_id,
                                                   delta=str(payload["text"]), **common)
            yield ReasoningMessageEndEvent(message_id=message_id, **common)
            yield ReasoningEndEvent(message_id=message_id, **common)
        elif kind == "tool_executing":
            call = str(payload.get("call_id"))
            yield ToolCallStartEvent(tool_call_id=call, tool_call_name=str(payload.get("tool")),
                                     **common)
            yield ToolCallArgsEvent(tool_call_id=call,
                                    delta=json.dumps(payload.get("args") or {}), **common)
            yield ToolCallEndEvent(tool_call_id=call, **common)
        elif kind == "tool_completed":
            yield ToolCallResultEvent(message_id=self._message_id(run_id),
                                      tool_call_id=str(payload.get("call_id")),
                                      content=json.dumps(payload.get("result")), role="tool",
                                      **common)
        elif kind == "agent_completed":
            yield from self._end_step(common)
            if payload.get("status") == "completed":
                message_id = self._message_id(run_id)
                yield TextMessageStartEvent(message_id=message_id, role="assistant", **common)
                if payload.get("response"):
                    yield TextMessageContentEvent(message_id=message_id,
                                                  delta=str(payload["response"]), **common)
                yield TextMessageEndEvent(message_id=message_id, **common)
                yield RunFinishedEvent(thread_id=thread_id, run_id=run_id, **common)
            else:
                error = payload.get("error") or {}
                yield RunErrorEvent(message=str(error.get("message") or "the run failed"),
                                    code=error.get("code"), **common)

    def _end_step(self, common: dict[str, Any]) -> Iterator[BaseEvent]:
        if self.step is not None:
            yield StepFinishedEvent(step_name=self.step, **common)
            self.step = None


def _millis(stamp: Any) -> int | None:
    try:
        return int(datetime.fromisoformat(str(stamp)).timestamp() * 1000)
    except ValueError:
        return None


def sse(event: BaseEvent) -> bytes:
    return b"data: " + event.model_dump_json(by_alias=True).encode() + b"\n\n"


class BadInput(ValueError):
    """A body that cannot start a run; the message says why."""


def question_of(body: bytes) -> tuple[RunAgentInput, str, str | None]:
    """The input, the text of its last user message and that message's id."""
    try:
        data = json.loads(body)
    except ValueError:
        raise BadInput("the body is not JSON") from None
    try:
        given = RunAgentInput.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise BadInput(f"not a RunAgentInput: {where}: {first['msg']}") from None
    users = [m for m in given.messages if m.role == "user"]
    if not users:
        raise BadInput("the input holds no user message")
    last = users[-1]
    content = last.content if isinstance(last.content, str) else " ".join(
        str(getattr(part, "text", "")) for part in last.content)
    if not content.strip():
        raise BadInput("the last user message has no text")
    if len(content.encode()) > MAX_CONTENT_BYTES:
        raise BadInput(f"the message is over {MAX_CONTENT_BYTES} bytes")
    if not THREAD_ID.fullmatch(given.thread_id):
        raise BadInput("threadId must be 1 to 40 letters, digits, '_' or '-'")
    message_id = last.id if last.id and len(last.id) <= MAX_CLIENT_ID_CHARS else None
    return given, content, message_id


class AguiEndpoint:
    """Answers `POST /agui` with a run streamed as AG-UI events."""

    def __init__(self, service: RunService, verifier: TokenVerifier) -> None:
        self.service = service
        self.verifier = verifier

    async def handle(self, request: HttpRequest, reply: Reply) -> None:
        if request.path != PATH:
            await reply.json(404, {"error": "not_found", "message": f"use POST {PATH}"})
            return
        try:
            claims = await self.verifier.verify(token_from_headers(request.headers))
        except TokenRefused as refused:
            log.info("AG-UI request refused: %s", refused.reason)
            await reply.json(401, {"error": "invalid_token", "reason": refused.reason})
            return
        except Exception as exc:  # noqa: BLE001 - one line per refusal, never a traceback
            log.warning("AG-UI request refused: sign-in not checked (%s: %s)",
                        type(exc).__name__, exc)
            await reply.json(503, {"error": "unavailable", "message":
                                   "the sign-in cannot be checked right now; try again shortly"})
            return
        try:
            given, content, message_id = question_of(request.body)
        except BadInput as bad:
            status = 400 if "not JSON" in str(bad) else 422
            await reply.json(status, {"error": "invalid_input", "message": str(bad)})
            return
        await self._run(claims.user_id, given.thread_id, content, message_id, reply)

    async def _run(self, user_id: str, thread_id: str, content: str, message_id: str | None,
                   reply: Reply) -> None:
        service = self.service
        try:
            known = await service.thread_exists(user_id, thread_id)
            submission = await service.prepare(user_id, None, content, thread_id, message_id,
                                               new_thread=not known)
        except NotFound as exc:
            await reply.json(404, {"error": "not_found", "message": str(exc)})
            return
        except Unavailable as exc:
            await reply.json(503, {"error": "unavailable", "message": str(exc)})
            return
        arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        run_id = submission.run_id
        subscription = service.hub.subscribe(
            user_id, submission.thread_id,
            lambda event: arrived.put_nowait(event) if event.get("run_id") == run_id else None)
        try:
            await service.hub.ready()
            if submission.repeated:
                for event in await service.run_events(user_id, run_id):
                    arrived.put_nowait(event)
            else:
                service.launch(submission)
            await reply.start(200, SSE_HEADERS)
            await self._stream(arrived, reply)
        finally:
            subscription.close()

    @staticmethod
    async def _stream(arrived: asyncio.Queue[dict[str, Any]], reply: Reply) -> None:
        stream, sent = AguiStream(), 0
        while True:
            event = await arrived.get()
            if event.get("type") == "error":
                await reply.send(sse(RunErrorEvent(message=str(event.get("message")),
                                                   code=str(event.get("code")))))
                return
            if int(event["seq"]) <= sent:
                continue
            sent = int(event["seq"])
            for converted in stream.events(event):
                await reply.send(sse(converted))
            if event["type"] == "agent_completed":
                return
