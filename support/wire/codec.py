"""Contract v1 without I/O: frames to typed events, events to runs, and the rules a run
keeps (DESIGN §5).

Everything here is plain data and functions, so every transport reuses it: the WebSocket
driver of the suite (`support.wire.v1`), a synchronous client for a load tool, a second
protocol mapped to the same vocabulary. `run_problem` and `numbering_problem` return the
first broken rule as a sentence a product reader understands, or None.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from support.contract import EVENT_TYPES

__all__ = [
    "AUTHORIZATION_SCHEMES",
    "ErrorReply",
    "Event",
    "Received",
    "Refusal",
    "RunSeen",
    "SentMessage",
    "decode",
    "refusal_of",
    "resume_frame",
    "user_message",
]


def decode(raw: str | bytes) -> dict[str, Any]:
    """A received frame as an object; anything else becomes a `<not JSON>` or
    `<not an object>` pseudo-frame, so a log can show what arrived."""
    try:
        frame = json.loads(raw)
    except (TypeError, ValueError):
        return {"type": "<not JSON>", "raw": str(raw)[:200]}
    if not isinstance(frame, dict):
        return {"type": "<not an object>", "raw": str(raw)[:200]}
    return frame


def user_message(content: str, *, thread_id: str | None = None,
                 message_id: str | None = None) -> dict[str, Any]:
    """A `user_message` frame; a fresh message id unless one is given."""
    return {"type": "user_message", "content": content, "thread_id": thread_id,
            "message_id": message_id if message_id is not None else f"m-{uuid.uuid4().hex}"}


def resume_frame(thread_id: str, after_seq: int) -> dict[str, Any]:
    return {"type": "resume", "thread_id": thread_id, "after_seq": after_seq}


# How a sign-in is put in the Authorization header, by `via`: the contract's way, and one
# that sorts after it (a check that compares schemes by order, not equality, lets it in).
AUTHORIZATION_SCHEMES = {"header": "Bearer", "other-scheme": "Token"}

@dataclass(frozen=True)
class Event:
    """A server event of a run: `{"type", "run_id", "thread_id", "seq", "timestamp", "payload"}`."""

    type: str
    run_id: str
    thread_id: str
    seq: int
    timestamp: Any
    payload: Mapping[str, Any]
    # The frame as it arrived, for the checks of every field the contract names.
    frame: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

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
            frame=frame,
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


def refusal_of(status: int, body_bytes: bytes | None) -> Refusal:
    """The refusal an HTTP answer to the handshake carries (its JSON `error` and `reason`)."""
    body = (body_bytes or b"").decode("utf-8", "replace")
    error: str | None = None
    reason: str | None = None
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            error, reason = parsed.get("error"), parsed.get("reason")
    except ValueError:
        pass
    return Refusal(status, error, reason, body)
