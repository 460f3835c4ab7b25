"""The one door through which the engine reports what it does.

The engine has no I/O: it calls `Notifier.emit` and whoever runs it decides what an
event becomes (stored and streamed by the service, or kept in a list by a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from chat.engine.events import EventType, Payload


class NotifierFailure(Exception):
    """The notifier could not deliver an event (for example storage failed). The engine
    does not treat this as an agent's failure: it stops and lets the caller decide."""


class Notifier(Protocol):
    async def emit(self, type: EventType, payload: Payload) -> None:
        """Deliver one event of the current run; raise `NotifierFailure` if impossible."""


@dataclass
class RecordingNotifier:
    """Keeps events in order in `events`: a notifier for running the engine alone."""

    events: list[tuple[EventType, Payload]] = field(default_factory=list)

    async def emit(self, type: EventType, payload: Payload) -> None:
        self.events.append((type, payload))
