"""Live fan-out of a thread's events to the connections following it: the interface.

Events are always stored before they are published, so the hub only has to be fast, not
durable: resume reads storage, and a follower that missed something live can get it
from storage too. `EventHub` is what the run service publishes to and the gateway
subscribes at; `Listeners` keeps the listeners of one process, which both hubs serve.
`InProcessEventHub` serves one process only (tests of the engine and the service use
it); the service runs `chat.redis_hub.RedisEventHub`, which also reaches other gateway
processes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Event", "EventHub", "InProcessEventHub", "Key", "Listener", "Listeners",
           "Subscription"]

log = logging.getLogger(__name__)

Event = dict[str, Any]
Listener = Callable[[Event], None]
Key = tuple[str, str]


class Subscription(Protocol):
    def close(self) -> None:
        """Stop delivering; idempotent."""


class EventHub(Protocol):
    def subscribe(self, user_id: str, thread_id: str, listener: Listener) -> Subscription:
        """Call `listener(event)` for every event of the user's thread published from now."""

    async def publish(self, user_id: str, thread_id: str, event: Event) -> None:
        """Deliver `event` (already stored) to the thread's listeners, in publish order."""

    async def publish_many(self, user_id: str, thread_id: str, events: list[Event]) -> None:
        """Deliver several stored events of one thread, in order."""

    async def ready(self) -> None:
        """Return once every subscription made so far receives events (before a replay
        reads storage, so nothing published in between is missed)."""

    async def start(self) -> None:
        """Begin delivering (connect, subscribe)."""

    async def close(self) -> None:
        """Stop delivering; send what is still in the outbox if that is quick."""


class _Subscription:
    def __init__(self, hub: Listeners, key: Key, listener: Listener) -> None:
        self._hub = hub
        self._key = key
        self._listener = listener

    def close(self) -> None:
        self._hub._remove(self._key, self._listener)


class Listeners:
    """Listeners per (user, thread) in this process; listeners must not block."""

    def __init__(self) -> None:
        self._listeners: dict[Key, list[Listener]] = {}

    def subscribe(self, user_id: str, thread_id: str, listener: Listener) -> Subscription:
        key = (user_id, thread_id)
        first = key not in self._listeners
        self._listeners.setdefault(key, []).append(listener)
        if first:
            self._first_listener(key)
        return _Subscription(self, key, listener)

    def _remove(self, key: Key, listener: Listener) -> None:
        listeners = self._listeners.get(key)
        if listeners is not None and listener in listeners:
            listeners.remove(listener)
            if not listeners:
                del self._listeners[key]
                self._last_listener_gone(key)

    def _first_listener(self, key: Key) -> None:
        """Hook: the first listener of `key` arrived."""

    def _last_listener_gone(self, key: Key) -> None:
        """Hook: `key` has no listener left."""

    def _call(self, key: Key, event: Event) -> None:
        for listener in list(self._listeners.get(key, ())):
            try:
                listener(event)
            except Exception:
                log.exception("a listener of thread %s failed", key[1])

    def listener_count(self) -> int:
        return sum(len(v) for v in self._listeners.values())


class InProcessEventHub(Listeners):
    """Fan-out inside one process only."""

    async def publish(self, user_id: str, thread_id: str, event: Event) -> None:
        self._call((user_id, thread_id), event)

    async def publish_many(self, user_id: str, thread_id: str, events: list[Event]) -> None:
        for event in events:
            self._call((user_id, thread_id), event)

    async def ready(self) -> None:
        return None

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

