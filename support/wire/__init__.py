"""Protocol drivers behind one interface: how the people of a scenario reach a chat target.

A `ChatTarget` opens connections for a sign-in; a `Connection` sends questions and
resumes and keeps an `EventLog` of what arrived, in the product's vocabulary (a run:
started, agents at work, tools started and finished by call id, the answer, one ending;
`support.wire.codec`). Contract v1 over WebSocket is `support.wire.v1`; AG-UI over HTTP
and server-sent events is `support.wire.agui`, whose codec (`support.wire.agui_codec`)
turns AG-UI events into the same vocabulary. The codecs hold no I/O, so another
transport reuses them instead of copying a contract.
"""

from __future__ import annotations

from typing import Protocol

from support.wire.codec import Event, Refusal, RunSeen, SentMessage
from support.wire.log import EventLog

__all__ = ["ChatTarget", "Connection"]


class Connection(Protocol):
    """One live connection of one person to a chat target."""

    log: EventLog
    connection_id: str | None
    user_id: str | None
    # time.perf_counter() as the connection was asked for: nothing the target wrote for it
    # is older (a lifetime read later is judged against it)
    opened_at: float

    async def send_message(self, content: str, *, thread_id: str | None = None,
                           message_id: str | None = None) -> SentMessage: ...

    async def resume(self, thread_id: str, after_seq: int) -> int: ...

    async def first_event_of(self, sent: SentMessage) -> Event: ...

    async def run_of(self, sent: SentMessage, *, timeout: float | None = None) -> RunSeen: ...

    async def close(self, code: int = ...) -> None: ...

    async def drop(self) -> None: ...

    @property
    def is_open(self) -> bool: ...


class ChatTarget(Protocol):
    """Where a chat product is reached, and over which protocol."""

    protocol: str
    url: str

    async def health(self) -> int:
        """The HTTP status of the target's health check."""
        ...

    async def open(self, token: str | None, *, via: str = "header") -> Connection | Refusal:
        """A connection signed in with `token`, or the target's refusal of it."""
        ...
