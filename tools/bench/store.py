"""The store figures: each operation through the service's repositories (`Store.write`
and `Store.read`), beside the same writes and reads as hand-written SQLAlchemy Core
statements with no repository layer.

Both sides take the same driver path (`tools.bench.rawdb`): on SQLite a plain `sqlite3`
connection on a database thread, one hand-off per transaction; on PostgreSQL asyncpg
through SQLAlchemy's async engine. The ratio is then the repositories' own cost. The raw
statements are built once and executed with their values, as careful raw code would.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update

from chat.store import Repositories
from support.probes import EXECUTIONS, MESSAGES, THREADS
from tools.bench.context import Bench, new_id, now
from tools.bench.figures import Figure
from tools.bench.rawdb import RawDatabase
from tools.bench.timing import latency_figure, paired

__all__ = ["HISTORY_MESSAGES", "raw_thread_create", "store_figures"]

HISTORY_MESSAGES = 20
INSERT_THREAD = insert(THREADS)
INSERT_MESSAGE = insert(MESSAGES)
FINISH_RUN = update(EXECUTIONS).where(and_(
    EXECUTIONS.c.id == bindparam("b_id"), EXECUTIONS.c.user_id == bindparam("b_user"),
    EXECUTIONS.c.status == "running"))
HISTORY = (
    select(MESSAGES.c.id, MESSAGES.c.thread_id, MESSAGES.c.user_id, MESSAGES.c.role,
           MESSAGES.c.content, MESSAGES.c.client_message_id, MESSAGES.c.run_id)
    .where(and_(MESSAGES.c.user_id == bindparam("b_user"),
                MESSAGES.c.thread_id == bindparam("b_thread")))
    .order_by(MESSAGES.c.created_at, MESSAGES.c.id))


async def store_figures(b: Bench) -> list[Figure]:
    """Thread creation, a batch of messages, a run's result, a history read."""
    return [
        await _thread_create(b),
        await _message_batch(b),
        await _result_store(b),
        await _history_read(b),
    ]


async def raw_thread_create(db: RawDatabase, user_id: str) -> None:
    """The baseline of a small write: one thread row inserted and committed."""

    async def create(conn: Any) -> None:
        stamp = now()
        await conn.execute(INSERT_THREAD, {
            "id": new_id("rt"), "user_id": user_id, "title": "a benchmark thread",
            "last_seq": 0, "created_at": stamp, "updated_at": stamp})

    await db.write(create)


def _path(b: Bench) -> str:
    return f"{b.db.path}, both sides"


async def _thread_create(b: Bench) -> Figure:
    store, user_id = b.service.store, b.user("store")

    async def service(i: int) -> None:
        await store.write(
            lambda repos: repos.threads.create(user_id, new_id("st"), "a benchmark thread"))

    async def raw(i: int) -> None:
        await raw_thread_create(b.db, user_id)

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return latency_figure("store.thread_create_p50", service_s, raw_s, 50,
                          "raw Core insert into threads + commit", "create a thread", _path(b))


async def _message_batch(b: Bench) -> Figure:
    store, user_id = b.service.store, b.user("batch")
    thread_id = new_id("st")

    async def batch(repos: Repositories) -> None:
        for j in range(10):
            await repos.messages.add(user_id, new_id("sm"), thread_id, "user",
                                     f"message {j}", run_id=None)

    async def service(i: int) -> None:
        await store.write(batch)

    async def raw_batch(conn: Any) -> None:
        for j in range(10):
            await conn.execute(INSERT_MESSAGE, {
                "id": new_id("rm"), "thread_id": thread_id, "user_id": user_id,
                "role": "user", "content": f"message {j}", "client_message_id": None,
                "run_id": None, "created_at": now()})

    async def raw(i: int) -> None:
        await b.db.write(raw_batch)

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return latency_figure("store.message_batch10_p50", service_s, raw_s, 50,
                          "raw Core: 10 inserts into messages, one commit",
                          "10 messages stored in one transaction", _path(b))


async def _result_store(b: Bench) -> Figure:
    """The reply and the run's final status, in one transaction, as a run ends."""
    store, user_id = b.service.store, b.user("result")
    thread_id = new_id("st")
    count = b.plan.store_n + b.plan.warmup
    service_runs = [new_id("sr") for _ in range(count)]
    raw_runs = [new_id("rr") for _ in range(count)]

    async def create(repos: Repositories) -> None:
        for run_id in service_runs + raw_runs:
            await repos.runs.create(user_id, run_id, thread_id, new_id("sm"), ["data"],
                                    "bench")

    await store.write(create)

    async def service(i: int) -> None:
        run_id = service_runs[i]

        async def finish(repos: Repositories) -> None:
            await repos.messages.add(user_id, new_id("sm"), thread_id, "assistant",
                                     "2 + 3 = 5", run_id=run_id)
            await repos.runs.finish(user_id, run_id, status="completed", agents=["data"],
                                    result="2 + 3 = 5")

        await store.write(finish)

    async def raw(i: int) -> None:
        run_id = raw_runs[i]

        async def finish(conn: Any) -> None:
            await conn.execute(INSERT_MESSAGE, {
                "id": new_id("rm"), "thread_id": thread_id, "user_id": user_id,
                "role": "assistant", "content": "2 + 3 = 5", "client_message_id": None,
                "run_id": run_id, "created_at": now()})
            await conn.execute(FINISH_RUN, {
                "b_id": run_id, "b_user": user_id, "status": "completed",
                "agents": ["data"], "result": "2 + 3 = 5", "error_code": None,
                "error_message": None, "completed_at": now()})

        await b.db.write(finish)

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return latency_figure("store.result_store_p50", service_s, raw_s, 50,
                          "raw Core: insert reply + update run, one commit",
                          "a run's reply and final status stored in one transaction", _path(b))


async def _history_read(b: Bench) -> Figure:
    store, user_id = b.service.store, b.user("history")
    thread_id = new_id("st")

    async def history(repos: Repositories) -> None:
        await repos.threads.create(user_id, thread_id, "history")
        for j in range(HISTORY_MESSAGES):
            await repos.messages.add(user_id, new_id("sm"), thread_id,
                                     "user" if j % 2 == 0 else "assistant", f"message {j}",
                                     run_id=None)

    await store.write(history)

    async def service(i: int) -> None:
        rows = await store.read(lambda repos: repos.messages.list_for_thread(user_id, thread_id))
        assert len(rows) == HISTORY_MESSAGES

    async def read(conn: Any) -> list[Any]:
        return list(await conn.execute(HISTORY, {"b_user": user_id, "b_thread": thread_id}))

    async def raw(i: int) -> None:
        assert len(await b.db.read(read)) == HISTORY_MESSAGES

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return latency_figure("store.history_read_p50", service_s, raw_s, 50,
                          f"raw Core select of the thread's {HISTORY_MESSAGES} messages",
                          f"read a thread's history of {HISTORY_MESSAGES} messages", _path(b))
