"""Submission: a user's message becomes a recorded run, then a task that runs it.

The user's message and the run row (`running`) are committed before the run starts, and
a repeated `message_id` of the same user finds the run the first one started instead of
starting another (a unique constraint on the user's client message ids settles a race).
Runs are tasks owned by the service, not by a connection, so a run goes on when its
client disconnects; a run the engine could not finish is recorded failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from chat.context import ExecutionContext
from chat.engine import EngineFactory
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
from chat.runs.events import EventStore
from chat.runs.faults import STORAGE_ERRORS, NotFound, Repairs, RunEnded, unavailable
from chat.store import Repositories, Store

__all__ = ["THREAD_TITLE_CHARS", "Submission", "Submissions"]

log = logging.getLogger(__name__)

THREAD_TITLE_CHARS = 80


@dataclass(frozen=True)
class Submission:
    """A user message accepted by `RunService.prepare`: a new run to launch, or (when
    `repeated`) the run an earlier message with the same `message_id` started."""

    thread_id: ThreadId
    run_id: RunId
    repeated: bool
    context: ExecutionContext | None = None


class Submissions:
    """The messages one gateway process accepted, and the tasks running their runs."""

    def __init__(self, store: Store, hub: EventHub, factory: EngineFactory, gateway_id: str,
                 events: EventStore, *, storage_repairs: Repairs) -> None:
        self.store = store
        self.hub = hub
        self.factory = factory
        self.gateway_id = gateway_id
        self.events = events
        self.storage_repairs = storage_repairs
        self._tasks: set[asyncio.Task[None]] = set()
        self.running: set[str] = set()

    async def prepare(
        self,
        user_id: str,
        session_id: str | None,
        content: str,
        thread_id: str | None,
        client_message_id: str | None,
        *,
        new_thread: bool = False,
    ) -> Submission:
        """Commit the user's message and a `running` run (or find the earlier run of a
        repeated `client_message_id`). Raise `NotFound` for a thread not the user's,
        `Unavailable` (nothing written) when the database cannot be reached.

        `new_thread` starts the conversation `thread_id` names (a client that chooses its
        own thread ids, as AG-UI clients do); an id another user's thread holds is
        `NotFound`."""
        try:
            return await self._prepare(user_id, session_id, content, thread_id,
                                       client_message_id, new_thread)
        except (NotFound, IntegrityError):
            raise
        except STORAGE_ERRORS as exc:
            raise unavailable(exc) from exc

    async def _prepare(
        self,
        user_id: str,
        session_id: str | None,
        content: str,
        thread_id: str | None,
        client_message_id: str | None,
        new_thread: bool = False,
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
            if thread is None or new_thread:
                thread = thread or new_thread_id()
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
                if new_thread:
                    raise NotFound(f"thread {thread_id} not found") from None
                raise
            earlier = await self.store.read(
                lambda repos: self._earlier(repos, user_id, client_message_id))
            if earlier is None:
                if new_thread:
                    raise NotFound(f"thread {thread_id} not found") from None
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
        self.running.add(run_id)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self.running.discard(run_id)

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
        sink = self.events.sink(context)
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
        fail_run = self.events.fail_run
        try:
            await fail_run(context.user_id, context.thread_id, context.run_id, code, message)
        except Exception as exc:  # noqa: BLE001 - storage away: repaired later
            log.warning("run %s could not be marked failed (%s); will retry",
                        context.run_id, exc)
            self.storage_repairs.add(
                f"run:{context.run_id}",
                lambda: fail_run(context.user_id, context.thread_id, context.run_id,
                                 code, message))
            with contextlib.suppress(Exception):
                await self.hub.publish(context.user_id, context.thread_id, {
                    "type": "error", "code": "run_failed", "message": message,
                    "run_id": context.run_id, "thread_id": context.thread_id,
                })

    @property
    def active(self) -> int:
        """How many runs are going."""
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Wait for every run started so far to finish."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel the runs still going and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
