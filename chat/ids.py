"""Typed identifiers and their generator.

Ids leave the process (on the wire, in storage, in cache keys), so they must be
unguessable: one user must not be able to name another user's thread or run. They also
start with a millisecond timestamp so that rows sort by creation time, which keeps
indexes append-mostly and makes logs readable. Format: `PFX_` + 12 hex digits of
milliseconds since the epoch + 24 hex digits (96 bits) of randomness; 40 characters with
a three-letter prefix, the width of the id columns.
"""

from __future__ import annotations

import secrets
import time
from typing import NewType

UserId = NewType("UserId", str)
ThreadId = NewType("ThreadId", str)
RunId = NewType("RunId", str)
MessageId = NewType("MessageId", str)
SessionId = NewType("SessionId", str)
ConnectionId = NewType("ConnectionId", str)
CallId = NewType("CallId", str)
GatewayId = NewType("GatewayId", str)


def new_id(prefix: str) -> str:
    """A fresh id `prefix_<time><random>`, sortable by creation time, 96 random bits."""
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{millis:012x}{secrets.token_hex(12)}"


def new_thread_id() -> ThreadId:
    return ThreadId(new_id("thr"))


def new_run_id() -> RunId:
    return RunId(new_id("run"))


def new_message_id() -> MessageId:
    return MessageId(new_id("msg"))


def new_session_id() -> SessionId:
    return SessionId(new_id("ses"))


def new_connection_id() -> ConnectionId:
    return ConnectionId(new_id("con"))


def new_call_id() -> CallId:
    return CallId(new_id("cal"))


def new_gateway_id() -> GatewayId:
    return GatewayId(new_id("gwy"))
