"""The tables of DESIGN §6 as SQLAlchemy Core tables, and what every repository holds.

The repositories (chat.store.conversations, chat.store.runs, chat.store.sessions) run
Core statements over these tables, most of them built once at import: executed with a
dict of values each time, they skip the per-call construction of a statement
(SQLAlchemy still caches what they compile to). Filters and values they set are named
parameters (`b_…`, apart from the column names SQLAlchemy binds itself).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table
from sqlalchemy.engine import Dialect

from chat.store.models import (
    AgentExecution,
    Message,
    RunEvent,
    TemporaryUserData,
    Thread,
    User,
    UserSession,
)

__all__ = [
    "Connection",
    "Repository",
    "events_t",
    "messages_t",
    "runs_t",
    "sessions_t",
    "temp_t",
    "threads_t",
    "users_t",
    "utcnow",
]


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


def utcnow() -> datetime:
    return datetime.now(UTC)


class Repository:
    """The base of the repositories: one connection, inside one transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
