"""Contract v1 over a blocking WebSocket, for Locust: one connection, one run at a time.

Locust runs each user in a gevent greenlet and patches the socket module, so a blocking
client is cooperative there, while the suite's asyncio client (`support.wire.v1`) would
need an event loop of its own. This is a thin synchronous client over `websocket-client`:
frames are built and read by `support.wire.codec`, constants come from `support.contract`,
and a run is judged by the contract's rules (`support.wire.rules`), so nothing
of the contract is copied here. Whatever goes wrong raises `StepFailed`, whose text says
which rule was broken or what happened (a refusal, a timeout, a lost connection).
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Mapping
from typing import Any

import websocket

from support.contract import CLOSE_NORMAL, GREETING
from support.wire.codec import (
    Event,
    Received,
    RunSeen,
    decode,
    refusal_of,
    user_message,
)
from support.wire.rules import numbering_problem, run_problem

__all__ = ["StepFailed", "SyncChatClient"]


class StepFailed(Exception):
    """A step of the golden path went wrong; the text names the rule or the cause."""


class SyncChatClient:
    """One signed-in WebSocket connection that asks one question at a time."""

    def __init__(self, connection: websocket.WebSocket, timeout: float) -> None:
        self._connection = connection
        self.timeout = timeout
        self.received_bytes = 0
        self.connection_id: str | None = None
        self._last_seq: dict[str, int] = {}

    @classmethod
    def open(cls, url: str, token: str, user_id: str, *, timeout: float) -> SyncChatClient:
        """Connect with `Authorization: Bearer`, and read the greeting, which must be the
        first frame and name the user signed in."""
        try:
            connection = websocket.create_connection(
                url, timeout=timeout, header=[f"Authorization: Bearer {token}"],
                enable_multithread=False, skip_utf8_validation=True, http_no_proxy=["*"])
        except websocket.WebSocketBadStatusException as refused:
            refusal = refusal_of(refused.status_code, refused.resp_body)
            raise StepFailed(f"the sign-in was refused: {refusal.describe()}") from None
        except (websocket.WebSocketException, OSError) as exc:
            raise StepFailed(f"could not reach the chat gateway at {url}: "
                             f"{type(exc).__name__}: {exc}") from None
        client = cls(connection, timeout)
        try:
            hello = client._next_frame(time.monotonic() + timeout,
                                       what=f"the greeting ({GREETING})")
            if hello.get("type") != GREETING:
                raise StepFailed(f"the first frame was {Received(hello, 0).describe()}, "
                                 f"not {GREETING}")
            if hello.get("user_id") != user_id:
                raise StepFailed(f"greeted as user {hello.get('user_id')!r}, signed in as "
                                 f"{user_id!r}")
        except BaseException:
            client.close()
            raise
        client.connection_id = hello.get("connection_id")
        return client

    def send_message(self, content: str, *, thread_id: str | None = None) -> None:
        """Send a `user_message` (a new conversation when `thread_id` is None)."""
        try:
            self._connection.send(json.dumps(user_message(content, thread_id=thread_id)))
        except (websocket.WebSocketException, OSError) as exc:
            raise StepFailed(f"the connection was lost while sending: "
                             f"{type(exc).__name__}: {exc}") from None

    def first_event(self, content: str, thread_id: str | None) -> Event:
        """The first event answering the message just sent: its run's start, in the
        conversation asked about."""
        frame = self._next_frame(time.monotonic() + self.timeout,
                                 what=f"the agents to start on {content!r}")
        first = self._event(frame)
        if thread_id is not None and first.thread_id != thread_id:
            raise StepFailed(f"the answer came in conversation {first.thread_id}, asked in "
                             f"{thread_id}")
        return first

    def rest_of_run(self, content: str, first: Event) -> RunSeen:
        """Every event of the run up to its `agent_completed`, judged by the contract's
        run rules and numbered on from the conversation's last event seen here."""
        events = [first]
        deadline = time.monotonic() + self.timeout
        while not (events[-1].type == "agent_completed" and events[-1].run_id == first.run_id):
            events.append(self._event(self._next_frame(
                deadline, what=f"the answer to {content!r} (agent_completed)")))
        previous = self._last_seq.get(first.thread_id)
        problem = run_problem(events) or numbering_problem(
            events, first=None if previous is None else previous + 1)
        if problem is None:
            strangers = [e for e in events if e.run_id != first.run_id]
            if strangers:
                problem = f"{strangers[0].describe()} of another run arrived within this run"
        if problem is not None:
            raise StepFailed(problem)
        self._last_seq[first.thread_id] = events[-1].seq
        return RunSeen(first.run_id, first.thread_id, events)

    def close(self) -> None:
        """End the session with a normal close (1000), reading what still arrives until
        the server's close frame (bounded by the timeout), then release the socket.

        `websocket-client`'s own `close` swallows every exception, gevent's `GreenletExit`
        included, which would keep a user that Locust stops running; this one lets it pass.
        """
        connection = self._connection
        try:
            if not connection.connected:
                return
            connection.send_close(CLOSE_NORMAL)
            deadline = time.monotonic() + self.timeout
            while (remaining := deadline - time.monotonic()) > 0:
                connection.settimeout(remaining)
                if connection.recv_frame().opcode == websocket.ABNF.OPCODE_CLOSE:
                    return
        except (websocket.WebSocketException, OSError):
            return
        finally:
            connection.shutdown()

    def _event(self, frame: Mapping[str, Any]) -> Event:
        received = Received(frame, 0)
        if received.is_event:
            return Event.from_frame(frame)
        if received.type == "error":
            raise StepFailed(f"the service answered with error {frame.get('code')!r}: "
                             f"{frame.get('message')}")
        raise StepFailed(f"{received.describe()} arrived where an event was expected")

    def _next_frame(self, deadline: float, *, what: str) -> dict[str, Any]:
        """The next text frame, decoded; a close, a binary frame, a lost connection or the
        deadline passing is a StepFailed saying what was awaited."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise StepFailed(f"expected {what} within {self.timeout:g} s; it did not come")
        self._connection.settimeout(remaining)
        try:
            opcode, data = self._connection.recv_data()
        except websocket.WebSocketTimeoutException:
            raise StepFailed(f"expected {what} within {self.timeout:g} s; it did not come") \
                from None
        except (websocket.WebSocketException, OSError) as exc:
            raise StepFailed(f"the connection was lost while waiting for {what}: "
                             f"{type(exc).__name__}: {exc}") from None
        self.received_bytes += len(data)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            reason = data[2:].decode("utf-8", "replace")
            raise StepFailed(f"the service closed the connection (code {code}"
                             f"{', ' + reason if reason else ''}) while {what} was awaited")
        if opcode != websocket.ABNF.OPCODE_TEXT:
            raise StepFailed(f"a binary frame arrived while {what} was awaited")
        return decode(data)
