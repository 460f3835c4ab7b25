"""AG-UI over HTTP and server-sent events: the suite's AG-UI client (DESIGN §5.2).

A question is a `POST` of a `RunAgentInput` with `Authorization: Bearer`; its answer is a
`text/event-stream` of AG-UI events, each validated by AG-UI's own models and turned into
the product's vocabulary (`support.wire.agui_codec`) in the connection's `EventLog`, so the
same Gherkin and matchers judge it. Every run a person waits for must also keep AG-UI's
rules (`stream_problem`); a broken one fails the step with the rule's sentence.

AG-UI has no connection: `AguiTarget.open` checks the sign-in with a request whose body
is not a `RunAgentInput`. A conforming endpoint checks the sign-in first, so a bad one
is 401 with the §5 JSON body, and a good one gets 400 or 422 and starts no run. An answer
of a request that is not 200 (a 404 for a conversation that is not the user's, a 422) is
logged as an `error` frame with the body's `error` as its code.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from support.metrics import METRICS
from support.wire.agui_codec import Translation, stream_problem, validated
from support.wire.codec import (
    AUTHORIZATION_SCHEMES,
    Event,
    Refusal,
    RunSeen,
    SentMessage,
    refusal_of,
)
from support.wire.log import EventLog

__all__ = ["AguiConnection", "AguiTarget"]

REFUSALS = (401, 403, 503)
NOT_AN_INPUT = (400, 422)


def run_input(content: str, thread_id: str, message_id: str) -> dict[str, Any]:
    """A `RunAgentInput` (wire form) that asks `content` in conversation `thread_id`."""
    return {"threadId": thread_id, "runId": f"run_{secrets.token_hex(18)}",
            "messages": [{"id": message_id, "role": "user", "content": content}],
            "tools": [], "context": [], "state": {}, "forwardedProps": {}}


class AguiConnection:
    """One person's sign-in to an AG-UI endpoint; each question is one streamed request."""

    protocol = "ag-ui"
    connection_id: str | None = None
    user_id: str | None = None

    def __init__(self, url: str, token: str | None, client: httpx.AsyncClient,
                 timeout: float, *, via: str = "header") -> None:
        self.url = url
        self.log = EventLog()
        self.timeout = timeout
        self.opened_at = time.perf_counter()
        self._client = client
        scheme = AUTHORIZATION_SCHEMES.get(via)
        self._headers = {"Authorization": f"{scheme} {token}"} if token and scheme else {}
        self._params = {"token": token} if token and via == "query" else {}
        self._requests: dict[int, asyncio.Task[None]] = {}
        # the AG-UI events of each question, by the log position it was sent at
        self.streams: dict[int, list[dict[str, Any]]] = {}
        self._closed = False

    async def post(self, body: Any) -> httpx.Response:
        """One whole request (for the sign-in check and bad bodies)."""
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self._client.post(self.url, content=content, headers={
            **self._headers, "Content-Type": "application/json"}, params=self._params)

    async def send_message(self, content: str, *, thread_id: str | None = None,
                           message_id: str | None = None) -> SentMessage:
        message_id = message_id or f"m-{secrets.token_hex(16)}"
        body = run_input(content, thread_id or f"thr_{secrets.token_hex(18)}", message_id)
        mark = self.log.mark()
        self.streams[mark] = []
        sent_at = time.perf_counter()
        self._requests[mark] = asyncio.get_running_loop().create_task(
            self._ask(body, self.streams[mark]))
        return SentMessage(content, thread_id, message_id, mark, sent_at)

    async def _ask(self, body: dict[str, Any], stream: list[dict[str, Any]]) -> None:
        translation = Translation()
        headers = {**self._headers, "Accept": "text/event-stream"}
        try:
            async with self._client.stream("POST", self.url, json=body, headers=headers,
                                           params=self._params) as answer:
                if answer.status_code != 200:
                    await self._log_refused(answer.status_code, await answer.aread())
                    return
                async for line in answer.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    event = validated(line[5:].strip())
                    stream.append(event)
                    for frame in translation.frames(event):
                        await self.log.add(frame)
        except httpx.HTTPError as exc:
            await self.log.add({"type": "error", "code": "transport",
                                "message": f"{type(exc).__name__}: {exc}"})

    async def _log_refused(self, status: int, body: bytes) -> None:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = {}
        parsed = parsed if isinstance(parsed, dict) else {}
        await self.log.add({"type": "error", "code": str(parsed.get("error", f"http_{status}")),
                            "message": str(parsed.get("message") or parsed.get("reason")
                                           or body[:200]), "status": status})

    async def resume(self, thread_id: str, after_seq: int) -> int:
        raise AssertionError("AG-UI has no way to pick up a conversation where it left off")

    async def first_event_of(self, sent: SentMessage) -> Event:
        received = await self.log.expect(
            lambda r: r.is_event, what=f"the agents to start on {sent.content!r}",
            timeout=self.timeout, start=sent.mark)
        METRICS.observe("first_event", received.at - sent.sent_at)
        if sent.thread_id is None:
            METRICS.observe("thread_creation", received.at - sent.sent_at)
        return Event.from_frame(received.frame)

    async def run_of(self, sent: SentMessage, *, timeout: float | None = None) -> RunSeen:
        """The whole run answering `sent`, once its stream has ended and kept AG-UI's rules."""
        first = await self.first_event_of(sent)
        limit = self.timeout if timeout is None else timeout
        received = await self.log.expect(
            lambda r: r.type == "agent_completed" and r.frame.get("run_id") == first.run_id,
            what=f"the answer to {sent.content!r} (the end of run {first.run_id})",
            timeout=limit, start=sent.mark)
        METRICS.observe("message_to_completed", received.at - sent.sent_at)
        request = self._requests[sent.mark]
        await asyncio.wait({request}, timeout=limit)
        stream = self.streams[sent.mark]
        problem = stream_problem(stream) if request.done() else "the stream never ended"
        if problem is not None:
            raise AssertionError(f"the AG-UI stream answering {sent.content!r} broke a rule: "
                                 f"{problem}")
        return RunSeen(first.run_id, first.thread_id,
                       self.log.events(start=sent.mark, run_id=first.run_id))

    async def close(self, code: int | None = None) -> None:
        """Stop reading every stream still open (their runs go on at the agent); AG-UI
        has no close code, so `code` changes nothing."""
        await self.drop()

    async def drop(self) -> None:
        self._closed = True
        for task in self._requests.values():
            task.cancel()
        await asyncio.gather(*self._requests.values(), return_exceptions=True)
        await self.log.close(None)

    @property
    def is_open(self) -> bool:
        return not self._closed


class AguiTarget:
    """A chat target reached over AG-UI at an `http://…` endpoint (see `support.wire`)."""

    protocol = "ag-ui"

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout * 3),
                                             trust_env=False,
                                             limits=httpx.Limits(max_connections=200))
        return self._client

    async def health(self) -> int:
        """The HTTP status of `GET /healthz` on the agent's host (AG-UI names no health
        check; the reference service and the peer answer one)."""
        parts = urlsplit(self.url)
        try:
            answer = await self._http().get(f"{parts.scheme}://{parts.netloc}/healthz")
        except httpx.HTTPError as exc:
            raise AssertionError(f"could not reach {parts.netloc}: {exc}") from None
        return answer.status_code

    async def open(self, token: str | None, *, via: str = "header",
                   reading: bool = True) -> AguiConnection | Refusal:
        if via not in ("header", "query", "other-scheme") or not reading:
            raise AssertionError(f"AG-UI has no sign-in by {via}, nor a client that never reads")
        connection = AguiConnection(self.url, token, self._http(), self.timeout, via=via)
        started = time.perf_counter()
        try:
            answer = await connection.post({})
        except httpx.HTTPError as exc:
            raise AssertionError(f"could not reach the AG-UI agent at {self.url}: {exc}") from None
        if answer.status_code in REFUSALS:
            return refusal_of(answer.status_code, answer.content)
        if answer.status_code not in NOT_AN_INPUT:
            raise AssertionError(
                f"the AG-UI agent at {self.url} answered HTTP {answer.status_code} to a body "
                "that is not a RunAgentInput; a conforming endpoint checks the sign-in first "
                "(401) and then refuses the body (400 or 422), starting no run")
        METRICS.observe("connect_auth", time.perf_counter() - started)
        return connection

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
