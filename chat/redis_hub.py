"""Live fan-out across gateway processes through Redis pub/sub: what the service runs.

`RedisEventHub` serves the followers in its own process directly, and publishes every
batch on the thread's Redis channel (`gp:{user_id}:events:{thread_id}`) for followers on
other gateway processes sharing the Redis (fakeredis in-process works the same). Per
thread it remembers the last `seq` it delivered: an older or repeated event is dropped,
and a jump (a batch published by another process that was lost while Redis was away, or
overtaken by a later one) is filled from storage through `backfill` before the jumping
event is delivered. After a lost Redis connection it reconnects, subscribes again and
fills every followed thread from storage, after the last event it delivered there. (Only
deliveries count: a replay may read events that are stored but not published yet, which
the thread's other followers still need.) Publishing goes through an outbox task, so a
slow or absent Redis never holds up a run; while Redis is away the outbox keeps the
newest `OUTBOX_LIMIT` batches and sends them when it returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from chat.hub import Event, Key, Listeners

__all__ = ["Backfill", "RedisEventHub", "channel_name"]

log = logging.getLogger(__name__)

Backfill = Callable[[str, str, int], Awaitable[list[Event]]]

OUTBOX_LIMIT = 10_000
# How long a replay waits for the subscriptions made before it to be confirmed. It is a
# barrier, not a nicety: a replay read before its thread's subscription is in place can
# miss events published by another gateway in between, so under heavy load it waits.
READY_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
RECONNECT_FIRST_S = 0.1
RECONNECT_LONGEST_S = 2.0


def channel_name(user_id: str, thread_id: str) -> str:
    """The Redis channel of one user's thread (namespaced by user like every key)."""
    return f"gp:{user_id}:events:{thread_id}"


class RedisEventHub(Listeners):
    """Fan-out across gateway processes through Redis pub/sub (see the module doc)."""

    def __init__(self, redis: Any, backfill: Backfill) -> None:
        super().__init__()
        self._redis = redis
        self._backfill = backfill
        self.origin = f"hub-{secrets.token_hex(8)}"
        self._control = f"gp:hub:{self.origin}"
        self._last: dict[Key, int] = {}
        self._key_locks: dict[Key, asyncio.Lock] = {}
        self._channels: dict[str, Key] = {}
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._wake = asyncio.Event()
        self._subscribed: set[str] = set()
        self._waiting: list[asyncio.Future[None]] = []
        self._pings: dict[str, list[asyncio.Future[None]]] = {}
        self._pubsub: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._connected = asyncio.Event()
        self._catch_ups: set[asyncio.Task[None]] = set()
        self._closed = False
        self.dropped = 0
        self.backfilled = 0

    # lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._receive_loop(), name="hub receive"),
            asyncio.create_task(self._command_loop(), name="hub commands"),
            asyncio.create_task(self._send_loop(), name="hub send"),
        ]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._connected.wait()

    async def close(self) -> None:
        if not self._tasks:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._outbox.join()
        self._closed = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        # The Redis client may swallow a cancellation mid-command; the loops also stop
        # on `_closed`, and none is waited for longer than this.
        await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT_S)
        self._tasks = []
        self._resolve_pings()
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # publishing ---------------------------------------------------------------------

    async def publish(self, user_id: str, thread_id: str, event: Event) -> None:
        await self.publish_many(user_id, thread_id, [event])

    async def publish_many(self, user_id: str, thread_id: str, events: list[Event]) -> None:
        key = (user_id, thread_id)
        if key in self._listeners:
            await self._deliver(key, events)
        if self._outbox.qsize() >= OUTBOX_LIMIT:
            self._outbox.get_nowait()
            self._outbox.task_done()
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("live events outbox full while Redis is away: %d batch(es) "
                            "dropped (followers elsewhere fill gaps from storage)", self.dropped)
        message = json.dumps({"o": self.origin, "e": events}, separators=(",", ":"))
        self._outbox.put_nowait((channel_name(user_id, thread_id), message))

    async def _send_loop(self) -> None:
        while not self._closed:
            channel, message = await self._outbox.get()
            try:
                pause = RECONNECT_FIRST_S
                while True:
                    try:
                        await self._redis.publish(channel, message)
                        break
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - Redis away: retry, in order
                        if self._closed:
                            break
                        if pause == RECONNECT_FIRST_S:
                            log.warning("live events not published (Redis: %s); retrying", exc)
                        await asyncio.sleep(pause)
                        pause = min(pause * 2, RECONNECT_LONGEST_S)
            finally:
                self._outbox.task_done()

    # following ----------------------------------------------------------------------

    def _first_listener(self, key: Key) -> None:
        self._channels[channel_name(*key)] = key
        self._wake.set()

    def _last_listener_gone(self, key: Key) -> None:
        self._channels.pop(channel_name(*key), None)
        self._last.pop(key, None)
        self._key_locks.pop(key, None)
        self._wake.set()

    async def ready(self) -> None:
        if not self.connected:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        self._wake.set()
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                await future
        except TimeoutError:
            log.warning("live subscriptions not confirmed within %gs", READY_TIMEOUT_S)

    def _resolve_pings(self) -> None:
        waiting = [f for futures in self._pings.values() for f in futures] + self._waiting
        self._pings.clear()
        self._waiting = []
        for future in waiting:
            if not future.done():
                future.set_result(None)

    async def _command_loop(self) -> None:
        """Brings the subscriptions of the connection in line with the threads followed
        here: whatever changed since the last round in one SUBSCRIBE and one UNSUBSCRIBE,
        then one PING for everyone waiting in `ready` (Redis answers in order, so its
        PONG means the subscriptions sent before it are in place). Batching keeps a crowd
        of followers from queueing a round trip each."""
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            pubsub = self._pubsub
            if pubsub is None:
                self._resolve_pings()
                continue
            waiting, self._waiting = self._waiting, []
            try:
                wanted = set(self._channels)
                extra, gone = sorted(wanted - self._subscribed), sorted(self._subscribed - wanted)
                if extra:
                    await pubsub.subscribe(*extra)
                    self._subscribed |= set(extra)
                if gone:
                    await pubsub.unsubscribe(*gone)
                    self._subscribed -= set(gone)
                if waiting:
                    token = secrets.token_hex(8)
                    self._pings[token] = waiting
                    await pubsub.ping(token)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the receive loop reconnects
                log.debug("live subscriptions not updated: %s", exc)
                for future in waiting:
                    if not future.done():
                        future.set_result(None)

    async def _receive_loop(self) -> None:
        pause = RECONNECT_FIRST_S
        reconnecting = False
        while not self._closed:
            pubsub = self._redis.pubsub()
            try:
                subscribed = list(self._channels)
                await pubsub.subscribe(self._control, *subscribed)
                self._subscribed = set(subscribed)
                self._pubsub = pubsub
                self._connected.set()
                self._wake.set()
                connection = getattr(pubsub, "connection", None)
                if connection is not None and hasattr(connection, "register_connect_callback"):
                    connection.register_connect_callback(self._reconnected)
                if reconnecting:
                    log.warning("live events: Redis is back; filling followed threads "
                                "from storage")
                    await self._catch_up()
                reconnecting = False
                pause = RECONNECT_FIRST_S
                while not self._closed:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None:
                        await self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis away: reconnect with backoff
                if not reconnecting:
                    log.warning("live events: lost Redis (%s); reconnecting", exc)
                reconnecting = True
            finally:
                self._pubsub = None
                self._connected.clear()
                self._resolve_pings()
                connection = getattr(pubsub, "connection", None)
                if connection is not None and hasattr(connection, "deregister_connect_callback"):
                    connection.deregister_connect_callback(self._reconnected)
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(pause)
            pause = min(pause * 2, RECONNECT_LONGEST_S)

    def _reconnected(self, _connection: Any) -> None:
        """The client reconnected on its own (and subscribed again): fill the gap."""
        task = asyncio.get_running_loop().create_task(self._catch_up(), name="hub catch-up")
        self._catch_ups.add(task)
        task.add_done_callback(self._catch_ups.discard)

    async def _on_message(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "pong":
            data = message.get("data")
            token = data.decode() if isinstance(data, bytes) else str(data)
            for future in self._pings.pop(token, []):
                if not future.done():
                    future.set_result(None)
            return
        if kind != "message":
            return
        raw_channel = message.get("channel")
        channel = raw_channel.decode() if isinstance(raw_channel, bytes) else str(raw_channel)
        key = self._channels.get(channel)
        if key is None:
            return
        try:
            body = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("unreadable live message on %s", channel)
            return
        if body.get("o") == self.origin:
            return
        await self._deliver(key, list(body.get("e") or []))

    async def _catch_up(self) -> None:
        for key in list(self._listeners):
            last = self._last.get(key)
            if last is None:
                continue
            async with self._lock(key):
                await self._fill(key, last, None)

    # delivery -----------------------------------------------------------------------

    def _lock(self, key: Key) -> asyncio.Lock:
        lock = self._key_locks.get(key)
        if lock is None:
            lock = self._key_locks[key] = asyncio.Lock()
        return lock

    async def _deliver(self, key: Key, events: list[Event]) -> None:
        """Deliver in `seq` order: drop what was delivered, fill a jump from storage."""
        async with self._lock(key):
            for event in events:
                if key not in self._listeners:
                    return
                seq = event.get("seq")
                if not isinstance(seq, int):
                    self._call(key, event)
                    continue
                last = self._last.get(key)
                if last is not None and seq <= last:
                    continue
                if last is not None and seq > last + 1:
                    await self._fill(key, last, seq)
                self._call(key, event)
                self._last[key] = max(self._last.get(key, 0), seq)

    async def _fill(self, key: Key, after: int, before: int | None) -> None:
        """Deliver the stored events of `key` after `after` (and before `before`)."""
        try:
            missing = await self._backfill(key[0], key[1], after)
        except Exception as exc:  # noqa: BLE001 - a follower can still resume later
            log.warning("could not fill live events of thread %s from storage: %s", key[1], exc)
            return
        for event in missing:
            seq = int(event["seq"])
            if seq <= self._last.get(key, after) or (before is not None and seq >= before):
                continue
            self.backfilled += 1
            self._call(key, event)
            self._last[key] = seq
