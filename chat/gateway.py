"""The WebSocket gateway: wire contract v1 (§5) over the `websockets` asyncio server.

A thin adapter. `process_request` authenticates before the upgrade (HTTP 401 with a JSON
body naming the reason); each accepted connection gets one handler that turns frames into
calls on `RunService` and sends events back, and cleans up in `finally`. All frames to a
client go through one queue and one writer task, so replayed and live events never
interleave out of order, and errors keep their place among events.

Hostile input never takes down a connection or the server. Every text frame gets an
answer in its place: an `error` event (`invalid_json`, `invalid_message`, `unknown_type`,
`message_too_large`, `not_found`; `internal_error` if handling it failed unexpectedly,
which is logged) or the events of the run it starts. Frames that are not JSON (or nest
deeper than the parser goes, or carry numbers it will not read), binary frames (the
contract speaks JSON text), strings with NUL characters or unpaired surrogates (no store
keeps them), ids over 200 characters and `after_seq` outside 0..2**31-1 are answered with
an error and the connection stays open. Close codes (RFC 6455), the only ways a connection
ends that the client did not choose:
- 4401 "token expired": the sign-in ran out during the session (after an `error` event
  `token_expired`); the session is recorded `ended`. Connect again with a new token.
- 1007: a text frame that is not valid UTF-8 (closed by the websockets library).
- 1009: a frame over the 1 MiB transport limit (closed by the library).
- 1002: a frame that breaks the WebSocket framing itself (closed by the library).
- 1001: the service is shutting down.
- 1013 "service unavailable": the database could not record the session (after the
  greeting and an `error` event `unavailable`); connect again shortly. The greeting does
  not wait for the session to be recorded; the client's frames do.
- 1013 "too slow": the client left more than `MAX_OUTBOUND_ITEMS` frames unread, so the
  gateway stopped buffering for it; connect again and resume from the last `seq` seen.
While the database is away a frame that needs it is answered with an `error` event
`unavailable`, and nothing of it is written.

A refused handshake is one log line (INFO for a token refused, WARNING when the sign-in
could not be checked, e.g. the cache holding the revocation list is away, which is
answered 503 `unavailable`), never a traceback: refusals are routine, and a crowd of
them must not bury the log.
"""

from __future__ import annotations

import asyncio
import http
import json
import logging
import time
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
from chat.ids import new_connection_id, new_session_id
from chat.runs import NotFound, RunService, Unavailable

log = logging.getLogger("chat.gateway")

PATH = "/ws"
HEALTH_PATH = "/healthz"
MAX_CONTENT_BYTES = 64 * 1024
MAX_FRAME_BYTES = 1024 * 1024
MAX_CLIENT_ID_CHARS = 200
MAX_SEQ = 2**31 - 1
TOKEN_EXPIRED_CLOSE = 4401
TOKEN_EXPIRED_REASON = "token expired"
# After the close of an expired session is queued, how long a stalled writer may delay it.
CLOSE_GRACE_S = 5.0
# Frames and events waiting to be sent to one client; beyond this it is closed as too slow.
MAX_OUTBOUND_ITEMS = 256
TRY_AGAIN_CLOSE = 1013
# Longest single timer wait while a session runs towards its token's end.
MAX_TIMER_S = 86400.0
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
    # Per thread, the `after_seq` of the latest resume: the client has everything up to
    # it, so a live event at or below it (published late by another gateway) is not sent.
    floor: dict[str, int] = field(default_factory=dict)


class ClientSession:
    """One accepted connection: its ids, its outbound queue and what it follows."""

    def __init__(self, gateway: Gateway, websocket: ServerConnection, claims: Claims) -> None:
        self.gateway = gateway
        self.websocket = websocket
        self.claims = claims
        self.user_id = claims.user_id
        self.connection_id = new_connection_id()
        self.session_id = new_session_id()
        # Recording the session runs beside the greeting; frames and the close wait for it.
        self.recording: asyncio.Task[bool] | None = None
        self.outbound: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.following = _Following()
        self.sent_seq: dict[str, int] = {}
        self.closed = False
        self.ends_at = claims.session_ends_at(gateway.verifier.leeway_s)
        self.expired = False
        self.too_slow = False
        self._closing: asyncio.Task[None] | None = None

    # outbound -----------------------------------------------------------------------

    def _put(self, item: tuple[str, Any]) -> None:
        """Queue for the writer; a client that lets the queue fill up is closed."""
        if self.too_slow:
            return
        if self.outbound.qsize() >= MAX_OUTBOUND_ITEMS:
            self._too_slow()
            return
        self.outbound.put_nowait(item)

    def _too_slow(self) -> None:
        log.warning("connection %s does not read; closed as too slow", self.connection_id)
        self.too_slow = True
        self.unfollow_all()
        while not self.outbound.empty():
            self.outbound.get_nowait()
        self._closing = asyncio.get_running_loop().create_task(self._close_too_slow())

    async def _close_too_slow(self) -> None:
        """Close 1013; the close frame waits behind what the client did not read, so
        after CLOSE_GRACE_S the TCP connection is dropped."""
        try:
            async with asyncio.timeout(CLOSE_GRACE_S):
                await self.websocket.close(TRY_AGAIN_CLOSE, "too slow")
        except TimeoutError:
            self.websocket.transport.abort()

    def send_frame(self, frame: dict[str, Any]) -> None:
        self._put(("frame", frame))

    def send_error(self, code: str, message: str) -> None:
        self.send_frame({"type": "error", "code": code, "message": message})

    def _on_live(self, event: dict[str, Any]) -> None:
        self._put(("live", event))

    async def pump(self) -> None:
        """The single writer: frames, replays and live events, in queue order."""
        while True:
            kind, item = await self.outbound.get()
            if kind == "frame":
                await self.websocket.send(json.dumps(item))
            elif kind == "close":
                code, reason = item
                await self.websocket.close(code, reason)
                return
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
                except Unavailable as exc:
                    await self.websocket.send(json.dumps(
                        {"type": "error", "code": "unavailable", "message": str(exc)}))
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
        seq = int(event["seq"])
        return seq > self.sent_seq.get(str(run_id), 0) and seq > self.following.floor.get(
            str(thread_id), 0)

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

    async def expire(self) -> None:
        """End the session when its token does: an `error` event `token_expired`, then
        close code 4401, in queue order after what was already on its way."""
        while (remaining := self.ends_at - time.time()) > 0:
            await asyncio.sleep(min(remaining, MAX_TIMER_S))
        self.expired = True
        self.send_error("token_expired", "the sign-in has expired; connect again with a new one")
        self.outbound.put_nowait(("close", (TOKEN_EXPIRED_CLOSE, TOKEN_EXPIRED_REASON)))
        await asyncio.sleep(CLOSE_GRACE_S)
        await self.websocket.close(TOKEN_EXPIRED_CLOSE, TOKEN_EXPIRED_REASON)

    def unfollow_all(self) -> None:
        self.closed = True
        for subscription in self.following.subscriptions.values():
            subscription.close()
        self.following = _Following()

    # session ------------------------------------------------------------------------

    def start_recording(self) -> None:
        self.recording = asyncio.get_running_loop().create_task(
            self._record(), name=f"open {self.connection_id}")

    async def _record(self) -> bool:
        """Record the session (users row, `active` session, cache keys). When the
        database cannot take it, the client is told `unavailable` and the connection is
        closed 1013, in queue order after the greeting; False then."""
        try:
            await self.gateway.service.open_session(
                self.user_id, self.session_id, self.connection_id, self.claims.jti)
        except Unavailable as exc:
            message = str(exc)
        except Exception:
            log.exception("session of connection %s not recorded", self.connection_id)
            message = "the session could not be recorded; connect again shortly"
        else:
            return True
        self.send_error("unavailable", message)
        self.outbound.put_nowait(("close", (TRY_AGAIN_CLOSE, "service unavailable")))
        return False

    async def recorded(self) -> bool:
        """Whether the session is on record (waiting for the recording to finish)."""
        return self.recording is not None and await asyncio.shield(self.recording)

    # inbound ------------------------------------------------------------------------

    async def handle_frame(self, raw: str | bytes) -> None:
        if not await self.recorded():
            return  # the session could not be recorded: the connection is closing
        if self.expired or time.time() >= self.ends_at:
            return  # the token has run out: nothing more is done for this session
        if self.too_slow:
            return  # closing: nothing more is done for a client that does not read
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
                raise FrameError("unknown_type", f"unknown frame type {kind[:60]!r}")
        except FrameError as exc:
            self.send_error(exc.code, exc.message)
        except NotFound as exc:
            self.send_error("not_found", str(exc))
        except Unavailable as exc:
            self.send_error("unavailable", str(exc))
        except Exception:
            log.exception("frame of connection %s not handled", self.connection_id)
            self.send_error("internal_error", "the service could not handle this message")

    @staticmethod
    def _parse(raw: str | bytes) -> dict[str, Any]:
        if not isinstance(raw, str):
            raise FrameError("invalid_message", "binary frames are not read; send JSON text")
        try:
            frame = json.loads(raw)
        except (ValueError, RecursionError):
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
        _check_text(content, "content")
        if len(content.encode("utf-8")) > MAX_CONTENT_BYTES:
            raise FrameError("message_too_large",
                             f"'content' is over {MAX_CONTENT_BYTES // 1024} KiB")
        if not content.strip():
            raise FrameError("invalid_message", "'content' must not be empty")
        if thread_id is not None:
            thread_id = _checked_id(thread_id, "thread_id")
        if message_id is not None:
            message_id = _checked_id(message_id, "message_id")
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
            self._put(("replay", lambda: service.run_events(user_id, run_id)))
        else:
            service.launch(submission)

    async def _resume(self, frame: dict[str, Any]) -> None:
        thread_id = _checked_id(frame.get("thread_id"), "thread_id")
        after_seq = frame.get("after_seq", 0)
        if (not isinstance(after_seq, int) or isinstance(after_seq, bool)
                or not 0 <= after_seq <= MAX_SEQ):
            raise FrameError("invalid_message",
                             f"'after_seq' must be an integer from 0 to {MAX_SEQ}")
        service = self.gateway.service
        if not await service.thread_exists(self.user_id, thread_id):
            raise NotFound(f"thread {thread_id} not found")
        self.follow(thread_id, ALL_RUNS)
        self.following.floor[thread_id] = after_seq
        user_id = self.user_id
        self._put(
            ("replay", lambda: service.thread_events_after(user_id, thread_id, after_seq)))


def _check_text(value: str, name: str) -> None:
    """A client string every store can keep: no NUL, no unpaired surrogate."""
    if "\x00" in value:
        raise FrameError("invalid_message", f"'{name}' must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FrameError("invalid_message", f"'{name}' is not valid Unicode text") from None


def _checked_id(value: Any, name: str) -> str:
    """A client-chosen id: a string of 1 to MAX_CLIENT_ID_CHARS characters (null allowed
    by the caller where the contract allows it)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CLIENT_ID_CHARS:
        raise FrameError("invalid_message", f"'{name}' must be a string of 1 to "
                                            f"{MAX_CLIENT_ID_CHARS} characters")
    _check_text(value, name)
    return value


def _peer(connection: ServerConnection) -> str:
    address = connection.remote_address
    return f"{address[0]}:{address[1]}" if address else "an unknown address"


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
            log.info("handshake from %s refused: %s", _peer(connection), refused.reason)
            return json_response(http.HTTPStatus.UNAUTHORIZED,
                                 {"error": "invalid_token", "reason": refused.reason})
        except Exception as exc:  # noqa: BLE001 - one line per refusal, never a traceback
            log.warning("handshake from %s refused: sign-in not checked (%s: %s)",
                        _peer(connection), type(exc).__name__, exc)
            return json_response(http.HTTPStatus.SERVICE_UNAVAILABLE, {
                "error": "unavailable",
                "message": "the sign-in cannot be checked right now; try again shortly"})
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
            # The greeting goes out first, straight to the socket (nothing can be queued
            # before it); then the session is recorded beside the connection, and every
            # frame of the client waits until it is (see `ClientSession.recorded`).
            try:
                await websocket.send(json.dumps({"type": "connection_established",
                                                 "connection_id": client.connection_id,
                                                 "user_id": client.user_id}))
            except ConnectionClosed:
                return
            client.start_recording()
            pump = asyncio.create_task(client.pump(), name=f"send {client.connection_id}")
            receiver = asyncio.create_task(self._receive(client))
            expiry = asyncio.create_task(client.expire())
            tasks = (pump, receiver, expiry)
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task not in done:
                    task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            client.unfollow_all()
            self.sessions.discard(client)
            if pump is not None and not pump.done():
                pump.cancel()
            if await client.recorded():
                close = websocket.protocol.close_rcvd
                ended = client.expired or (close is not None and close.code == 1000)
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
