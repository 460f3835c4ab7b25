"""Storage of the chat service: models (the contract the suite's probes read), the engine
factory for SQLite and PostgreSQL, and repositories whose every query is scoped by user."""

from chat.store.engine import create_schema, make_engine, sqlite_url_in
from chat.store.repositories import (
    EventRepository,
    MessageRepository,
    Repositories,
    RunRepository,
    SessionRepository,
    Store,
    TemporaryDataRepository,
    ThreadRepository,
    UserRepository,
)

__all__ = [
    "EventRepository",
    "MessageRepository",
    "Repositories",
    "RunRepository",
    "SessionRepository",
    "Store",
    "TemporaryDataRepository",
    "ThreadRepository",
    "UserRepository",
    "create_schema",
    "make_engine",
    "sqlite_url_in",
]
