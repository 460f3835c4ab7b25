"""One port, two protocols: WebSocket upgrades go to the gateway, other HTTP requests to a
handler that may stream its answer (the AG-UI endpoint, DESIGN §5.2).

websockets' server answers a request it does not upgrade with one whole `Response`
(`process_request`) and refuses any method but GET, so an answer that streams cannot come
from it. `RoutingConnection` is the gateway's `ServerConnection` (websockets'
`create_connection` hook) that waits for the request line first: a POST is handed, on
the same transport, to an `HttpExchange` (h11, the sans-I/O HTTP/1.1 of httpx); anything
else goes to websockets untouched, as if it had arrived there directly.

An `HttpExchange` reads one request (head and body, both bounded), runs the handler in a
task and closes the connection when the handler is done. Its `Reply` writes the answer:
whole (`json`) or streamed (`start`, `send`), waiting while the client reads slowly. A
client that goes away cancels the handler's task; what the handler started on the
service side (a run) goes on without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import h11
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers

__all__ = ["HttpRequest", "Reply", "RoutingConnection", "Streams"]

log = logging.getLogger(__name__)

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
# A connection that has not sent its request line by then is closed.
REQUEST_LINE_TIMEOUT_S = 10.0
# A client that reads nothing of the answer for this long is disconnected.
WRITE_STALL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class HttpRequest:
    """A request read whole: method, path (without the query), headers, body."""

    method: str
    target: str
    headers: Headers
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


Handler = Callable[[HttpRequest, "Reply"], Awaitable[None]]


class ClientGone(ConnectionError):
    """The client closed its connection while the answer was being written."""


class Reply:
    """The answer of one exchange: one status and headers, then body bytes."""

    def __init__(self, exchange: HttpExchange) -> None:
        self._exchange = exchange
        self.started = False

    async def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Send the status line and headers; the body follows with `send`."""
        self.started = True
        await self._exchange.write(h11.Response(status_code=status, headers=[
            *headers, ("Connection", "close")]))

    async def send(self, data: bytes) -> None:
        await self._exchange.write(h11.Data(data=data))

    async def json(self, status: int, body: dict[str, Any]) -> None:
        """A whole JSON answer."""
        data = json.dumps(body).encode()
        await self.start(status, [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(data)))])
        await self.send(data)


class Streams:
    """The exchanges under way, so the service can end them when it stops."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class HttpExchange(asyncio.Protocol):
    """One HTTP/1.1 request and its answer on a connection taken over from websockets."""

    def __init__(self, handler: Handler, streams: Streams) -> None:
        self._handler = handler
        self._streams = streams
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._transport: asyncio.Transport | None = None
        self._request: h11.Request | None = None
        self._body = bytearray()
        self._task: asyncio.Task[None] | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._task is not None:
            return  # one request per connection; anything after it is not read
        self._h11.receive_data(data)
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                self._answer_now(400, {"error": "bad_request", "message": str(exc)})
                return
            if event is h11.NEED_DATA:
                return
            if isinstance(event, h11.Request):
                self._request = event
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > MAX_BODY_BYTES:
                    self._answer_now(413, {"error": "too_large",
                                           "message": f"the body is over {MAX_BODY_BYTES} bytes"})
                    return
            elif isinstance(event, h11.EndOfMessage):
                self._run()
                return
            else:
                return

    def _answer_now(self, status: int, body: dict[str, Any]) -> None:
        self._task = asyncio.get_running_loop().create_task(self._answer(status, body))

    async def _answer(self, status: int, body: dict[str, Any]) -> None:
        try:
            await Reply(self).json(status, body)
        except (ClientGone, h11.LocalProtocolError):
            pass
        self._finish()

    def _run(self) -> None:
        assert self._request is not None
        request = HttpRequest(
            self._request.method.decode("ascii", "replace"),
            self._request.target.decode("ascii", "replace"),
            Headers([(k.decode("latin-1"), v.decode("latin-1"))
                     for k, v in self._request.headers]),
            bytes(self._body))
        self._task = asyncio.get_running_loop().create_task(self._serve(request))
        self._streams.tasks.add(self._task)
        self._task.add_done_callback(self._streams.tasks.discard)

    async def _serve(self, request: HttpRequest) -> None:
        reply = Reply(self)
        try:
            await self._handler(request, reply)
        except ClientGone:
            pass
        except Exception:
            log.exception("%s %s not answered", request.method, request.path)
            if not reply.started and not self._lost:
                with contextlib.suppress(ClientGone, h11.LocalProtocolError):
                    await reply.json(500, {"error": "internal_error",
                                           "message": "the service could not answer"})
        finally:
            self._finish()

    def _finish(self) -> None:
        if self._lost or self._transport is None or self._transport.is_closing():
            return
        try:
            if self._h11.our_state is h11.SEND_BODY:
                self._transport.write(self._h11.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError:
            pass
        self._transport.close()

    async def write(self, event: Any) -> None:
        """Send one h11 event, after waiting for the client to read what is pending (a
        client that reads nothing for WRITE_STALL_TIMEOUT_S is disconnected)."""
        try:
            async with asyncio.timeout(WRITE_STALL_TIMEOUT_S):
                await self._writable.wait()
        except TimeoutError:
            if self._transport is not None:
                self._transport.abort()
            raise ClientGone("the client stopped reading") from None
        if self._lost or self._transport is None:
            raise ClientGone("the client closed the connection")
        data = self._h11.send(event)
        if data:
            self._transport.write(data)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._writable.set()
        if self._task is not None and not self._task.done():
            self._task.cancel()


class RoutingConnection(ServerConnection):
    """A gateway connection that hands a POST to `handler` instead of websockets."""

    def __init__(self, *args: Any, handler: Handler, streams: Streams, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handler = handler
        self._streams = streams
        self._head = b""
        self._routed = False
        self._upgrading = False
        self._waiting: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._waiting = transport
        self._deadline = asyncio.get_running_loop().call_later(
            REQUEST_LINE_TIMEOUT_S, transport.abort)

    def data_received(self, data: bytes) -> None:
        if self._routed:
            super().data_received(data)
            return
        self._head += data
        if b"\n" not in self._head and len(self._head) < MAX_HEAD_BYTES:
            return
        transport, head = self._waiting, self._head
        assert transport is not None
        self._routed, self._head, self._waiting = True, b"", None
        if self._deadline is not None:
            self._deadline.cancel()
        if head.split(b" ", 1)[0] == b"POST":
            exchange = HttpExchange(self._handler, self._streams)
            transport.set_protocol(exchange)
            exchange.connection_made(transport)
            exchange.data_received(head)
            return
        self._upgrading = True
        super().connection_made(transport)
        super().data_received(head)

    def eof_received(self) -> None:
        if self._upgrading:
            super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        if self._upgrading:
            super().connection_lost(exc)
