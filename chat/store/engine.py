"""The SQLAlchemy async engine factory for the two supported URLs.

SQLite (`sqlite+aiosqlite`) is the embedded default. It runs in WAL mode with a busy
timeout so that an independent reader (the acceptance suite's probes open their own engine
on the same file) and the service coexist. The driver opens a transaction with
`BEGIN IMMEDIATE` in front of the first write statement (in the same call, so it costs no
extra round trip to the driver's thread): the write lock is taken up front, and a writer
waits (busy timeout) instead of failing when another connection committed first. Plain
reads run without a transaction of their own. `synchronous = NORMAL` is the WAL setting
that keeps commits durable across a process crash without an fsync per commit.
PostgreSQL (`postgresql+asyncpg`) needs none of this. A pooled PostgreSQL connection
that the server or the network closed (a restart, an outage) must not fail the next
request, yet a ping per checkout (`pool_pre_ping`) costs a round trip per transaction.
The pool asks the driver instead, at no cost: asyncpg knows a connection is closed as soon
as its socket is, and such a connection is replaced at checkout. A connection that fails
during use raises a disconnect error, which makes SQLAlchemy replace every connection of
the pool opened before it; the caller of that one transaction sees the error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, inspect
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chat.store.models import Base

SQLITE_BUSY_TIMEOUT_MS = 10_000


def sqlite_url_in(directory: str | Path) -> str:
    """The URL of the service's SQLite file inside `directory`."""
    return f"sqlite+aiosqlite:///{Path(directory) / 'chat.sqlite3'}"


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`; SQLite connections get WAL, a busy timeout and explicit BEGIN."""
    if url.startswith("sqlite"):
        kwargs.setdefault("pool_reset_on_return", None)
        engine = create_async_engine(url, **kwargs)
        configure_sqlite(engine.sync_engine)
        return engine
    if url.startswith("postgresql+asyncpg"):
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        engine = create_async_engine(url, **kwargs)
        if not kwargs.get("pool_pre_ping"):
            event.listen(engine.sync_engine, "checkout", _refuse_closed_connection)
        return engine
    raise ValueError(f"unsupported database URL {url!r}; use sqlite+aiosqlite or postgresql+asyncpg")


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """At checkout: a pooled asyncpg connection whose socket has closed is replaced (the
    pool tries another) instead of failing the transaction that would use it."""
    driver = getattr(dbapi_connection, "_connection", None)
    is_closed = getattr(driver, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the pooled database connection was closed")


def configure_sqlite(engine: Engine) -> None:
    """WAL, a busy timeout, `BEGIN IMMEDIATE` and `synchronous = NORMAL` on every new
    connection of `engine` (the async engine's sync side, or a plain sqlite3 engine)."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = "IMMEDIATE"
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()


# Any fixed number; names the schema's advisory lock in PostgreSQL.
SCHEMA_LOCK_KEY = 7_130_455_201

# Columns added after the first schema, for databases created before them: table,
# column, its SQL type, and an index that goes with it.
ADDED_COLUMNS = (
    ("user_sessions", "gateway_id", "VARCHAR(64)",
     ("CREATE INDEX IF NOT EXISTS ix_user_sessions_status_gateway "
      "ON user_sessions (status, gateway_id)")),
)


def _column_names(connection: Any, table: str) -> set[str]:
    return {str(c["name"]) for c in inspect(connection).get_columns(table)}


async def create_schema(engine: AsyncEngine) -> None:
    """Create the tables and indexes that do not exist yet, and add the columns of
    `ADDED_COLUMNS` to tables made before them (idempotent). Gateways starting at once
    on one PostgreSQL database take turns (a transaction-scoped advisory lock); on
    SQLite a start-up that lost the race simply tries again."""
    try:
        await _create_schema(engine)
    except SQLAlchemyError:
        if engine.dialect.name == "postgresql":
            raise
        await _create_schema(engine)


async def _create_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK_KEY})")
        await connection.run_sync(Base.metadata.create_all)
        for table, column, kind, index in ADDED_COLUMNS:
            present = await connection.run_sync(_column_names, table)
            if column in present:
                continue
            guard = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
            await connection.exec_driver_sql(
                f"ALTER TABLE {table} ADD COLUMN {guard}{column} {kind}")
            await connection.exec_driver_sql(index)
