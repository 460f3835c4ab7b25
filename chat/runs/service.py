"""`RunService`: the chat service's use cases behind one object, for the gateway and `app`.

It sits between the engine (which only emits events) and the gateway (which only speaks
the wire), and composes the parts that hold the rules: sessions (chat.runs.sessions),
submission (chat.runs.submission), event storage (chat.runs.events) and recovery
(chat.runs.recovery), sharing one store, cache, hub and the repairs of chat.runs.faults.
"""

from __future__ import annotations

import asyncio
from typing import Any

from chat.cache import Cache
from chat.engine import EngineFactory
from chat.hub import EventHub
from chat.ids import SessionId
from chat.runs.events import EventStore
from chat.runs.faults import Repairs
from chat.runs.recovery import Recovery
from chat.runs.sessions import Sessions
from chat.runs.submission import Submission, Submissions
from chat.store import Store

__all__ = ["RunService"]


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
        self.cache_repairs = Repairs("cache")
        self.storage_repairs = Repairs("storage")
        self.sessions = Sessions(store, cache, gateway_id, cache_repairs=self.cache_repairs,
                                 storage_repairs=self.storage_repairs)
        self.events = EventStore(store, cache, hub, cache_repairs=self.cache_repairs)
        self.submissions = Submissions(store, hub, factory, gateway_id, self.events,
                         storage_repairs=self.storage_repairs)
        self.recovery = Recovery(store, cache, gateway_id, submissions=self.submissions, events=self.events,
                                 sessions=self.sessions, cache_repairs=self.cache_repairs,
                                 storage_repairs=self.storage_repairs)

    # sessions -----------------------------------------------------------------------

    async def open_session(self, user_id: str, session_id: SessionId, connection_id: str,
                           token_jti: str | None) -> None:
        await self.sessions.open(user_id, session_id, connection_id, token_jti)

    async def close_session(
        self, user_id: str, session_id: str, connection_id: str, *, ended: bool
    ) -> None:
        await self.sessions.close(user_id, session_id, connection_id, ended=ended)

    # runs ---------------------------------------------------------------------------

    async def prepare(self, user_id: str, session_id: str | None, content: str,
                      thread_id: str | None, client_message_id: str | None, *,
                      new_thread: bool = False) -> Submission:
        return await self.submissions.prepare(user_id, session_id, content, thread_id,
                                              client_message_id, new_thread=new_thread)

    def launch(self, submission: Submission) -> asyncio.Task[None]:
        return self.submissions.launch(submission)

    async def submit(
        self, user_id: str, content: str, *, thread_id: str | None = None,
        client_message_id: str | None = None, session_id: str | None = None,
    ) -> Submission:
        return await self.submissions.submit(user_id, content, thread_id=thread_id,
                                      client_message_id=client_message_id,
                                      session_id=session_id)

    async def fail_run(self, user_id: str, thread_id: str, run_id: str, code: str,
                       message: str) -> bool:
        return await self.events.fail_run(user_id, thread_id, run_id, code, message)

    # reading ------------------------------------------------------------------------

    async def thread_events_after(self, user_id: str, thread_id: str,
                                  after_seq: int) -> list[dict[str, Any]]:
        return await self.events.thread_events_after(user_id, thread_id, after_seq)

    async def run_events(self, user_id: str, run_id: str) -> list[dict[str, Any]]:
        return await self.events.run_events(user_id, run_id)

    async def thread_exists(self, user_id: str, thread_id: str) -> bool:
        return await self.events.thread_exists(user_id, thread_id)

    # lifecycle ----------------------------------------------------------------------

    async def start_heartbeat(self) -> None:
        await self.recovery.start_heartbeat()

    async def recover(self) -> int:
        return await self.recovery.recover()

    @property
    def active_runs(self) -> int:
        return self.submissions.active

    async def wait_idle(self) -> None:
        """Wait for every run started so far to finish and its events to be stored."""
        await self.submissions.wait_idle()
        await self.events.writer.wait_idle()

    async def close(self) -> None:
        """Stop runs still going; each is recorded failed with code `interrupted`."""
        await self.submissions.stop()
        await self.events.writer.wait_idle()
        await self.recovery.stop()
