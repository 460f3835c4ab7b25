"""The WebSocket gateway: wire contract v1 (§5) over the `websockets` asyncio server.

A thin adapter. `process_request` authenticates before the upgrade (HTTP 401 with a JSON
body naming the reason); each accepted connection gets a `ClientSession`
(chat.connection) that turns frames (chat.frames) into calls on `RunService` and sends
events back, and the session is closed in `finally`. Hostile input never takes down a
connection or the server: every text frame gets an answer in its place, and the
connection stays open. Close codes (RFC 6455), the only ways a connection ends that the
client did not choose:
- 4401 "token expired": the sign-in ran out during the session (after an `error` event
  `token_expired`); the session is recorded `ended`. Connect again with a new token.
- 1007: a text frame that is not valid UTF-8 (closed by the websockets library).
- 1009: a frame over the 1 MiB transport limit (closed by the library).
- 1002: a frame that breaks the WebSocket framing itself (closed by the library).
- 1001: the service is shutting down.
- 1013 "service unavailable": the database could not record the session (after the
  greeting and an `error` event `unavailable`); connect again shortly. The greeting does
  not wait for the session to be recorded; the client's frames do.
- 1013 "too slow": the client left more than `MAX_OUTBOUND_ITEMS` frames unread
  (chat.connection), so the gateway stopped buffering for it; connect again and resume
  from the last `seq` seen.
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
import weakref
from collections.abc import Sequence
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from chat.auth import SUBPROTOCOL, Claims, TokenRefused, TokenVerifier, token_from_headers
from chat.connection import ClientSession
from chat.runs import RunService

__all__ = ["HEALTH_PATH", "MAX_FRAME_BYTES", "PATH", "Gateway", "json_response"]

log = logging.getLogger("chat.gateway")

PATH = "/ws"
HEALTH_PATH = "/healthz"
MAX_FRAME_BYTES = 1024 * 1024


def json_response(status: http.HTTPStatus, body: dict[str, Any]) -> Response:
    data = json.dumps(body).encode()
    headers = Headers([
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
        ("Connection", "close"),
    ])
    return Response(status.value, status.phrase, headers, data)


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
        client = ClientSession(self.service, websocket, claims, self.verifier.leeway_s)
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
