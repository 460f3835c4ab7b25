"""The chat service's use cases: sessions, starting runs, storing and fanning out events.

This is where the durability rules of §5 live, between the engine (which only emits
events) and the gateway (which only speaks the wire): the user's message and the run row
(`running`) are committed before the run starts; each event gets the thread's next `seq`
in the same transaction that stores it in `run_events`, and is published only after that
commit; the reply and the run's final status are committed in the transaction that stores
`agent_completed`. Runs are tasks owned by this service, not by a connection, so a run
goes on when its client disconnects.

Faults. Storage is the truth and the cache is help: when the database cannot be reached
the caller gets `Unavailable` (the gateway turns it into an error for the client) and
nothing of the request is written, since each request is one transaction. When Redis is
away, runs go on and are recorded; what the cache should have got (sessions, results,
removals) is kept in a bounded list of repairs and written when Redis is back. A run that
could not even be marked failed (database away) is finished the same way later.

Gateways that share a database watch each other through heartbeats in the cache
(chat.cache): every `HEARTBEAT_INTERVAL_S` each gateway rewrites its own (in a task that
nothing else can hold up) and sweeps the `running` runs and `active` sessions of the
others. A gateway whose heartbeat it saw and which has then been
missing for `MISSING_GRACE_S` died without closing (SIGKILL, power loss): its runs are
marked `failed` with `error.code` `interrupted` and get their closing `agent_completed`,
so clients following or resuming them see them end. A gateway that starts again under
the same id (same host and port) fails its predecessor's runs at once, at start-up.
A run's events are only stored while its row is `running` (checked under the thread's
row lock), so a run failed by another gateway never gets events after its ending.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from chat.cache import Cache
from chat.context import ExecutionContext
from chat.engine import EngineFactory, EventType, NotifierFailure
from chat.hub import EventHub
from chat.ids import (
    MessageId,
    RunId,
    SessionId,
    ThreadId,
    UserId,
    new_id,
    new_message_id,
    new_run_id,
    new_thread_id,
)
from chat.store import Repositories, Store

log = logging.getLogger("chat.runs")

THREAD_TITLE_CHARS = 80
HEARTBEAT_INTERVAL_S = 1.0
MISSING_GRACE_S = 2.0
CACHE_WRITE_TIMEOUT_S = 1.0
REPAIRS_LIMIT = 10_000

# What a database that cannot be reached (or went away mid-transaction) raises.
STORAGE_ERRORS: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError, TimeoutError)


class NotFound(Exception):
    """The thread or run does not exist for this user (it may exist for another)."""


class Unavailable(Exception):
    """The database cannot be reached; nothing of the request was written."""


class RunEnded(Exception):
    """The run was finished elsewhere (failed by recovery); its events are not stored."""


class _RunsEnded(Exception):
    def __init__(self, run_ids: set[str]) -> None:
        super().__init__(", ".join(sorted(run_ids)))
        self.run_ids = run_ids


class _NotRunning(Exception):
    """Rolls back a transaction that found its run already finished."""


def _unavailable(exc: BaseException) -> Unavailable:
    return Unavailable("conversations cannot be stored right now (the database is not "
                       f"answering: {type(exc).__name__}); nothing was saved, try again shortly")


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


class Repairs:
    """Writes that failed because a backend was away, retried until they succeed.

    Keyed, so a newer repair of the same thing replaces an older one; bounded, so a long
    outage cannot grow memory without limit (the oldest are dropped, with a warning)."""

    def __init__(self, what: str, limit: int = REPAIRS_LIMIT) -> None:
        self.what = what
        self.limit = limit
        self._pending: dict[str, Callable[[], Awaitable[Any]]] = {}
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: str, action: Callable[[], Awaitable[Any]]) -> None:
        self._pending.pop(key, None)
        if len(self._pending) >= self.limit:
            oldest = next(iter(self._pending))
            del self._pending[oldest]
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("%s: %d pending repair(s) dropped", self.what, self.dropped)
        self._pending[key] = action

    async def run(self) -> int:
        """Try the pending repairs in order; stop at the first that fails (its backend
        is probably still away). How many succeeded."""
        done = 0
        for key, action in list(self._pending.items()):
            try:
                await action()
            except Exception as exc:  # noqa: BLE001 - still away: next time
                log.debug("%s: repair %s not done yet: %s", self.what, key, exc)
                break
            if self._pending.get(key) is action:
                del self._pending[key]
            done += 1
        if done:
            log.info("%s: %d repair(s) done, %d pending", self.what, done, len(self._pending))
        return done


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Submission:
    """A user message accepted by `RunService.prepare`: a new run to launch, or (when
    `repeated`) the run an earlier message with the same `message_id` started."""

    thread_id: ThreadId
    run_id: RunId
    repeated: bool
    context: ExecutionContext | None = None


class ThreadLocks:
    """One asyncio lock per thread, dropped when nobody holds or waits for it. Keeps
    this process's writers of one thread in line, so `seq` order is publish order."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(thread_id, (asyncio.Lock(), 0))
        self._locks[thread_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[thread_id]
            if users <= 1:
                del self._locks[thread_id]
            else:
                self._locks[thread_id] = (lock, users - 1)


@dataclass(frozen=True)
class _Pending:
    sink: RunEventSink
    type: EventType
    payload: dict[str, Any]
    agents: tuple[str, ...]


class RunEventSink:
    """The notifier of one run. `emit` hands the event to the service's `EventWriter`
    and returns: the engine goes on while the event is stored, and the event is
    published only after its transaction committed. The run's `agent_completed` waits
    until everything of the run is stored; a storage failure stops the run."""

    def __init__(self, service: RunService, context: ExecutionContext) -> None:
        self.service = service
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
        self.service.writer.submit(_Pending(self, type, payload, tuple(self._agents)))
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

    def stored(self, pending: _Pending) -> None:
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

    def __init__(self, service: RunService) -> None:
        self._service = service
        self._queues: dict[str, list[_Pending]] = {}
        self._flushers: dict[str, asyncio.Task[None]] = {}

    def submit(self, pending: _Pending) -> None:
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
                    kept = await self._service.store_events(thread_id, batch)
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


class RunService:
    """Sessions and runs for all users of one gateway process."""

    def __init__(
        self,
        store: Store,
        cache: Cache,
        hub: EventHub,
        factory: EngineFactory,
        gateway_id: str,
    ) -> None:
        self.store = store
        self.cache = cache
        self.hub = hub
        self.factory = factory
        self.gateway_id = gateway_id
        self._locks = ThreadLocks()
        self._tasks: set[asyncio.Task[None]] = set()
        self._running: set[str] = set()
        self.writer = EventWriter(self)
        self._maintenance: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._started_at = timestamp()
        self.cache_repairs = Repairs("cache")
        self.storage_repairs = Repairs("storage")
        self._seen_alive: set[str] = set()
        self._missing_since: dict[str, float] = {}
        self._cache_down = False
        self.recovered = 0

    # sessions -----------------------------------------------------------------------

    async def open_session(self, user_id: str, session_id: SessionId, connection_id: str,
                           token_jti: str | None) -> None:
        """Record an authenticated connection: users row, `active` session, cache keys.
        `Unavailable` when the database cannot be reached; cache keys are best effort."""
        async def record(repos: Repositories) -> None:
            await repos.users.ensure(user_id)
            await repos.sessions.open(user_id, session_id, connection_id, token_jti,
                                      self.gateway_id)

        try:
            await self.store.write(record)
        except STORAGE_ERRORS as exc:
            raise _unavailable(exc) from exc
        created = timestamp()
        session = {"session_id": session_id, "user_id": user_id,
                   "connection_id": connection_id, "token_jti": token_jti,
                   "created_at": created}
        connection = {"session_id": session_id, "user_id": user_id,
                      "connection_id": connection_id, "created_at": created}
        await self._cache_write(
            f"session:{session_id}",
            lambda: self.cache.put_session_keys(user_id, session_id, session, connection_id,
                                                connection))

    async def close_session(
        self, user_id: str, session_id: str, connection_id: str, *, ended: bool
    ) -> None:
        """`ended` (normal close): session ended, its notes and keys removed. Otherwise
        `disconnected`: only the connection key goes, the rest expires by TTL. What cannot
        be written now (a backend away) is repaired later."""

        async def close(repos: Repositories) -> None:
            await repos.sessions.close(user_id, session_id, "ended" if ended else "disconnected")
            if ended:
                await repos.temporary.delete_for_session(user_id, session_id)

        try:
            await self.store.write(close)
        except STORAGE_ERRORS as exc:
            log.warning("session %s not closed in storage (%s); will retry", session_id, exc)
            self.storage_repairs.add(f"session:{session_id}", lambda: self.store.write(close))
        if ended:
            await self._cache_write(
                f"session:{session_id}",
                lambda: self.cache.drop_session(user_id, session_id, connection_id))
        await self._cache_write(
            f"conn:{connection_id}", lambda: self.cache.drop_connection(user_id, connection_id))

    async def _cache_write(self, key: str, write: Callable[[], Awaitable[Any]]) -> None:
        """A cache write that must not hold anything up: bounded in time, and repaired
        later when Redis is away."""
        try:
            async with asyncio.timeout(CACHE_WRITE_TIMEOUT_S):
                await write()
        except Exception as exc:  # noqa: BLE001 - the cache is help, not the truth
            log.debug("cache write %s failed (%s); will retry", key, exc)
            self.cache_repairs.add(key, write)

    # runs ---------------------------------------------------------------------------

    async def prepare(
        self,
        user_id: str,
        session_id: str | None,
        content: str,
        thread_id: str | None,
        client_message_id: str | None,
    ) -> Submission:
        """Commit the user's message and a `running` run (or find the earlier run of a
        repeated `client_message_id`). Raise `NotFound` for a thread not the user's,
        `Unavailable` (nothing written) when the database cannot be reached."""
        try:
            return await self._prepare(user_id, session_id, content, thread_id,
                                       client_message_id)
        except (NotFound, IntegrityError):
            raise
        except STORAGE_ERRORS as exc:
            raise _unavailable(exc) from exc

    async def _prepare(
        self,
        user_id: str,
        session_id: str | None,
        content: str,
        thread_id: str | None,
        client_message_id: str | None,
    ) -> Submission:
        if client_message_id is not None:
            earlier = await self.store.read(
                lambda repos: self._earlier(repos, user_id, client_message_id))
            if earlier is not None:
                return earlier
        plan = self.factory.plan(content)
        run_id, message_id = new_run_id(), new_message_id()

        async def record(repos: Repositories) -> str:
            thread = thread_id
            if thread is None:
                thread = new_thread_id()
                await repos.threads.create(user_id, thread, content[:THREAD_TITLE_CHARS])
            elif await repos.threads.get(user_id, thread) is None:
                raise NotFound(f"thread {thread} not found")
            if session_id is None:
                await repos.users.ensure(user_id)
            await repos.messages.add(
                user_id, message_id, thread, "user", content,
                run_id=run_id, client_message_id=client_message_id,
            )
            await repos.runs.create(user_id, run_id, thread, message_id,
                                    list(plan.agents), self.gateway_id)
            if session_id is not None:
                await repos.temporary.put(user_id, new_id("tmp"), session_id,
                                          f"run:{run_id}:plan", plan.as_record())
            return thread

        try:
            thread_id = await self.store.write(record)
        except IntegrityError:
            if client_message_id is None:
                raise
            earlier = await self.store.read(
                lambda repos: self._earlier(repos, user_id, client_message_id))
            if earlier is None:
                raise
            return earlier
        context = ExecutionContext(
            user_id=UserId(user_id), thread_id=ThreadId(thread_id), run_id=run_id,
            message_id=MessageId(message_id),
            session_id=SessionId(session_id) if session_id else None,
            content=content, plan=plan,
        )
        return Submission(ThreadId(thread_id), run_id, repeated=False, context=context)

    @staticmethod
    async def _earlier(repos: Repositories, user_id: str, client_message_id: str) -> Submission | None:
        message = await repos.messages.find_by_client_id(user_id, client_message_id)
        if message is None or message.run_id is None:
            return None
        return Submission(ThreadId(message.thread_id), RunId(message.run_id), repeated=True)

    def launch(self, submission: Submission) -> asyncio.Task[None]:
        """Start the prepared run as a task of the service (not of any connection)."""
        assert submission.context is not None and not submission.repeated
        run_id = submission.run_id
        task = asyncio.create_task(self._execute(submission.context), name=f"run {run_id}")
        self._tasks.add(task)
        self._running.add(run_id)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._running.discard(run_id)

        task.add_done_callback(done)
        return task

    async def submit(
        self, user_id: str, content: str, *, thread_id: str | None = None,
        client_message_id: str | None = None, session_id: str | None = None,
    ) -> Submission:
        """`prepare` and `launch` in one call (for callers without live subscribers)."""
        submission = await self.prepare(user_id, session_id, content, thread_id,
                                        client_message_id)
        if not submission.repeated:
            self.launch(submission)
        return submission

    async def _execute(self, context: ExecutionContext) -> None:
        sink = RunEventSink(self, context)
        try:
            await self.factory.create(context, sink).run()
        except asyncio.CancelledError:
            await sink.settle()
            if not sink.completed:
                await self._abandon(context, "interrupted", "the service stopped during the run")
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the run ends it recorded
            if isinstance(exc.__cause__, RunEnded):
                log.info("run %s was ended elsewhere; stopped", context.run_id)
                return
            log.warning("run %s stopped outside the agents: %s", context.run_id, exc)
            await sink.settle()
            if not sink.completed:
                await self._abandon(context, "run_failed", f"the run could not go on: {exc}")

    async def _abandon(self, context: ExecutionContext, code: str, message: str) -> None:
        """Finish a run the engine could not finish. If even that cannot be stored now,
        tell its followers, and finish it when the database is back."""
        try:
            await self.fail_run(context.user_id, context.thread_id, context.run_id, code, message)
        except Exception as exc:  # noqa: BLE001 - storage away: repaired later
            log.warning("run %s could not be marked failed (%s); will retry",
                        context.run_id, exc)
            self.storage_repairs.add(
                f"run:{context.run_id}",
                lambda: self.fail_run(context.user_id, context.thread_id, context.run_id,
                                      code, message))
            with contextlib.suppress(Exception):
                await self.hub.publish(context.user_id, context.thread_id, {
                    "type": "error", "code": "run_failed", "message": message,
                    "run_id": context.run_id, "thread_id": context.thread_id,
                })

    async def store_events(self, thread_id: str, batch: list[_Pending]) -> list[_Pending]:
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
                           batch: list[_Pending]) -> list[dict[str, Any]]:
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
        await self._cache_write(f"result:{run_id}",
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

    # reading ------------------------------------------------------------------------

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
            raise _unavailable(exc) from exc

    async def run_events(self, user_id: str, run_id: str) -> list[dict[str, Any]]:
        await self.hub.ready()
        try:
            return await self.store.read(lambda repos: repos.events.list_for_run(user_id, run_id))
        except STORAGE_ERRORS as exc:
            raise _unavailable(exc) from exc

    async def thread_exists(self, user_id: str, thread_id: str) -> bool:
        try:
            thread = await self.store.read(lambda repos: repos.threads.get(user_id, thread_id))
        except STORAGE_ERRORS as exc:
            raise _unavailable(exc) from exc
        return thread is not None

    # lifecycle ----------------------------------------------------------------------

    async def start_heartbeat(self) -> None:
        """Announce this gateway as alive in the cache and keep it so every
        `HEARTBEAT_INTERVAL_S` until `close`, in a task of its own (nothing else may delay
        a heartbeat); and, in another task, sweep for dead gateways and retry repairs."""
        await self._beat()
        self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="gateway heartbeat")
        self._maintenance = asyncio.create_task(self._maintain(), name="gateway maintenance")

    async def _beat(self) -> bool:
        try:
            async with asyncio.timeout(CACHE_WRITE_TIMEOUT_S):
                await self.cache.put_gateway_alive(self.gateway_id, {
                    "started_at": self._started_at})
        except Exception as exc:  # noqa: BLE001 - a missed beat is retried next time
            if not self._cache_down:
                log.warning("Redis away: gateway heartbeat not written (%s)", exc)
            self._cache_down = True
            return False
        if self._cache_down:
            log.warning("Redis is back: heartbeat written")
        self._cache_down = False
        return True

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)
            await self._beat()

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)
            await self.tick()

    async def tick(self) -> None:
        """One round of upkeep: repairs (the cache's only while it answers), then the
        sweep for dead gateways."""
        if not self._cache_down:
            await self.cache_repairs.run()
        await self.storage_repairs.run()
        try:
            await self.sweep()
        except Exception as exc:  # noqa: BLE001 - a backend away: next round
            log.debug("sweep for dead gateways skipped: %s", exc)

    async def recover(self) -> int:
        """At start-up: fail the runs left `running`, and mark the sessions left `active`,
        by gateways that are gone.

        Every run and session records the gateway (process) that holds it. Those of this
        gateway's own id belong to an earlier process with the same id (same host and
        port), which is gone; those of another gateway are orphaned when that gateway has
        no heartbeat. Each orphaned run gets status `failed`, error_code `interrupted` and
        its closing events; each orphaned session becomes `disconnected` and its
        connection key goes. With the embedded in-process cache no other gateway's
        heartbeat is visible, so there a single gateway per database is assumed.
        """
        async def read(repos: Repositories) -> tuple[list[Any], set[str]]:
            return (await repos.runs.list_running(),
                    await repos.sessions.gateways_with_active())

        running, holding = await self.store.read(read)
        running = [run for run in running if run.id not in self._running]
        others = ({run.gateway_id for run in running if run.gateway_id} | holding) - {
            self.gateway_id}
        live = await self.cache.live_gateways(others) if others else set()
        self._seen_alive |= live
        dead = (others - live) | {self.gateway_id}
        failed = await self._fail_orphans(
            [run for run in running if run.gateway_id is None or run.gateway_id in dead])
        await self._release_sessions(dead & (holding | {self.gateway_id}))
        return failed

    async def sweep(self) -> int:
        """Fail the runs and release the sessions of other gateways that died without
        closing: gateways whose heartbeat this one has seen, missing for
        `MISSING_GRACE_S` (so a Redis restart, after which every gateway writes its
        heartbeat again within a second, is not taken for deaths). Gateways never seen
        alive here (another deployment's, with a different cache) are left alone."""
        async def read(repos: Repositories) -> tuple[list[Any], set[str]]:
            return (await repos.runs.list_running(except_gateway=self.gateway_id),
                    await repos.sessions.gateways_with_active(except_gateway=self.gateway_id))

        running, holding = await self.store.read(read)
        others = {run.gateway_id for run in running if run.gateway_id} | holding
        self._seen_alive &= others
        for gone in set(self._missing_since) - others:
            del self._missing_since[gone]
        if not others:
            return 0
        live = await self.cache.live_gateways(others)
        now = time.monotonic()
        dead: set[str] = set()
        for gateway in others:
            if gateway in live:
                self._seen_alive.add(gateway)
                self._missing_since.pop(gateway, None)
            elif gateway in self._seen_alive:
                since = self._missing_since.setdefault(gateway, now)
                if now - since >= MISSING_GRACE_S:
                    dead.add(gateway)
        if not dead:
            return 0
        log.warning("gateway(s) %s stopped without closing", ", ".join(sorted(dead)))
        failed = await self._fail_orphans([run for run in running if run.gateway_id in dead])
        await self._release_sessions(dead & holding)
        return failed

    async def _release_sessions(self, gateways: set[str]) -> None:
        """Sessions the dead `gateways` held: `disconnected`, connection keys removed."""
        if not gateways:
            return
        released = await self.store.write(
            lambda repos: repos.sessions.disconnect_for_gateways(gateways))
        for user_id, connection_id in released:
            await self._cache_write(f"conn:{connection_id}",
                                    functools.partial(self.cache.drop_connection, user_id,
                                                      connection_id))
        if released:
            log.warning("marked %d session(s) of stopped gateway(s) disconnected",
                        len(released))

    async def _fail_orphans(self, orphans: list[Any]) -> int:
        failed = 0
        for run in orphans:
            if await self.fail_run(run.user_id, run.thread_id, run.id, "interrupted",
                                   "the gateway running this run stopped"):
                failed += 1
        if failed:
            log.warning("marked %d interrupted run(s) failed", failed)
        self.recovered += failed
        return failed

    @property
    def active_runs(self) -> int:
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Wait for every run started so far to finish and its events to be stored."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.writer.wait_idle()

    async def close(self) -> None:
        """Stop runs still going; each is recorded failed with code `interrupted`."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.writer.wait_idle()
        if self._maintenance is not None:
            background = [t for t in (self._maintenance, self._heartbeat) if t is not None]
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            self._maintenance = None
            self._heartbeat = None
            await self.storage_repairs.run()
            try:
                async with asyncio.timeout(CACHE_WRITE_TIMEOUT_S):
                    await self.cache.drop_gateway(self.gateway_id)
            except Exception as exc:  # noqa: BLE001 - the key expires anyway
                log.warning("gateway heartbeat not removed: %s", exc)
