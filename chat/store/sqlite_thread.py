"""SQLite transactions run whole on a database thread: one thread hop per transaction.

Through aiosqlite every statement is three or four hops to the driver's thread and back
(open a cursor, execute, fetch, close), each a future, a wake-up of the event loop and a
hand-over of the GIL. A write of a run's events (four statements) costs a dozen of them,
and under a crowd the event loop spends more time on the hops than on the statements.
Here the same repositories run on a plain `sqlite3` connection in a thread of their own:
their `await connection.execute(...)` calls never suspend (see `ImmediateConnection`), so
the coroutine of a transaction runs to its end in one step on that thread, and the event
loop awaits one future for the whole transaction.

Writes go through one thread and one long-lived connection, in the order they were
asked for (SQLite has one writer anyway; in this process they queue instead of waiting
on the file lock). Reads use two threads of their own and pooled connections, so a read
never waits behind a write (WAL). The work handed in must only run statements: awaiting
anything else (a lock, the cache, a timer) raises `RuntimeError`, as it would block the
database thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.engine import Dialect, Result
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
READ_THREADS = 2


class ImmediateConnection:
    """A synchronous connection behind the awaitable `execute` the repositories call:
    awaiting it runs the statement at once and never suspends."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.dialect: Dialect = connection.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Result[Any]:
        return self._connection.execute(statement, parameters)


def run_to_end(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends; its result."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coroutine.close()
    raise RuntimeError("a SQLite transaction awaited something other than its statements")


class SqliteTransactions:
    """Write and read transactions over one SQLite file, each run whole on a thread."""

    def __init__(self, engine: AsyncEngine, configure: Callable[[Engine], None]) -> None:
        self.engine: Engine = create_engine(engine.url.set(drivername="sqlite"))
        configure(self.engine)
        self._writes = ThreadPoolExecutor(1, thread_name_prefix="sqlite-write")
        self._reads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="sqlite-read")
        self._writer: Connection | None = None

    async def write(self, work: Callable[[ImmediateConnection], Coroutine[Any, Any, T]]) -> T:
        """`work` in one write transaction: committed when it returns, rolled back if it
        raises."""
        return await asyncio.get_running_loop().run_in_executor(
            self._writes, self._write, work)

    async def read(self, work: Callable[[ImmediateConnection], Coroutine[Any, Any, T]]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, self._read, work)

    def _write(self, work: Callable[[ImmediateConnection], Coroutine[Any, Any, T]]) -> T:
        writer = self._writer
        if writer is None or writer.closed or writer.invalidated:
            if writer is not None:
                writer.close()
            writer = self._writer = self.engine.connect()
        with writer.begin():
            return run_to_end(work(ImmediateConnection(writer)))

    def _read(self, work: Callable[[ImmediateConnection], Coroutine[Any, Any, T]]) -> T:
        with self.engine.connect() as connection, connection.begin():
            return run_to_end(work(ImmediateConnection(connection)))

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def close(self) -> None:
        """Close the connections and stop the threads (work already asked for finishes)."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writes, self._close_writer)
        for executor in (self._writes, self._reads):
            await loop.run_in_executor(None, executor.shutdown)
        self.engine.dispose()
