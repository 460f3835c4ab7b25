"""The repositories of one transaction, and the unit of work that binds them.

Every repository method takes the `user_id` it acts for and puts it in the WHERE clause,
so a query can never reach another user's rows even with a guessed id. The exceptions are
the recovery scans (`RunRepository.list_running`, `SessionRepository.gateways_with_active`
and `disconnect_for_gateways`), which are about gateway processes, not users (each run
they find is then finished with its own user's scope).

`Store.write(work)` and `Store.read(work)` run `work` with a `Repositories` bound to one
connection and one transaction. On SQLite, writes in this process go one at a time
(SQLite has a single writer anyway) through one thread and one long-lived connection, so
they queue instead of failing with "database is locked" and skip a pool checkout per
transaction; each transaction is one hop to that thread (`chat.store.sqlite_thread`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from chat.store.conversations import MessageRepository, ThreadRepository, UserRepository
from chat.store.engine import configure_sqlite
from chat.store.runs import EventRepository, RunRepository
from chat.store.sessions import SessionRepository, TemporaryDataRepository
from chat.store.sqlite_thread import SqliteTransactions
from chat.store.tables import Connection

__all__ = ["Repositories", "Store"]

T = TypeVar("T")


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
