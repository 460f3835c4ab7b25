"""Repositories over the tables of DESIGN §6, and the unit of work that binds them.

Every method takes the `user_id` it acts for and puts it in the WHERE clause, so a
query can never reach another user's rows even with a guessed id. The exceptions are the
recovery scans (`RunRepository.list_running`, `SessionRepository.gateways_with_active` and
`disconnect_for_gateways`), which are about gateway processes, not users (each run they
find is then finished with its own user's scope).

`Store.write(work)` and `Store.read(work)` run `work` with a `Repositories` bound to one
connection and one transaction. On SQLite, writes in this process go one at a time
(SQLite has a single writer anyway) through one thread and one long-lived connection, so
they queue instead of failing with "database is locked" and skip a pool checkout per
transaction; each transaction is one hop to that thread (`chat.store.sqlite_thread`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Table, and_, bindparam, delete, insert, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from chat.store.engine import configure_sqlite
from chat.store.models import (
    AgentExecution,
    Message,
    RunEvent,
    TemporaryUserData,
    Thread,
    User,
    UserSession,
)
from chat.store.sqlite_thread import SqliteTransactions

T = TypeVar("T")


class Connection(Protocol):
    """What the repositories need of a connection: its dialect and an awaitable
    `execute` (an `AsyncConnection`, or a SQLite connection on its database thread)."""

    dialect: Dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any: ...

users_t = cast(Table, User.__table__)
threads_t = cast(Table, Thread.__table__)
messages_t = cast(Table, Message.__table__)
runs_t = cast(Table, AgentExecution.__table__)
events_t = cast(Table, RunEvent.__table__)
sessions_t = cast(Table, UserSession.__table__)
temp_t = cast(Table, TemporaryUserData.__table__)


# Statements built once: executed with a dict of values each time, they skip the
# per-call construction of a statement (SQLAlchemy still caches what they compile to).
# The user row if it is new. Written as text (with the columns' types, so values are
# stored as the ORM stores them): the dialects' `on_conflict_do_nothing` constructs have
# no cache key, so SQLAlchemy compiled them again at every connection. Both PostgreSQL
# and SQLite (3.24+) read this statement.
_ENSURE_USER = text(
    "INSERT INTO users (id, created_at) VALUES (:id, :created_at) ON CONFLICT (id) DO NOTHING"
).bindparams(bindparam("id", type_=users_t.c.id.type),
             bindparam("created_at", type_=users_t.c.created_at.type))
_INSERT_THREAD = insert(threads_t)
_INSERT_MESSAGE = insert(messages_t)
_INSERT_RUN = insert(runs_t)
_INSERT_EVENT = insert(events_t)
_INSERT_SESSION = insert(sessions_t)
_INSERT_TEMPORARY = insert(temp_t)
# The statements of the golden path that filter or set values, with named parameters
# (`b_…`, apart from the column names SQLAlchemy binds itself).
_THREAD_BY_ID = select(threads_t.c.id, threads_t.c.user_id, threads_t.c.title,
                       threads_t.c.last_seq).where(
    and_(threads_t.c.id == bindparam("b_id"), threads_t.c.user_id == bindparam("b_user")))
_NEXT_SEQ = (
    update(threads_t)
    .where(and_(threads_t.c.id == bindparam("b_id"), threads_t.c.user_id == bindparam("b_user")))
    .values(last_seq=threads_t.c.last_seq + bindparam("b_count"),
            updated_at=bindparam("b_now"))
    .returning(threads_t.c.last_seq))
_FINISH_RUN = update(runs_t).where(and_(
    runs_t.c.id == bindparam("b_id"), runs_t.c.user_id == bindparam("b_user"),
    runs_t.c.status == "running"))
_ENDED_AMONG = select(runs_t.c.id).where(and_(
    runs_t.c.user_id == bindparam("b_user"),
    runs_t.c.id.in_(bindparam("b_ids", expanding=True)),
    runs_t.c.status != "running"))
_CLOSE_SESSION = update(sessions_t).where(and_(
    sessions_t.c.id == bindparam("b_id"), sessions_t.c.user_id == bindparam("b_user")))
_DELETE_TEMPORARY_OF_SESSION = delete(temp_t).where(and_(
    temp_t.c.user_id == bindparam("b_user"), temp_t.c.session_id == bindparam("b_session")))


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ThreadRow:
    id: str
    user_id: str
    title: str
    last_seq: int


@dataclass(frozen=True)
class MessageRow:
    id: str
    thread_id: str
    user_id: str
    role: str
    content: str
    client_message_id: str | None
    run_id: str | None


@dataclass(frozen=True)
class RunRow:
    id: str
    thread_id: str
    user_id: str
    message_id: str
    status: str
    agents: list[str]
    result: str | None
    error_code: str | None
    gateway_id: str | None


class _Repository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection


class UserRepository(_Repository):
    async def ensure(self, user_id: str) -> None:
        """Create the user row if it does not exist yet."""
        await self.connection.execute(_ENSURE_USER, {"id": user_id, "created_at": utcnow()})


class ThreadRepository(_Repository):
    async def create(self, user_id: str, thread_id: str, title: str) -> None:
        now = utcnow()
        await self.connection.execute(_INSERT_THREAD, {
            "id": thread_id, "user_id": user_id, "title": title[:200], "last_seq": 0,
            "created_at": now, "updated_at": now,
        })

    async def get(self, user_id: str, thread_id: str) -> ThreadRow | None:
        row = (await self.connection.execute(
            _THREAD_BY_ID, {"b_id": thread_id, "b_user": user_id})).first()
        return None if row is None else ThreadRow(*row)

    async def next_seq(self, user_id: str, thread_id: str, count: int = 1) -> int:
        """Allocate the thread's next `count` event numbers and return the last one (the
        row lock serialises writers of the thread, across processes too; `count` 0 only
        takes the lock)."""
        seq = (await self.connection.execute(_NEXT_SEQ, {
            "b_id": thread_id, "b_user": user_id, "b_count": count, "b_now": utcnow(),
        })).scalar_one_or_none()
        if seq is None:
            raise LookupError(f"thread {thread_id} of user {user_id} does not exist")
        return int(seq)

    async def last_seq(self, user_id: str, thread_id: str) -> int | None:
        """The thread's last allocated event number (None: no such thread of the user)."""
        seq = (
            await self.connection.execute(
                select(threads_t.c.last_seq).where(
                    and_(threads_t.c.id == thread_id, threads_t.c.user_id == user_id))
            )
        ).scalar_one_or_none()
        return None if seq is None else int(seq)


class MessageRepository(_Repository):
    async def add(
        self,
        user_id: str,
        message_id: str,
        thread_id: str,
        role: str,
        content: str,
        *,
        run_id: str | None,
        client_message_id: str | None = None,
    ) -> None:
        await self.connection.execute(_INSERT_MESSAGE, {
            "id": message_id, "thread_id": thread_id, "user_id": user_id, "role": role,
            "content": content, "client_message_id": client_message_id, "run_id": run_id,
            "created_at": utcnow(),
        })

    async def find_by_client_id(self, user_id: str, client_message_id: str) -> MessageRow | None:
        row = (
            await self.connection.execute(
                select(*_message_columns()).where(
                    and_(messages_t.c.user_id == user_id,
                         messages_t.c.client_message_id == client_message_id)
                )
            )
        ).first()
        return None if row is None else MessageRow(*row)

    async def list_for_thread(self, user_id: str, thread_id: str) -> list[MessageRow]:
        rows = await self.connection.execute(
            select(*_message_columns())
            .where(and_(messages_t.c.user_id == user_id, messages_t.c.thread_id == thread_id))
            .order_by(messages_t.c.created_at, messages_t.c.id)
        )
        return [MessageRow(*row) for row in rows]


def _message_columns() -> tuple[Any, ...]:
    c = messages_t.c
    return (c.id, c.thread_id, c.user_id, c.role, c.content, c.client_message_id, c.run_id)


class RunRepository(_Repository):
    """Rows of agent_executions: one per run, `running` then `completed` or `failed`."""

    async def create(
        self, user_id: str, run_id: str, thread_id: str, message_id: str,
        agents: list[str], gateway_id: str,
    ) -> None:
        await self.connection.execute(_INSERT_RUN, {
            "id": run_id, "thread_id": thread_id, "user_id": user_id, "message_id": message_id,
            "status": "running", "agents": agents, "gateway_id": gateway_id,
            "started_at": utcnow(),
        })

    async def finish(
        self, user_id: str, run_id: str, *, status: str, agents: list[str] | None,
        result: str | None, error_code: str | None = None, error_message: str | None = None,
    ) -> bool:
        """Mark a running run finished; False when it was not running (already finished)."""
        values: dict[str, Any] = {
            "status": status, "result": result, "error_code": error_code,
            "error_message": error_message, "completed_at": utcnow(),
        }
        if agents is not None:
            values["agents"] = agents
        outcome = await self.connection.execute(
            _FINISH_RUN, {**values, "b_id": run_id, "b_user": user_id})
        return bool(outcome.rowcount)

    async def get(self, user_id: str, run_id: str) -> RunRow | None:
        row = (
            await self.connection.execute(
                select(*_run_columns()).where(
                    and_(runs_t.c.id == run_id, runs_t.c.user_id == user_id)
                )
            )
        ).first()
        return None if row is None else RunRow(*row)

    async def ended_among(self, user_id: str, run_ids: set[str]) -> set[str]:
        """Those of the user's `run_ids` that are no longer `running`."""
        rows = await self.connection.execute(
            _ENDED_AMONG, {"b_user": user_id, "b_ids": sorted(run_ids)})
        return {str(row[0]) for row in rows}

    async def list_running(self, *, except_gateway: str | None = None) -> list[RunRow]:
        """Runs still `running`, of every user, optionally leaving out one gateway's:
        the candidates of recovery (each is then finished with its own user's scope)."""
        statement = select(*_run_columns()).where(runs_t.c.status == "running")
        if except_gateway is not None:
            statement = statement.where(
                (runs_t.c.gateway_id != except_gateway) | runs_t.c.gateway_id.is_(None))
        rows = await self.connection.execute(statement)
        return [RunRow(*row) for row in rows]


def _run_columns() -> tuple[Any, ...]:
    c = runs_t.c
    return (c.id, c.thread_id, c.user_id, c.message_id, c.status, c.agents, c.result,
            c.error_code, c.gateway_id)


class EventRepository(_Repository):
    """run_events: every server event of a thread as sent, numbered by `seq`."""

    async def add(self, user_id: str, thread_id: str, run_id: str, seq: int,
                  event: dict[str, Any]) -> None:
        await self.connection.execute(_INSERT_EVENT, {
            "thread_id": thread_id, "run_id": run_id, "user_id": user_id, "seq": seq,
            "type": event["type"], "event": event, "created_at": utcnow(),
        })

    async def add_many(self, user_id: str, thread_id: str,
                       events: list[dict[str, Any]]) -> None:
        """Store several events of one thread (each carries its run_id and seq)."""
        now = utcnow()
        await self.connection.execute(_INSERT_EVENT, [
            {"thread_id": thread_id, "run_id": e["run_id"], "user_id": user_id,
             "seq": e["seq"], "type": e["type"], "event": e, "created_at": now}
            for e in events
        ])

    async def list_after(self, user_id: str, thread_id: str, after_seq: int) -> list[dict[str, Any]]:
        rows = await self.connection.execute(
            select(events_t.c.event)
            .where(and_(events_t.c.user_id == user_id, events_t.c.thread_id == thread_id,
                        events_t.c.seq > after_seq))
            .order_by(events_t.c.seq)
        )
        return [row[0] for row in rows]

    async def list_for_run(self, user_id: str, run_id: str) -> list[dict[str, Any]]:
        rows = await self.connection.execute(
            select(events_t.c.event)
            .where(and_(events_t.c.user_id == user_id, events_t.c.run_id == run_id))
            .order_by(events_t.c.seq)
        )
        return [row[0] for row in rows]


class SessionRepository(_Repository):
    """user_sessions: one row per authenticated connection."""

    async def open(self, user_id: str, session_id: str, connection_id: str,
                   token_jti: str | None, gateway_id: str | None = None) -> None:
        await self.connection.execute(_INSERT_SESSION, {
            "id": session_id, "user_id": user_id, "connection_id": connection_id,
            "token_jti": token_jti, "status": "active", "created_at": utcnow(),
            "gateway_id": gateway_id,
        })

    async def gateways_with_active(self, *, except_gateway: str | None = None) -> set[str]:
        """The gateways holding `active` sessions, of every user (for recovery)."""
        statement = select(sessions_t.c.gateway_id).distinct().where(
            and_(sessions_t.c.status == "active", sessions_t.c.gateway_id.is_not(None)))
        if except_gateway is not None:
            statement = statement.where(sessions_t.c.gateway_id != except_gateway)
        return {str(row[0]) for row in await self.connection.execute(statement)}

    async def disconnect_for_gateways(self, gateway_ids: set[str]) -> list[tuple[str, str]]:
        """Mark the `active` sessions held by these (dead) gateways `disconnected`;
        (user_id, connection_id) of each, so their connection keys can go too."""
        rows = await self.connection.execute(
            update(sessions_t)
            .where(and_(sessions_t.c.status == "active",
                        sessions_t.c.gateway_id.in_(sorted(gateway_ids))))
            .values(status="disconnected")
            .returning(sessions_t.c.user_id, sessions_t.c.connection_id)
        )
        return [(str(user), str(connection)) for user, connection in rows]

    async def close(self, user_id: str, session_id: str, status: str) -> None:
        await self.connection.execute(_CLOSE_SESSION, {
            "b_id": session_id, "b_user": user_id, "status": status,
            "ended_at": utcnow() if status == "ended" else None})

    async def status(self, user_id: str, session_id: str) -> str | None:
        return (
            await self.connection.execute(
                select(sessions_t.c.status).where(
                    and_(sessions_t.c.id == session_id, sessions_t.c.user_id == user_id)
                )
            )
        ).scalar_one_or_none()


class TemporaryDataRepository(_Repository):
    """temporary_user_data: a session's working notes, removed when the session ends."""

    async def put(self, user_id: str, row_id: str, session_id: str, key: str,
                  value: dict[str, Any]) -> None:
        await self.connection.execute(_INSERT_TEMPORARY, {
            "id": row_id, "user_id": user_id, "session_id": session_id, "key": key,
            "value": value, "created_at": utcnow(),
        })

    async def delete_for_session(self, user_id: str, session_id: str) -> int:
        outcome = await self.connection.execute(
            _DELETE_TEMPORARY_OF_SESSION, {"b_user": user_id, "b_session": session_id})
        return int(outcome.rowcount)


class Repositories:
    """All repositories bound to one connection and transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.users = UserRepository(connection)
        self.threads = ThreadRepository(connection)
        self.messages = MessageRepository(connection)
        self.runs = RunRepository(connection)
        self.events = EventRepository(connection)
        self.sessions = SessionRepository(connection)
        self.temporary = TemporaryDataRepository(connection)


class Store:
    """Transactions over the service's database. A transaction is a coroutine function
    of `Repositories` that only runs statements; `write` commits it when it returns and
    rolls it back if it raises. On SQLite each transaction runs whole on a database
    thread (`chat.store.sqlite_thread`); on PostgreSQL on the event loop, over asyncpg."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._sqlite = SqliteTransactions(engine, configure_sqlite) if self.is_sqlite else None

    async def write(self, work: Callable[[Repositories], Coroutine[Any, Any, T]]) -> T:
        """`work` in one write transaction; what it returns."""
        if self._sqlite is not None:
            return await self._sqlite.write(lambda connection: work(Repositories(connection)))
        async with self.engine.begin() as connection:
            return await work(Repositories(connection))

    async def read(self, work: Callable[[Repositories], Coroutine[Any, Any, T]]) -> T:
        """`work` in one read-only transaction (a consistent snapshot); what it returns."""
        if self._sqlite is not None:
            return await self._sqlite.read(lambda connection: work(Repositories(connection)))
        async with self.engine.connect() as connection, connection.begin():
            return await work(Repositories(connection))

    async def dispose(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()
        await self.engine.dispose()
