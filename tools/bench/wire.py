"""The benchmark's client and its raw WebSocket baseline server.

The suite's `ChatClient` keeps a searchable log of every frame, which is what a step
needs and more than a timing loop should pay for. `WireUser` speaks the same contract
(DESIGN §5) with the least client work, so the time measured is the gateway's and the
network's; it reads the contract's limits and decodes frames with the harness's own
contract and codec (`support.contract`, `support.wire.codec`), never a copy of them. `RawServer` is the baseline: a `websockets` server with no authentication
that greets each connection and echoes each frame, run in the same process (or, through
`python -m tools.bench.rawserver`, in a process of its own) the way the gateway runs.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from support.contract import CLOSE_NORMAL, MAX_FRAME_BYTES
from support.wire.codec import decode

BACKLOG = 1024


class WireError(AssertionError):
    """The gateway did not answer as the contract says; the message says what came."""


@dataclass(frozen=True)
class RunResult:
    """One run as the user saw it: `seconds` from sending to `agent_completed`."""

    run_id: str
    thread_id: str
    status: str
    response: str
    seconds: float


class WireUser:
    """One open connection of one user."""

    def __init__(self, connection: ClientConnection, hello: dict[str, Any]) -> None:
        self.connection = connection
        self.hello = hello

    @classmethod
    async def connect(cls, url: str, token: str | None, *, timeout: float) -> WireUser:
        """Connect (the token in the Authorization header) and wait for the first frame."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        async with asyncio.timeout(timeout):
            connection = await connect(url, additional_headers=headers, proxy=None,
                                       max_size=MAX_FRAME_BYTES, open_timeout=None)
            hello = decode(await connection.recv())
        return cls(connection, hello)

    async def ask(self, content: str, *, thread_id: str | None = None,
                  timeout: float) -> RunResult:
        """Send a question; wait for its run's `agent_completed`."""
        frame = {"type": "user_message", "content": content, "thread_id": thread_id,
                 "message_id": None}
        started = time.perf_counter()
        await self.connection.send(json.dumps(frame))
        async with asyncio.timeout(timeout):
            while True:
                reply = decode(await self.connection.recv())
                kind = reply.get("type")
                if kind == "agent_completed":
                    payload = reply.get("payload") or {}
                    return RunResult(str(reply.get("run_id")), str(reply.get("thread_id")),
                                     str(payload.get("status")), str(payload.get("response")),
                                     time.perf_counter() - started)
                if kind == "error":
                    raise WireError(f"asked {content!r}, got error {reply.get('code')!r}: "
                                    f"{reply.get('message')}")

    async def echo(self, *, timeout: float) -> float:
        """Send one frame to a `RawServer` and wait for its echo; the seconds it took."""
        started = time.perf_counter()
        await self.connection.send('{"type": "ping"}')
        async with asyncio.timeout(timeout):
            await self.connection.recv()
        return time.perf_counter() - started

    async def close(self) -> None:
        """A normal close (code 1000), waiting for the closing handshake."""
        await self.connection.close(CLOSE_NORMAL)

    def abort(self) -> None:
        """Drop the connection without a closing handshake."""
        transport = self.connection.transport
        if transport is not None:
            transport.abort()


async def close_all(users: list[WireUser]) -> None:
    """Close every connection normally; connections already gone are skipped."""
    await asyncio.gather(*(u.close() for u in users), return_exceptions=True)


class RawServer:
    """A `websockets` server without authentication: greets, then echoes each frame."""

    def __init__(self, server: Server) -> None:
        self.server = server
        port = server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/ws"

    @classmethod
    async def start(cls, host: str = "127.0.0.1", port: int = 0) -> RawServer:
        server = await serve(_greet_and_echo, host, port, max_size=MAX_FRAME_BYTES,
                             backlog=BACKLOG)
        return cls(server)

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def _greet_and_echo(websocket: ServerConnection) -> None:
    try:
        await websocket.send('{"type": "hello"}')
        async for message in websocket:
            await websocket.send(message)
    except ConnectionClosed:
        pass
