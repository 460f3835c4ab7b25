"""Storage of the chat service: models (the contract the suite's probes read), the engine
factory for SQLite and PostgreSQL, repositories whose every query is scoped by user
(conversations, runs, sessions), and the unit of work that binds them (`Store`)."""

from chat.store.conversations import MessageRepository, ThreadRepository, UserRepository
from chat.store.engine import create_schema, make_engine, sqlite_url_in
from chat.store.repositories import Repositories, Store
from chat.store.runs import EventRepository, RunRepository
from chat.store.sessions import SessionRepository, TemporaryDataRepository

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
