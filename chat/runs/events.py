"""Event storage: a run's events numbered, stored, then published; and read back for replay.

Each event gets the thread's next `seq` in the same transaction that stores it in
`run_events`, and is published only after that commit; the reply and the run's final
status are committed in the transaction that stores `agent_completed`. The engine does
not wait for any of it (`RunEventSink.emit` returns at once; `EventWriter` commits what
queued up per thread in one transaction), except at the run's end. A run's events are
only stored while its row is `running` (checked under the thread's row lock), so a run
failed by another gateway never gets events after its ending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chat.cache import Cache
from chat.context import ExecutionContext
from chat.engine import EventType, NotifierFailure
from chat.hub import EventHub
from chat.ids import new_message_id
from chat.runs.faults import STORAGE_ERRORS, NotFound, Repairs, RunEnded, cache_write, unavailable
from chat.store import Repositories, Store

__all__ = [
    "EventStore",
    "EventWriter",
    "PendingEvent",
    "RunEventSink",
    "ThreadLocks",
    "open_tool_calls",
    "stored_events_after",
    "timestamp",
]

log = logging.getLogger(__name__)


class _RunsEnded(Exception):
    def __init__(self, run_ids: set[str]) -> None:
        super().__init__(", ".join(sorted(run_ids)))
        self.run_ids = run_ids


class _NotRunning(Exception):
    """Rolls back a transaction that found its run already finished."""


def timestamp() -> str:
    """Now, as the wire writes it: ISO 8601 UTC to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def open_tool_calls(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(call_id, tool) of each `tool_executing` of a run's events without its
    `tool_completed`, in order."""
    started: dict[str, str] = {}
    for event in events:
        payload = event.get("payload") or {}
        if event.get("type") == EventType.TOOL_EXECUTING.value:
            started[str(payload.get("call_id"))] = str(payload.get("tool"))
        elif event.get("type") == EventType.TOOL_COMPLETED.value:
            started.pop(str(payload.get("call_id")), None)
    return list(started.items())


def stored_events_after(
    store: Store,
) -> Callable[[str, str, int], Awaitable[list[dict[str, Any]]]]:
    """The hub's way back to storage: a followed thread's stored events after a `seq`."""

    async def read(user_id: str, thread_id: str, after_seq: int) -> list[dict[str, Any]]:
        return await store.read(lambda repos: repos.events.list_after(user_id, thread_id,
                                                                      after_seq))

    return read


class ThreadLocks:
    """One asyncio lock per thread, kept for as long as anyone holds or waits for it (the
    map holds it weakly; its holders and waiters hold it). Keeps this process's writers
    of one thread in line, so `seq` order is publish order."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary())

    @contextlib.asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        lock = self._locks.get(thread_id)
        if lock is None:
            lock = self._locks[thread_id] = asyncio.Lock()
        async with lock:
            yield


@dataclass(frozen=True)
class PendingEvent:
    """An event a run emitted, on its way to storage."""

    sink: RunEventSink
    type: EventType
    payload: dict[str, Any]
    agents: tuple[str, ...]


class RunEventSink:
    """The notifier of one run. `emit` hands the event to the service's `EventWriter`
    and returns: the engine goes on while the event is stored, and the event is
    published only after its transaction committed. The run's `agent_completed` waits
    until everything of the run is stored; a storage failure stops the run."""

    def __init__(self, writer: EventWriter, context: ExecutionContext) -> None:
        self.writer = writer
        self.context = context
        self.completed = False
        self._agents: list[str] = []
        self._emitted = 0
        self._settled = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._failure: BaseException | None = None

    async def emit(self, type: EventType, payload: dict[str, Any]) -> None:
        self._raise_failure()
        if type is EventType.AGENT_THINKING:
            agent = payload.get("agent")
            if agent != "supervisor" and agent not in self._agents:
                self._agents.append(str(agent))
        self._emitted += 1
        self._idle.clear()
        self.writer.submit(PendingEvent(self, type, payload, tuple(self._agents)))
        if type is EventType.AGENT_COMPLETED:
            await self.drain()

    async def drain(self) -> None:
        """Wait until every event emitted so far is stored; raise if one could not be."""
        await self._idle.wait()
        self._raise_failure()

    async def settle(self) -> None:
        """Wait until every event emitted so far is stored or has failed."""
        await self._idle.wait()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise NotifierFailure(f"an event could not be stored: {self._failure}") from (
                self._failure)

    def stored(self, pending: PendingEvent) -> None:
        if pending.type is EventType.AGENT_COMPLETED:
            self.completed = True
        self._settle_one()

    def failed(self, error: BaseException) -> None:
        self._failure = self._failure or error
        self._settle_one()

    def _settle_one(self) -> None:
        self._settled += 1
        if self._settled == self._emitted:
            self._idle.set()


class EventWriter:
    """Stores the events of each thread in emit order, all the events that queued up
    while the previous transaction ran in one transaction (group commit), then
    publishes them. One flusher task per thread with pending events."""

    def __init__(self, events: EventStore) -> None:
        self._events = events
        self._queues: dict[str, list[PendingEvent]] = {}
        self._flushers: dict[str, asyncio.Task[None]] = {}

    def submit(self, pending: PendingEvent) -> None:
        thread_id = pending.sink.context.thread_id
        self._queues.setdefault(thread_id, []).append(pending)
        if thread_id not in self._flushers:
            self._flushers[thread_id] = asyncio.create_task(
                self._flush(thread_id), name=f"events {thread_id}")

    async def _flush(self, thread_id: str) -> None:
        queue = self._queues[thread_id]
        try:
            while queue:
                batch = list(queue)
                queue.clear()
                try:
                    kept = await self._events.store_events(thread_id, batch)
                except Exception as exc:  # noqa: BLE001 - each sink learns of the failure
                    log.warning("events of thread %s not stored: %s", thread_id, exc)
                    for pending in batch:
                        pending.sink.failed(exc)
                else:
                    stored = {id(p) for p in kept}
                    for pending in batch:
                        if id(pending) in stored:
                            pending.sink.stored(pending)
                        else:
                            pending.sink.failed(RunEnded(
                                f"run {pending.sink.context.run_id} was ended elsewhere"))
        except BaseException as exc:
            for pending in queue:
                pending.sink.failed(exc)
            queue.clear()
            raise
        finally:
            del self._flushers[thread_id]
            del self._queues[thread_id]

    async def wait_idle(self) -> None:
        while self._flushers:
            await asyncio.gather(*list(self._flushers.values()), return_exceptions=True)


class EventStore:
    """The run events of all users of one gateway process: written, ended, read."""

    def __init__(self, store: Store, cache: Cache, hub: EventHub, *,
                 cache_repairs: Repairs) -> None:
        self.store = store
        self.cache = cache
        self.hub = hub
        self.cache_repairs = cache_repairs
        self.writer = EventWriter(self)
        self._locks = ThreadLocks()

    def sink(self, context: ExecutionContext) -> RunEventSink:
        """A new notifier for the run of `context`."""
        return RunEventSink(self.writer, context)

    async def store_events(self, thread_id: str,
                           batch: list[PendingEvent]) -> list[PendingEvent]:
        """Store a batch of one thread's events in one transaction: their `seq` numbers,
        the rows in run_events and, for each `agent_completed`, the reply and the run's
        final status. Then cache the results and publish the events, in order. Events
        of runs that are no longer `running` (failed by recovery) are left out; returns
        the pending events that were stored."""
        user_id = batch[0].sink.context.user_id
        async with self._locks.hold(thread_id):
            while True:
                try:
                    events = await self._store_batch(user_id, thread_id, batch)
                    break
                except _RunsEnded as ended:
                    log.warning("events of run(s) %s dropped: ended elsewhere", ended)
                    batch = [p for p in batch if p.sink.context.run_id not in ended.run_ids]
                    if not batch:
                        return []
            for pending in batch:
                if pending.type is EventType.AGENT_COMPLETED:
                    await self._cache_result(user_id, pending.sink.context.run_id,
                                             pending.payload, thread_id)
            await self.hub.publish_many(user_id, thread_id, events)
        return batch

    async def _store_batch(self, user_id: str, thread_id: str,
                           batch: list[PendingEvent]) -> list[dict[str, Any]]:
        async def store(repos: Repositories) -> list[dict[str, Any]]:
            last = await repos.threads.next_seq(user_id, thread_id, len(batch))
            ended = await repos.runs.ended_among(
                user_id, {p.sink.context.run_id for p in batch})
            if ended:
                raise _RunsEnded(ended)
            stamp = timestamp()
            events = [
                {"type": p.type.value, "run_id": p.sink.context.run_id,
                 "thread_id": thread_id, "seq": last - len(batch) + 1 + i,
                 "timestamp": stamp, "payload": p.payload}
                for i, p in enumerate(batch)
            ]
            await repos.events.add_many(user_id, thread_id, events)
            for pending in batch:
                if pending.type is EventType.AGENT_COMPLETED:
                    await self._finish(repos, pending.sink.context, pending.payload,
                                       list(pending.agents))
            return events

        return await self.store.write(store)

    @staticmethod
    async def _finish(repos: Repositories, context: ExecutionContext, payload: dict[str, Any],
                      agents: list[str]) -> None:
        status = payload["status"]
        response = payload.get("response", "")
        error = payload.get("error") or {}
        if status == "completed":
            await repos.messages.add(context.user_id, new_message_id(), context.thread_id,
                                     "assistant", response, run_id=context.run_id)
        await repos.runs.finish(
            context.user_id, context.run_id, status=status, agents=list(agents),
            result=response if status == "completed" else None,
            error_code=error.get("code"), error_message=error.get("message"),
        )

    async def _cache_result(self, user_id: str, run_id: str, payload: dict[str, Any],
                            thread_id: str) -> None:
        value = {"status": payload["status"], "response": payload.get("response", ""),
                 "thread_id": thread_id}
        await cache_write(self.cache_repairs, f"result:{run_id}",
                          lambda: self.cache.put_result(user_id, run_id, value))

    async def fail_run(self, user_id: str, thread_id: str, run_id: str, code: str,
                       message: str) -> bool:
        """Mark a `running` run failed and append its closing events: a `tool_completed`
        {status error} for each tool call it left open (every `tool_executing` gets its
        `tool_completed`, even in a run cut short), then `agent_completed` {status failed,
        error {code, message}}. False if it was no longer running. The thread's row is
        locked first, as `store_events` does, so the two never wait on each other in
        opposite orders."""
        payload = {"status": "failed", "response": "", "error": {"code": code, "message": message}}

        async def close(repos: Repositories) -> list[dict[str, Any]]:
            await repos.threads.next_seq(user_id, thread_id, 0)
            if not await repos.runs.finish(user_id, run_id, status="failed",
                                           agents=None, result=None,
                                           error_code=code, error_message=message):
                raise _NotRunning(run_id)
            closing = [
                (EventType.TOOL_COMPLETED.value, {
                    "call_id": call_id, "tool": tool, "status": "error",
                    "result": {"error": f"{code}: {message}"}})
                for call_id, tool in open_tool_calls(
                    await repos.events.list_for_run(user_id, run_id))
            ] + [(EventType.AGENT_COMPLETED.value, payload)]
            last = await repos.threads.next_seq(user_id, thread_id, len(closing))
            stamp = timestamp()
            events = [
                {"type": kind, "run_id": run_id, "thread_id": thread_id,
                 "seq": last - len(closing) + 1 + i, "timestamp": stamp, "payload": body}
                for i, (kind, body) in enumerate(closing)
            ]
            await repos.events.add_many(user_id, thread_id, events)
            return events

        async with self._locks.hold(thread_id):
            try:
                events = await self.store.write(close)
            except _NotRunning:
                return False
            await self._cache_result(user_id, run_id, payload, thread_id)
            await self.hub.publish_many(user_id, thread_id, events)
        return True

    async def thread_events_after(self, user_id: str, thread_id: str,
                                  after_seq: int) -> list[dict[str, Any]]:
        """The stored events of the user's thread after `after_seq`, in order (read once
        the live subscriptions made so far are in place, so nothing falls in between)."""
        await self.hub.ready()

        async def read(repos: Repositories) -> list[dict[str, Any]]:
            if await repos.threads.get(user_id, thread_id) is None:
                raise NotFound(f"thread {thread_id} not found")
            return await repos.events.list_after(user_id, thread_id, after_seq)

        try:
            return await self.store.read(read)
        except STORAGE_ERRORS as exc:
            raise unavailable(exc) from exc

    async def run_events(self, user_id: str, run_id: str) -> list[dict[str, Any]]:
        await self.hub.ready()
        try:
            return await self.store.read(lambda repos: repos.events.list_for_run(user_id, run_id))
        except STORAGE_ERRORS as exc:
            raise unavailable(exc) from exc

    async def thread_exists(self, user_id: str, thread_id: str) -> bool:
        try:
            thread = await self.store.read(lambda repos: repos.threads.get(user_id, thread_id))
        except STORAGE_ERRORS as exc:
            raise unavailable(exc) from exc
        return thread is not None
