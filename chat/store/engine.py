"""The SQLAlchemy async engine factory for the two supported URLs.

SQLite (`sqlite+aiosqlite`) is the embedded default. It runs in WAL mode with a busy
timeout so that an independent reader (the acceptance suite's probes open their own engine
on the same file) and the service coexist. The driver's implicit transactions are turned
off and the service emits its own `BEGIN`: write transactions use `BEGIN IMMEDIATE`,
which takes the write lock up front and so waits (busy timeout) instead of failing when
another connection commits first. PostgreSQL (`postgresql+asyncpg`) needs none of this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from chat.store.models import Base

SQLITE_BUSY_TIMEOUT_MS = 10_000
BEGIN_OPTION = "gp_begin"


def sqlite_url_in(directory: str | Path) -> str:
    """The URL of the service's SQLite file inside `directory`."""
    return f"sqlite+aiosqlite:///{Path(directory) / 'chat.sqlite3'}"


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`; SQLite connections get WAL, a busy timeout and explicit BEGIN."""
    if url.startswith("sqlite"):
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
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(BEGIN_OPTION, "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


async def create_schema(engine: AsyncEngine) -> None:
    """Create the tables and indexes that do not exist yet (idempotent)."""
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            await connection.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
        async with connection.begin():
            await connection.run_sync(Base.metadata.create_all)
