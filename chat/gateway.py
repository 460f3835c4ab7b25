"""The WebSocket gateway: wire contract v1 (§5) over the `websockets` asyncio server.

A thin adapter. `process_request` authenticates before the upgrade (HTTP 401 with a JSON
body naming the reason); each accepted connection gets one handler that turns frames into
calls on `RunService` and sends events back, and cleans up in `finally`. All frames to a
client go through one queue and one writer task, so replayed and live events never
interleave out of order, and errors keep their place among events.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from chat.auth import SUBPROTOCOL, Claims, TokenRefused, TokenVerifier, token_from_headers
from chat.hub import Subscription
from chat.ids import new_connection_id
from chat.runs import NotFound, RunService

log = logging.getLogger("chat.gateway")

PATH = "/ws"
HEALTH_PATH = "/healthz"
MAX_CONTENT_BYTES = 64 * 1024
MAX_FRAME_BYTES = 1024 * 1024
MAX_CLIENT_ID_CHARS = 200
ALL_RUNS = None


def json_response(status: http.HTTPStatus, body: dict[str, Any]) -> Response:
    data = json.dumps(body).encode()
    headers = Headers([
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
        ("Connection", "close"),
    ])
    return Response(status.value, status.phrase, headers, data)


class FrameError(Exception):
    """A client frame the gateway answers with an `error` frame, keeping the connection."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Following:
    """What one connection streams live: per thread, every run (`ALL_RUNS`, after a
    resume) or a set of runs (those it started or re-requested)."""

    runs: dict[str, set[str] | None] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)


class ClientSession:
    """One accepted connection: its ids, its outbound queue and what it follows."""

    def __init__(self, gateway: Gateway, websocket: ServerConnection, claims: Claims) -> None:
        self.gateway = gateway
        self.websocket = websocket
        self.claims = claims
        self.user_id = claims.user_id
        self.connection_id = new_connection_id()
        self.session_id: str | None = None
        self.outbound: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.following = _Following()
        self.sent_seq: dict[str, int] = {}
        self.closed = False

    # outbound -----------------------------------------------------------------------

    def send_frame(self, frame: dict[str, Any]) -> None:
        self.outbound.put_nowait(("frame", frame))

    def send_error(self, code: str, message: str) -> None:
        self.send_frame({"type": "error", "code": code, "message": message})

    def _on_live(self, event: dict[str, Any]) -> None:
        self.outbound.put_nowait(("live", event))

    async def pump(self) -> None:
        """The single writer: frames, replays and live events, in queue order."""
        while True:
            kind, item = await self.outbound.get()
            if kind == "frame":
                await self.websocket.send(json.dumps(item))
            elif kind == "live":
                if self._wants(item):
                    await self._send_event(item)
            elif kind == "replay":
                try:
                    events = await item()
                except NotFound as exc:
                    await self.websocket.send(json.dumps(
                        {"type": "error", "code": "not_found", "message": str(exc)}))
                    continue
                for event in events:
                    await self._send_event(event)

    def _wants(self, event: dict[str, Any]) -> bool:
        thread_id, run_id = event.get("thread_id"), event.get("run_id")
        if thread_id not in self.following.runs:
            return False
        runs = self.following.runs[thread_id]
        if runs is not ALL_RUNS and run_id not in runs:
            return False
        if event.get("type") == "error":
            return True
        return int(event["seq"]) > self.sent_seq.get(str(run_id), 0)

    async def _send_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "error":
            await self.websocket.send(json.dumps(
                {"type": "error", "code": event["code"], "message": event["message"]}))
            return
        run_id = str(event["run_id"])
        self.sent_seq[run_id] = max(self.sent_seq.get(run_id, 0), int(event["seq"]))
        await self.websocket.send(json.dumps(event))

    def follow(self, thread_id: str, run_id: str | None) -> None:
        """Stream live events of `run_id` (or of every run when None) in the thread."""
        if self.closed:
            return
        if thread_id not in self.following.subscriptions:
            self.following.subscriptions[thread_id] = self.gateway.service.hub.subscribe(
                self.user_id, thread_id, self._on_live)
            self.following.runs[thread_id] = set()
        runs = self.following.runs[thread_id]
        if run_id is None:
            self.following.runs[thread_id] = ALL_RUNS
        elif runs is not ALL_RUNS:
            runs.add(run_id)

    def unfollow_all(self) -> None:
        self.closed = True
        for subscription in self.following.subscriptions.values():
            subscription.close()
        self.following = _Following()

    # inbound ------------------------------------------------------------------------

    async def handle_frame(self, raw: str | bytes) -> None:
        try:
            frame = self._parse(raw)
            kind = frame.get("type")
            if not isinstance(kind, str):
                raise FrameError("invalid_message", "a frame needs a string 'type'")
            if kind == "user_message":
                await self._user_message(frame)
            elif kind == "resume":
                await self._resume(frame)
            else:
                raise FrameError("unknown_type", f"unknown frame type {kind!r}")
        except FrameError as exc:
            self.send_error(exc.code, exc.message)
        except NotFound as exc:
            self.send_error("not_found", str(exc))

    @staticmethod
    def _parse(raw: str | bytes) -> dict[str, Any]:
        try:
            frame = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise FrameError("invalid_json", "the frame is not valid JSON") from None
        if not isinstance(frame, dict):
            raise FrameError("invalid_message", "a frame must be a JSON object")
        return frame

    async def _user_message(self, frame: dict[str, Any]) -> None:
        content = frame.get("content")
        thread_id = frame.get("thread_id")
        message_id = frame.get("message_id")
        if not isinstance(content, str):
            raise FrameError("invalid_message", "'content' must be a string")
        if len(content.encode("utf-8")) > MAX_CONTENT_BYTES:
            raise FrameError("message_too_large",
                             f"'content' is over {MAX_CONTENT_BYTES // 1024} KiB")
        if not content.strip():
            raise FrameError("invalid_message", "'content' must not be empty")
        if thread_id is not None and (not isinstance(thread_id, str) or not thread_id):
            raise FrameError("invalid_message", "'thread_id' must be a string or null")
        if message_id is not None and (
            not isinstance(message_id, str) or not message_id
            or len(message_id) > MAX_CLIENT_ID_CHARS
        ):
            raise FrameError("invalid_message",
                             f"'message_id' must be a string of 1 to {MAX_CLIENT_ID_CHARS} "
                             "characters or null")
        await asyncio.shield(self._start(content, thread_id, message_id))

    async def _start(self, content: str, thread_id: str | None, message_id: str | None) -> None:
        """Commit the message, follow the run, then launch it (or replay a repeated one).
        Shielded: once the message is committed its run starts even if the client left."""
        service = self.gateway.service
        user_id = self.user_id
        submission = await service.prepare(user_id, self.session_id, content, thread_id,
                                           message_id)
        self.follow(submission.thread_id, submission.run_id)
        if submission.repeated:
            run_id = submission.run_id
            self.outbound.put_nowait(("replay", lambda: service.run_events(user_id, run_id)))
        else:
            service.launch(submission)

    async def _resume(self, frame: dict[str, Any]) -> None:
        thread_id, after_seq = frame.get("thread_id"), frame.get("after_seq", 0)
        if not isinstance(thread_id, str) or not thread_id:
            raise FrameError("invalid_message", "'thread_id' must be a string")
        if not isinstance(after_seq, int) or isinstance(after_seq, bool) or after_seq < 0:
            raise FrameError("invalid_message", "'after_seq' must be a non-negative integer")
        service = self.gateway.service
        if not await service.thread_exists(self.user_id, thread_id):
            raise NotFound(f"thread {thread_id} not found")
        self.follow(thread_id, ALL_RUNS)
        user_id = self.user_id
        self.outbound.put_nowait(
            ("replay", lambda: service.thread_events_after(user_id, thread_id, after_seq)))


class Gateway:
    """Authenticates handshakes and runs one `ClientSession` per connection."""

    def __init__(self, service: RunService, verifier: TokenVerifier) -> None:
        self.service = service
        self.verifier = verifier
        self.sessions: set[ClientSession] = set()
        self._claims: weakref.WeakKeyDictionary[ServerConnection, Claims] = (
            weakref.WeakKeyDictionary())

    async def process_request(self, connection: ServerConnection,
                              request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == HEALTH_PATH:
            return json_response(http.HTTPStatus.OK, {"status": "ok"})
        if path != PATH:
            return json_response(http.HTTPStatus.NOT_FOUND,
                                 {"error": "not_found", "message": f"use {PATH}"})
        try:
            claims = await self.verifier.verify(token_from_headers(request.headers))
        except TokenRefused as refused:
            return json_response(http.HTTPStatus.UNAUTHORIZED,
                                 {"error": "invalid_token", "reason": refused.reason})
        self._claims[connection] = claims
        return None

    @staticmethod
    def select_subprotocol(connection: ServerConnection,
                           subprotocols: Sequence[Subprotocol]) -> Subprotocol | None:
        return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in subprotocols else None

    async def handle(self, websocket: ServerConnection) -> None:
        claims = self._claims.pop(websocket)
        client = ClientSession(self, websocket, claims)
        self.sessions.add(client)
        pump: asyncio.Task[None] | None = None
        try:
            client.session_id = await self.service.open_session(
                client.user_id, client.connection_id, claims.jti)
            client.send_frame({"type": "connection_established",
                               "connection_id": client.connection_id,
                               "user_id": client.user_id})
            pump = asyncio.create_task(client.pump(), name=f"send {client.connection_id}")
            receiver = asyncio.create_task(self._receive(client))
            done, _ = await asyncio.wait({pump, receiver}, return_when=asyncio.FIRST_COMPLETED)
            for task in (pump, receiver):
                if task not in done:
                    task.cancel()
            await asyncio.gather(pump, receiver, return_exceptions=True)
        finally:
            client.unfollow_all()
            self.sessions.discard(client)
            if pump is not None and not pump.done():
                pump.cancel()
            if client.session_id is not None:
                close = websocket.protocol.close_rcvd
                ended = close is not None and close.code == 1000
                try:
                    await asyncio.shield(self.service.close_session(
                        client.user_id, client.session_id, client.connection_id, ended=ended))
                except Exception:
                    log.exception("session %s not closed cleanly", client.session_id)

    @staticmethod
    async def _receive(client: ClientSession) -> None:
        try:
            async for raw in client.websocket:
                await client.handle_frame(raw)
        except ConnectionClosed:
            pass
