"""Contract v1 over WebSocket: the suite's one WebSocket client (DESIGN §5).

The suite talks to the product the way a user's app does: a WebSocket, a sign-in in the
handshake (a header, or the `bearer` subprotocol for browser-style clients), JSON frames.
Nothing here knows how the service is built, so the same driver checks our reference
service and any other backend that claims the contract.

What a misbehaving app does is an option of the same client, not a second one: `send_raw`
sends any text or binary frame, `send_undecodable` sends bytes that are not UTF-8 in a
text frame, and `open(..., reading=False)` gives a connection whose app never reads (a
small receive buffer, and the library stops reading after one unread frame). The client
records the latencies a user feels (`connect_auth`, `first_event`, `message_to_completed`,
`thread_creation`) in `support.metrics.METRICS`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from support.contract import CLOSE_NORMAL, GREETING, HEALTH_PATH, MAX_FRAME_BYTES
from support.metrics import METRICS
from support.wire.codec import (
    AUTHORIZATION_SCHEMES,
    Event,
    Refusal,
    RunSeen,
    SentMessage,
    decode,
    refusal_of,
    resume_frame,
    user_message,
)
from support.wire.log import EventLog

__all__ = ["ChatClient", "V1Target"]

STALLED_RECEIVE_BUFFER = 4096


class ChatClient:
    """One WebSocket connection to the gateway, speaking wire contract v1."""

    def __init__(self, connection: ClientConnection, log: EventLog, timeout: float, *,
                 reading: bool = True) -> None:
        self._connection = connection
        self.log = log
        self.timeout = timeout
        self.connection_id: str | None = None
        self.user_id: str | None = None
        self.opened_at = time.perf_counter()
        self.subprotocol: str | None = connection.subprotocol
        self.offered_subprotocol = False
        self._reader = asyncio.get_running_loop().create_task(self._read()) if reading else None

    @classmethod
    async def open(
        cls,
        url: str,
        token: str | None,
        *,
        timeout: float,
        via: str = "header",
        reading: bool = True,
    ) -> ChatClient | Refusal:
        """Connect and wait for `connection_established`, or return the server's refusal.

        `via` is how the sign-in travels: `header` (Authorization: Bearer), `subprotocol`
        (the browser form: subprotocols `bearer` and the token), or two ways the contract
        forbids, used to check that they are refused: `query` (`?token=`) and
        `other-scheme` (Authorization: Token). `reading=False` opens a
        connection whose app never reads, and does not wait for the greeting.
        """
        headers: dict[str, str] = {}
        subprotocols: list[str] | None = None
        target = url
        if token is not None and via in AUTHORIZATION_SCHEMES:
            headers["Authorization"] = f"{AUTHORIZATION_SCHEMES[via]} {token}"
        elif token is not None and via == "subprotocol":
            subprotocols = ["bearer", token]
        elif token is not None and via == "query":
            target = f"{url}{'&' if '?' in url else '?'}token={token}"
        options: dict[str, Any] = {}
        if not reading:
            options = {"sock": await _small_buffer_socket(url), "max_queue": 1,
                       "ping_interval": None}
        started = time.perf_counter()
        try:
            connection = await connect(
                target,
                additional_headers=headers or None,
                subprotocols=subprotocols,  # type: ignore[arg-type]
                open_timeout=timeout,
                max_size=MAX_FRAME_BYTES,
                proxy=None,
                **options,
            )
        except InvalidStatus as refused:
            return refusal_of(refused.response.status_code, refused.response.body)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise AssertionError(f"could not reach the chat gateway at {url}: {exc}") from None
        client = cls(connection, EventLog(), timeout, reading=reading)
        client.offered_subprotocol = subprotocols is not None
        client.opened_at = started
        if reading:
            greeting = await client.log.expect(
                lambda r: r.type == GREETING,
                what=f"the greeting that confirms the connection ({GREETING})",
                timeout=timeout,
            )
            METRICS.observe("connect_auth", greeting.at - started)
            hello: Mapping[str, Any] = greeting.frame
        else:
            hello = await client.read_one()
        client.connection_id = hello.get("connection_id")
        client.user_id = hello.get("user_id")
        return client

    async def read_one(self) -> dict[str, Any]:
        """Of a connection that does not read by itself: read the next frame, now."""
        if self._reader is not None:
            raise RuntimeError("this connection reads its frames by itself")
        try:
            async with asyncio.timeout(self.timeout):
                return decode(await self._connection.recv())
        except TimeoutError:
            raise AssertionError(f"expected a frame within {self.timeout:g} s; none came") \
                from None

    async def _read(self) -> None:
        try:
            async for raw in self._connection:
                await self.log.add(decode(raw))
        except ConnectionClosed:
            pass
        finally:
            code = self._connection.close_code
            await self.log.close(code if code is not None else 1006)

    async def send_message(
        self,
        content: str,
        *,
        thread_id: str | None = None,
        message_id: str | None = None,
    ) -> SentMessage:
        """Send a `user_message`; the returned record finds its run later."""
        frame = user_message(content, thread_id=thread_id, message_id=message_id)
        mark = self.log.mark()
        sent_at = time.perf_counter()
        await self._connection.send(json.dumps(frame))
        return SentMessage(content, thread_id, frame["message_id"], mark, sent_at)

    async def resume(self, thread_id: str, after_seq: int) -> int:
        """Ask for a thread's events after `after_seq`; the log position before the reply."""
        return await self.send_raw(json.dumps(resume_frame(thread_id, after_seq)))

    async def send_raw(self, frame: str | bytes) -> int:
        """Send a frame as is (`str` as a text frame, `bytes` as a binary frame); the log
        position before the reply."""
        mark = self.log.mark()
        await self._connection.send(frame)
        return mark

    async def send_undecodable(self, data: bytes) -> int:
        """Send bytes that are not UTF-8 in a frame marked as text."""
        mark = self.log.mark()
        await self._connection.send(data, text=True)
        return mark

    async def first_event_of(self, sent: SentMessage) -> Event:
        """The first event answering `sent` (its run's `agent_started`, or a replay)."""
        received = await self.log.expect(
            lambda r: r.is_event,
            what=f"the agents to start on {sent.content!r}",
            timeout=self.timeout,
            start=sent.mark,
        )
        METRICS.observe("first_event", received.at - sent.sent_at)
        event = Event.from_frame(received.frame)
        if sent.thread_id is None:
            METRICS.observe("thread_creation", received.at - sent.sent_at)
        return event

    async def run_of(self, sent: SentMessage, *, timeout: float | None = None) -> RunSeen:
        """Wait for the whole run answering `sent`: its events up to `agent_completed`."""
        first = await self.first_event_of(sent)
        limit = self.timeout if timeout is None else timeout
        received = await self.log.expect(
            lambda r: r.type == "agent_completed" and r.frame.get("run_id") == first.run_id,
            what=f"the answer to {sent.content!r} (agent_completed of run {first.run_id})",
            timeout=limit,
            start=sent.mark,
        )
        METRICS.observe("message_to_completed", received.at - sent.sent_at)
        return RunSeen(
            first.run_id,
            first.thread_id,
            self.log.events(start=sent.mark, run_id=first.run_id),
        )

    async def close(self, code: int = CLOSE_NORMAL) -> None:
        """Close with `code` (a normal close, 1000, ends the session), waiting for the
        close handshake."""
        await self._connection.close(code)
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=self.timeout)

    async def drop(self) -> None:
        """Lose the connection without a close handshake, as a dropped network would."""
        transport = self._connection.transport
        if transport is not None:
            transport.abort()
        if self._reader is not None:
            await asyncio.wait({self._reader}, timeout=self.timeout)

    @property
    def is_open(self) -> bool:
        if self._reader is None:
            return self._connection.close_code is None
        return not self.log.closed


async def _small_buffer_socket(url: str) -> socket.socket:
    """A connected socket with a small receive buffer, for a connection that never reads."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RECEIVE_BUFFER)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port or 80))
    return sock


class V1Target:
    """A chat target reached over contract v1 at a `ws://…/ws` URL (see `support.wire`)."""

    protocol = "v1"

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout

    async def health(self) -> int:
        """The HTTP status of the service's health check (GET /healthz on the same host)."""
        parts = urlsplit(self.url)
        scheme = "https" if parts.scheme == "wss" else "http"
        address = f"{scheme}://{parts.netloc}{HEALTH_PATH}"

        def status() -> int:
            try:
                with urllib.request.urlopen(address, timeout=self.timeout) as answer:
                    return int(answer.status)
            except urllib.error.HTTPError as refused:
                return int(refused.code)
            except OSError as exc:
                raise AssertionError(f"could not reach {address}: {exc}") from None

        return await asyncio.to_thread(status)

    async def open(self, token: str | None, *, via: str = "header",
                   reading: bool = True) -> ChatClient | Refusal:
        return await ChatClient.open(self.url, token, timeout=self.timeout, via=via,
                                     reading=reading)
