"""Probes: read what the product stored, directly, through channels of the suite's own.

A `Then` that checks storage must not ask the service (its repositories could agree with a
bug). `StorageProbe` opens its own SQLAlchemy engine on the same database and reads the
tables of DESIGN §6 by name with SQLAlchemy Core; `CacheProbe` has its own Redis client.
Both also remove a scenario's users' rows and keys afterwards, and nothing else.

Storage gives no change notifications, so `eventually` re-reads until a condition holds,
pacing the reads with a short, growing interval, and fails after the configured timeout
with what it last saw. Use it only where the contract gives the client no signal (for
example a session's record after the client has closed it).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, Integer, String, Text, column, delete, select, table, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from support.contract import namespace
from support.metrics import METRICS

T = TypeVar("T")
Row = dict[str, Any]

_ID = String(40)

THREADS = table(
    "threads",
    column("id", _ID),
    column("user_id", _ID),
    column("title", String(200)),
    column("last_seq", Integer),
    column("created_at", DateTime(timezone=True)),
    column("updated_at", DateTime(timezone=True)),
)
MESSAGES = table(
    "messages",
    column("id", _ID),
    column("thread_id", _ID),
    column("user_id", _ID),
    column("role", String(16)),
    column("content", Text),
    column("client_message_id", String(200)),
    column("run_id", _ID),
    column("created_at", DateTime(timezone=True)),
)
EXECUTIONS = table(
    "agent_executions",
    column("id", _ID),
    column("thread_id", _ID),
    column("user_id", _ID),
    column("message_id", _ID),
    column("status", String(16)),
    column("agents", JSON),
    column("result", Text),
    column("error_code", String(64)),
    column("error_message", Text),
    column("started_at", DateTime(timezone=True)),
    column("completed_at", DateTime(timezone=True)),
)
RUN_EVENTS = table(
    "run_events",
    column("id", Integer),
    column("thread_id", _ID),
    column("run_id", _ID),
    column("user_id", _ID),
    column("seq", Integer),
    column("type", String(32)),
    column("event", JSON),
)
SESSIONS = table(
    "user_sessions",
    column("id", _ID),
    column("user_id", _ID),
    column("connection_id", _ID),
    column("token_jti", String(200)),
    column("status", String(16)),
    column("created_at", DateTime(timezone=True)),
    column("ended_at", DateTime(timezone=True)),
)
TEMPORARY = table(
    "temporary_user_data",
    column("id", _ID),
    column("user_id", _ID),
    column("session_id", _ID),
    column("key", String(200)),
    column("value", JSON),
    column("created_at", DateTime(timezone=True)),
)
USERS = table("users", column("id", _ID))

# Tables whose rows carry user_id, in the order they are cleaned.
_USER_TABLES = (RUN_EVENTS, TEMPORARY, SESSIONS, EXECUTIONS, MESSAGES, THREADS)

_FIRST_PAUSE_S = 0.005
_LONGEST_PAUSE_S = 0.1


async def eventually(
    read: Callable[[], Awaitable[T]],
    holds: Callable[[T], bool],
    *,
    what: str,
    timeout: float,
    describe: Callable[[T], str] = repr,
) -> T:
    """Re-read with `read` until `holds(value)`; the value. Fails with the last value seen."""
    deadline = time.monotonic() + timeout
    pause = _FIRST_PAUSE_S
    while True:
        value = await read()
        if holds(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"expected {what} within {timeout:g} s; last seen: {describe(value)}"
            )
        # The poll interval of `eventually`: storage gives no signal to await, so it is
        # re-read at a growing interval, never past the deadline.
        await asyncio.sleep(min(pause, max(deadline - time.monotonic(), 0)))
        pause = min(pause * 2, _LONGEST_PAUSE_S)


class StorageProbe:
    """Reads the service's tables with an engine of its own."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        connect_args: dict[str, Any] = {}
        if database_url.startswith("sqlite"):
            connect_args["timeout"] = 10
        elif database_url.startswith("postgresql"):
            connect_args["timeout"] = 5
        self._engine: AsyncEngine = create_async_engine(database_url, connect_args=connect_args)

    async def check_reachable(self) -> None:
        """Open a connection and run a trivial query; raises what the driver raises."""
        async with self._engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def _rows(self, statement: Any) -> list[Row]:
        async with self._engine.connect() as conn:
            result = await conn.execute(statement)
            return [dict(row._mapping) for row in result]

    async def threads_of(self, user_id: str) -> list[Row]:
        return await self._rows(
            select(THREADS).where(THREADS.c.user_id == user_id).order_by(THREADS.c.created_at)
        )

    async def messages_in(self, thread_id: str) -> list[Row]:
        """Every message of a thread in the order it was stored."""
        with METRICS.timed("message_store"):
            return await self._rows(
                select(MESSAGES)
                .where(MESSAGES.c.thread_id == thread_id)
                .order_by(MESSAGES.c.created_at, MESSAGES.c.role.desc())
            )

    async def messages_of(self, user_id: str) -> list[Row]:
        return await self._rows(
            select(MESSAGES).where(MESSAGES.c.user_id == user_id).order_by(MESSAGES.c.created_at)
        )

    async def execution(self, run_id: str) -> Row | None:
        rows = await self._rows(select(EXECUTIONS).where(EXECUTIONS.c.id == run_id))
        return rows[0] if rows else None

    async def executions_of(self, user_id: str) -> list[Row]:
        return await self._rows(
            select(EXECUTIONS)
            .where(EXECUTIONS.c.user_id == user_id)
            .order_by(EXECUTIONS.c.started_at)
        )

    async def events_of_thread(self, thread_id: str) -> list[Row]:
        return await self._rows(
            select(RUN_EVENTS)
            .where(RUN_EVENTS.c.thread_id == thread_id)
            .order_by(RUN_EVENTS.c.seq)
        )

    async def session_of_connection(self, connection_id: str) -> Row | None:
        rows = await self._rows(select(SESSIONS).where(SESSIONS.c.connection_id == connection_id))
        return rows[0] if rows else None

    async def sessions_of(self, user_ids: Sequence[str]) -> list[Row]:
        return await self._rows(select(SESSIONS).where(SESSIONS.c.user_id.in_(list(user_ids))))

    async def temporary_data_of(self, user_id: str) -> list[Row]:
        return await self._rows(
            select(TEMPORARY).where(TEMPORARY.c.user_id == user_id).order_by(TEMPORARY.c.created_at)
        )

    async def delete_users(self, user_ids: Sequence[str]) -> None:
        """Remove every row of these users, and nothing else."""
        if not user_ids:
            return
        ids = list(user_ids)
        async with self._engine.begin() as conn:
            for owned in _USER_TABLES:
                await conn.execute(delete(owned).where(owned.c.user_id.in_(ids)))
            await conn.execute(delete(USERS).where(USERS.c.id.in_(ids)))

    async def close(self) -> None:
        await self._engine.dispose()


class CacheProbe:
    """Reads the cache with a client of its own (strings in, strings out)."""

    def __init__(self, client: Any, description: str) -> None:
        self._client = client
        self.description = description

    async def check_reachable(self) -> None:
        await self._client.ping()

    async def keys(self, pattern: str) -> list[str]:
        found = [k async for k in self._client.scan_iter(match=pattern, count=500)]
        return sorted(str(k) for k in found)

    async def keys_of(self, user_id: str) -> list[str]:
        return await self.keys(f"{namespace(user_id)}*")

    async def get_json(self, key: str) -> Any:
        """The entry parsed as JSON, the raw text when it is not JSON, None when absent."""
        with METRICS.timed("cache_set_get"):
            raw = await self._client.get(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    async def ttl(self, key: str) -> int:
        return int(await self._client.ttl(key))

    async def pttl(self, key: str) -> int:
        """Milliseconds the entry has left; -1 when it never expires, -2 when absent."""
        return int(await self._client.pttl(key))

    async def entries(self, keys: Sequence[str]) -> dict[str, Any]:
        return {key: await self.get_json(key) for key in keys}

    async def delete_users(self, user_ids: Sequence[str], extra_keys: Sequence[str] = ()) -> None:
        """Remove every `gp:{user}:*` key of these users and the named keys, nothing else."""
        doomed = list(extra_keys)
        for user_id in user_ids:
            doomed.extend(await self.keys_of(user_id))
        if doomed:
            await self._client.delete(*doomed)

    async def close(self) -> None:
        await self._client.aclose()
