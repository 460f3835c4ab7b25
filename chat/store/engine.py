"""The SQLAlchemy async engine factory for the two supported URLs.

SQLite (`sqlite+aiosqlite`) is the embedded default. It runs in WAL mode with a busy
timeout so that an independent reader (the acceptance suite's probes open their own engine
on the same file) and the service coexist. The driver opens a transaction with
`BEGIN IMMEDIATE` in front of the first write statement (in the same call, so it costs no
extra round trip to the driver's thread): the write lock is taken up front, and a writer
waits (busy timeout) instead of failing when another connection committed first. Plain
reads run without a transaction of their own. `synchronous = NORMAL` is the WAL setting
that keeps commits durable across a process crash without an fsync per commit.
PostgreSQL (`postgresql+asyncpg`) needs none of this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
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
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql+asyncpg"):
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(url, **kwargs)
    raise ValueError(f"unsupported database URL {url!r}; use sqlite+aiosqlite or postgresql+asyncpg")


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = "IMMEDIATE"
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()


async def create_schema(engine: AsyncEngine) -> None:
    """Create the tables and indexes that do not exist yet (idempotent)."""
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
