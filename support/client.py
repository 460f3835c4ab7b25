"""A chat client that speaks only wire contract v1 (DESIGN §5), and the log of what it heard.

The suite talks to the product the way a user's app does: a WebSocket, a sign-in in the
handshake (a header, or the `bearer` subprotocol for browser-style clients), JSON frames.
Nothing here knows how the service is built, so the same client checks our reference
service and any other backend that claims the contract.

`EventLog` keeps every frame with its arrival time; `expect_event` waits for the frame a
step expects, bounded by the one configured timeout, and when it does not come says what
was expected and what arrived instead. The client records the latencies a user feels
(`connect_auth`, `first_event`, `message_to_completed`, `thread_creation`) in
`support.metrics.METRICS`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from support.metrics import METRICS

EVENT_TYPES = frozenset(
    {"agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"}
)
NORMAL_CLOSURE = 1000
MAX_FRAME_BYTES = 2**20


@dataclass(frozen=True)
class Event:
    """A server event of a run: `{"type", "run_id", "thread_id", "seq", "timestamp", "payload"}`."""

    type: str
    run_id: str
    thread_id: str
    seq: int
    timestamp: Any
    payload: Mapping[str, Any]

    @classmethod
    def from_frame(cls, frame: Mapping[str, Any]) -> Event:
        """The event of a frame; a missing seq reads as -1 and a missing payload as {}."""
        seq, payload = frame.get("seq"), frame.get("payload")
        return cls(
            type=str(frame.get("type")),
            run_id=str(frame.get("run_id")),
            thread_id=str(frame.get("thread_id")),
            seq=seq if isinstance(seq, int) else -1,
            timestamp=frame.get("timestamp"),
            payload=payload if isinstance(payload, dict) else {},
        )

    @property
    def agent(self) -> str | None:
        return self.payload.get("agent")

    @property
    def call_id(self) -> str | None:
        return self.payload.get("call_id")

    @property
    def tool(self) -> str | None:
        return self.payload.get("tool")

    @property
    def status(self) -> str | None:
        return self.payload.get("status")

    def describe(self) -> str:
        """Short product-facing label, e.g. `tool_completed (seq 5, calculator, call c1)`."""
        details = [f"seq {self.seq}"]
        if self.type in ("agent_started", "agent_thinking") and self.agent:
            details.append(str(self.agent))
        if self.type in ("tool_executing", "tool_completed"):
            details.append(f"{self.tool}, call {self.call_id}")
        if self.type in ("tool_completed", "agent_completed") and self.status:
            details.append(str(self.status))
        return f"{self.type} ({', '.join(details)})"


@dataclass(frozen=True)
class ErrorReply:
    """An `{"type": "error", "code", "message"}` frame."""

    code: str
    message: str


@dataclass(frozen=True)
class Received:
    """One frame as it arrived (`at` is `time.perf_counter()` on arrival)."""

    frame: Mapping[str, Any]
    at: float

    @property
    def type(self) -> str:
        return str(self.frame.get("type"))

    @property
    def is_event(self) -> bool:
        return self.type in EVENT_TYPES

    def describe(self) -> str:
        if self.is_event:
            return Event.from_frame(self.frame).describe()
        if self.type == "error":
            return f"error {self.frame.get('code')!r}"
        return self.type


@dataclass(frozen=True)
class Refusal:
    """A handshake the server refused: HTTP status and the `reason` of its JSON body."""

    status: int
    error: str | None
    reason: str | None
    body: str

    def describe(self) -> str:
        return f"HTTP {self.status} with reason {self.reason!r}"


class EventLog:
    """Every frame one connection received, in order, plus how the connection closed."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.close_code: int | None = None
        self.closed = False
        self._changed = asyncio.Condition()

    def mark(self) -> int:
        """Position of the next frame; pass it as `start` to wait only for newer frames."""
        return len(self.received)

    async def add(self, frame: Mapping[str, Any]) -> None:
        async with self._changed:
            self.received.append(Received(frame, time.perf_counter()))
            self._changed.notify_all()

    async def close(self, code: int | None) -> None:
        async with self._changed:
            self.closed, self.close_code = True, code
            self._changed.notify_all()

    def events(
        self, *, start: int = 0, run_id: str | None = None, thread_id: str | None = None
    ) -> list[Event]:
        found = [Event.from_frame(r.frame) for r in self.received[start:] if r.is_event]
        return [
            e
            for e in found
            if (run_id is None or e.run_id == run_id)
            and (thread_id is None or e.thread_id == thread_id)
        ]

    def errors(self, *, start: int = 0) -> list[ErrorReply]:
        return [
            ErrorReply(str(r.frame.get("code")), str(r.frame.get("message")))
            for r in self.received[start:]
            if r.type == "error"
        ]

    def summary(self, *, start: int = 0, limit: int = 12) -> str:
        """What arrived since `start`, in reader's terms, for failure messages."""
        seen = [r.describe() for r in self.received[start:]]
        if len(seen) > limit:
            seen = [f"... {len(seen) - limit} earlier"] + seen[-limit:]
        text = ", ".join(seen) if seen else "nothing"
        if self.closed:
            text += f"; then the connection closed (code {self.close_code})"
        return text

    async def expect(
        self,
        matches: Callable[[Received], bool],
        *,
        what: str,
        timeout: float,
        start: int = 0,
    ) -> Received:
        """The first frame from `start` on for which `matches` is true, waiting if needed."""
        position = start

        def found() -> Received | None:
            nonlocal position
            while position < len(self.received):
                candidate = self.received[position]
                position += 1
                if matches(candidate):
                    return candidate
            return None

        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    while True:
                        hit = found()
                        if hit is not None:
                            return hit
                        if self.closed:
                            break
                        await self._changed.wait()
        except TimeoutError:
            pass
        raise AssertionError(
            f"expected {what} within {timeout:g} s; arrived: {self.summary(start=start)}"
        )

    async def expect_event(
        self,
        type: str | None = None,
        *,
        timeout: float,
        start: int = 0,
        run_id: str | None = None,
        thread_id: str | None = None,
        where: Callable[[Event], bool] | None = None,
        what: str | None = None,
    ) -> Event:
        """Wait for a server event of `type` (and run, thread, extra condition)."""

        def matches(received: Received) -> bool:
            if not received.is_event:
                return False
            event = Event.from_frame(received.frame)
            return (
                (type is None or event.type == type)
                and (run_id is None or event.run_id == run_id)
                and (thread_id is None or event.thread_id == thread_id)
                and (where is None or where(event))
            )

        label = what or (type or "an event") + (f" of run {run_id}" if run_id else "")
        hit = await self.expect(matches, what=label, timeout=timeout, start=start)
        return Event.from_frame(hit.frame)

    async def expect_error(
        self, code: str | None = None, *, timeout: float, start: int = 0, what: str | None = None
    ) -> ErrorReply:
        """Wait for an error frame (with `code`, when given)."""
        what = what or (f"an error {code!r}" if code else "an error")
        hit = await self.expect(
            lambda r: r.type == "error" and (code is None or r.frame.get("code") == code),
            what=what,
            timeout=timeout,
            start=start,
        )
        return ErrorReply(str(hit.frame.get("code")), str(hit.frame.get("message")))

    async def eventually(
        self, condition: Callable[[EventLog], bool], *, what: str, timeout: float
    ) -> None:
        """Wait until `condition(log)` holds; it is re-checked whenever a frame arrives."""
        try:
            async with asyncio.timeout(timeout):
                async with self._changed:
                    while not condition(self):
                        if self.closed:
                            break
                        await self._changed.wait()
                    else:
                        return
        except TimeoutError:
            pass
        if condition(self):
            return
        raise AssertionError(f"expected {what} within {timeout:g} s; arrived: {self.summary()}")

    async def wait_closed(self, *, timeout: float) -> int | None:
        """Wait for the connection to close; the close code."""
        await self.eventually(lambda log: log.closed, what="the connection to close", timeout=timeout)
        return self.close_code


@dataclass
class SentMessage:
    """A `user_message` as sent: where the log stood and when, to find its run."""

    content: str
    thread_id: str | None
    message_id: str | None
    mark: int
    sent_at: float


@dataclass
class RunSeen:
    """One run as a client saw it, from its first event to `agent_completed`."""

    run_id: str
    thread_id: str
    events: list[Event] = field(default_factory=list)

    @property
    def completion(self) -> Event | None:
        done = [e for e in self.events if e.type == "agent_completed"]
        return done[-1] if done else None

    @property
    def response(self) -> str | None:
        done = self.completion
        return None if done is None else done.payload.get("response")


class ChatClient:
    """One WebSocket connection to the gateway, speaking wire contract v1."""

    def __init__(self, connection: ClientConnection, log: EventLog, timeout: float) -> None:
        self._connection = connection
        self.log = log
        self.timeout = timeout
        self.connection_id: str | None = None
        self.user_id: str | None = None
        self.subprotocol: str | None = connection.subprotocol
        self.offered_subprotocol = False
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(
        cls,
        url: str,
        token: str | None,
        *,
        timeout: float,
        via: str = "header",
    ) -> ChatClient | Refusal:
        """Connect and wait for `connection_established`, or return the server's refusal.

        `via` is how the sign-in travels: `header` (Authorization: Bearer), `subprotocol`
        (the browser form: subprotocols `bearer` and the token) or `query` (`?token=`, which
        the contract forbids; used to check that it is refused).
        """
        headers: dict[str, str] = {}
        subprotocols: list[str] | None = None
        target = url
        if token is not None and via == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif token is not None and via == "subprotocol":
            subprotocols = ["bearer", token]
        elif token is not None and via == "query":
            target = f"{url}{'&' if '?' in url else '?'}token={token}"
        started = time.perf_counter()
        try:
            connection = await connect(
                target,
                additional_headers=headers or None,
                subprotocols=subprotocols,  # type: ignore[arg-type]
                open_timeout=timeout,
                max_size=MAX_FRAME_BYTES,
                proxy=None,
            )
        except InvalidStatus as refused:
            return _refusal(refused)
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise AssertionError(f"could not reach the chat gateway at {url}: {exc}") from None
        client = cls(connection, EventLog(), timeout)
        client.offered_subprotocol = subprotocols is not None
        hello = await client.log.expect(
            lambda r: r.type == "connection_established",
            what="the greeting that confirms the connection (connection_established)",
            timeout=timeout,
        )
        METRICS.observe("connect_auth", hello.at - started)
        client.connection_id = hello.frame.get("connection_id")
        client.user_id = hello.frame.get("user_id")
        return client

    async def _read(self) -> None:
        try:
            async for raw in self._connection:
                try:
                    frame = json.loads(raw)
                except (TypeError, ValueError):
                    frame = {"type": "<not JSON>", "raw": str(raw)[:200]}
                if not isinstance(frame, dict):
                    frame = {"type": "<not an object>", "raw": str(raw)[:200]}
                await self.log.add(frame)
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
        frame = {
            "type": "user_message",
            "content": content,
            "thread_id": thread_id,
            "message_id": message_id if message_id is not None else f"m-{uuid.uuid4().hex}",
        }
        mark = self.log.mark()
        sent_at = time.perf_counter()
        await self._connection.send(json.dumps(frame))
        return SentMessage(content, thread_id, frame["message_id"], mark, sent_at)

    async def resume(self, thread_id: str, after_seq: int) -> int:
        """Ask for a thread's events after `after_seq`; the log position before the reply."""
        mark = self.log.mark()
        await self._connection.send(
            json.dumps({"type": "resume", "thread_id": thread_id, "after_seq": after_seq})
        )
        return mark

    async def send_raw(self, text: str) -> int:
        """Send any text frame as is; the log position before the reply."""
        mark = self.log.mark()
        await self._connection.send(text)
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

    async def close(self) -> None:
        """End the session: a normal close (code 1000), waiting for the close handshake."""
        await self._connection.close(NORMAL_CLOSURE)
        await asyncio.wait({self._reader}, timeout=self.timeout)

    async def drop(self) -> None:
        """Lose the connection without a close handshake, as a dropped network would."""
        transport = self._connection.transport
        if transport is not None:
            transport.abort()
        await asyncio.wait({self._reader}, timeout=self.timeout)

    @property
    def is_open(self) -> bool:
        return not self.log.closed


def _refusal(refused: InvalidStatus) -> Refusal:
    body_bytes = refused.response.body or b""
    body = body_bytes.decode("utf-8", "replace")
    error: str | None = None
    reason: str | None = None
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            error, reason = parsed.get("error"), parsed.get("reason")
    except ValueError:
        pass
    return Refusal(refused.response.status_code, error, reason, body)


# Things an app could send that the service cannot use, as the features describe them.
UNUSABLE_FRAMES: dict[str, str] = {
    "something that cannot be read at all": "{this is not json",
    "a message of a kind the service does not know": json.dumps({"type": "dance", "content": "hello"}),
    "a message without any text": json.dumps(
        {"type": "user_message", "thread_id": None, "message_id": None}
    ),
    "a question longer than 64 KiB": json.dumps(
        {"type": "user_message", "content": "x" * (64 * 1024 + 1), "thread_id": None,
         "message_id": None}
    ),
}

# What the user is told, in words -> the error code of the contract.
ERROR_CODES: dict[str, str] = {
    "her message could not be read": "invalid_json",
    "the kind of message is not known": "unknown_type",
    "the message is incomplete": "invalid_message",
    "the message is too large": "message_too_large",
    "the conversation does not exist": "not_found",
}
