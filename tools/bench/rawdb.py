"""The database baselines' way to the service's database: the service's own driver path.

A ratio of the service's store to a raw baseline only says what the service's layers
cost when both sides reach the database the same way. So the baselines' hand-written
SQLAlchemy Core statements (no repository layer) run where the service's run: on SQLite
each transaction whole on a plain `sqlite3` connection on a database thread of its own
(`chat.store.sqlite_thread`, one hand-off per transaction, the same connection settings);
on PostgreSQL on the event loop over asyncpg, through an engine from the service's own
factory (`chat.store.make_engine`: the same pool).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from chat.store.engine import configure_sqlite, make_engine
from chat.store.repositories import Connection
from chat.store.sqlite_thread import SqliteTransactions

__all__ = ["RawDatabase"]

T = TypeVar("T")
Work = Callable[[Connection], Coroutine[Any, Any, T]]


class RawDatabase:
    """Transactions of raw statements on the database at `database_url`, on the path
    the service's `chat.store.Store` takes there; a separate engine (and, on SQLite, its
    own database threads), so neither side waits in the other's queue."""

    def __init__(self, database_url: str) -> None:
        self.engine = make_engine(database_url)
        self._sqlite = (SqliteTransactions(self.engine, configure_sqlite)
                        if self.engine.dialect.name == "sqlite" else None)

    @property
    def path(self) -> str:
        """How both sides reach the database, in words for the reports."""
        if self._sqlite is not None:
            return "sqlite3 on a database thread, one hand-off per transaction"
        return f"{self.engine.dialect.driver} through SQLAlchemy's async engine"

    async def write(self, work: Work[T]) -> T:
        """`work` in one write transaction, committed when it returns."""
        if self._sqlite is not None:
            return await self._sqlite.write(work)
        async with self.engine.begin() as connection:
            return await work(connection)

    async def read(self, work: Work[T]) -> T:
        """`work` in one read-only transaction."""
        if self._sqlite is not None:
            return await self._sqlite.read(work)
        async with self.engine.connect() as connection, connection.begin():
            return await work(connection)

    async def dispose(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()
        await self.engine.dispose()
