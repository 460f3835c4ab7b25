"""Live fan-out of a thread's events to the connections following it.

`InProcessEventHub` serves one gateway process. A hub for several processes (Redis
pub/sub) implements the same `EventHub` protocol; nothing else changes, because the
events themselves are always stored first (resume reads storage, not the hub).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

Event = dict[str, Any]
Listener = Callable[[Event], None]


class Subscription(Protocol):
    def close(self) -> None:
        """Stop delivering; idempotent."""


class EventHub(Protocol):
    def subscribe(self, user_id: str, thread_id: str, listener: Listener) -> Subscription:
        """Call `listener(event)` for every event of the user's thread published from now."""

    async def publish(self, user_id: str, thread_id: str, event: Event) -> None:
        """Deliver `event` (already stored) to the thread's listeners, in publish order."""


class _InProcessSubscription:
    def __init__(self, hub: InProcessEventHub, key: tuple[str, str], listener: Listener) -> None:
        self._hub = hub
        self._key = key
        self._listener = listener

    def close(self) -> None:
        listeners = self._hub._listeners.get(self._key)
        if listeners is not None and self._listener in listeners:
            listeners.remove(self._listener)
            if not listeners:
                del self._hub._listeners[self._key]


class InProcessEventHub:
    """Listeners per (user, thread) in this process; listeners must not block."""

    def __init__(self) -> None:
        self._listeners: dict[tuple[str, str], list[Listener]] = {}

    def subscribe(self, user_id: str, thread_id: str, listener: Listener) -> Subscription:
        key = (user_id, thread_id)
        self._listeners.setdefault(key, []).append(listener)
        return _InProcessSubscription(self, key, listener)

    async def publish(self, user_id: str, thread_id: str, event: Event) -> None:
        for listener in list(self._listeners.get((user_id, thread_id), ())):
            listener(event)

    def listener_count(self) -> int:
        return sum(len(v) for v in self._listeners.values())
