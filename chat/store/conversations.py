"""Repositories of a user's conversations: users, threads and their messages.

A thread's `last_seq` numbers its events: `ThreadRepository.next_seq` allocates them
under the thread's row lock, which keeps the writers of one thread in line across
processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, insert, select, text, update

from chat.store.tables import Repository, messages_t, threads_t, users_t, utcnow

__all__ = ["MessageRepository", "MessageRow", "ThreadRepository", "ThreadRow", "UserRepository"]

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
_THREAD_BY_ID = select(threads_t.c.id, threads_t.c.user_id, threads_t.c.title,
                       threads_t.c.last_seq).where(
    and_(threads_t.c.id == bindparam("b_id"), threads_t.c.user_id == bindparam("b_user")))
_MESSAGE_COLUMNS = (messages_t.c.id, messages_t.c.thread_id, messages_t.c.user_id,
                    messages_t.c.role, messages_t.c.content, messages_t.c.client_message_id,
                    messages_t.c.run_id)
_MESSAGE_BY_CLIENT_ID = select(*_MESSAGE_COLUMNS).where(
    and_(messages_t.c.user_id == bindparam("b_user"),
         messages_t.c.client_message_id == bindparam("b_client_id")))
_MESSAGES_OF_THREAD = (
    select(*_MESSAGE_COLUMNS)
    .where(and_(messages_t.c.user_id == bindparam("b_user"),
                messages_t.c.thread_id == bindparam("b_thread")))
    .order_by(messages_t.c.created_at, messages_t.c.id))
_NEXT_SEQ = (
    update(threads_t)
    .where(and_(threads_t.c.id == bindparam("b_id"), threads_t.c.user_id == bindparam("b_user")))
    .values(last_seq=threads_t.c.last_seq + bindparam("b_count"),
            updated_at=bindparam("b_now"))
    .returning(threads_t.c.last_seq))


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



class UserRepository(Repository):
    async def ensure(self, user_id: str) -> None:
        """Create the user row if it does not exist yet."""
        await self.connection.execute(_ENSURE_USER, {"id": user_id, "created_at": utcnow()})


class ThreadRepository(Repository):
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


class MessageRepository(Repository):
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
        row = (await self.connection.execute(
            _MESSAGE_BY_CLIENT_ID, {"b_user": user_id, "b_client_id": client_message_id})).first()
        return None if row is None else MessageRow(*row)

    async def list_for_thread(self, user_id: str, thread_id: str) -> list[MessageRow]:
        rows = await self.connection.execute(
            _MESSAGES_OF_THREAD, {"b_user": user_id, "b_thread": thread_id})
        return [MessageRow(*row) for row in rows]
