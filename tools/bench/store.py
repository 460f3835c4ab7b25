"""The store figures: each operation through the service's repositories (`Store.write`
and `Store.read`), beside the same writes and reads as hand-written SQLAlchemy Core
statements with no repository layer, on a plain async engine (`Bench.raw`).
"""

from __future__ import annotations

from sqlalchemy import and_, insert, select, update

from chat.store import Repositories
from support.probes import EXECUTIONS, MESSAGES, THREADS
from tools.bench.context import Bench, new_id, now
from tools.bench.figures import Figure
from tools.bench.timing import latency_figure, paired

__all__ = ["HISTORY_MESSAGES", "store_figures"]

HISTORY_MESSAGES = 20


async def store_figures(b: Bench) -> list[Figure]:
    """Each store operation through the service's repositories, beside the same
    statements in raw SQLAlchemy Core on a plain engine."""
    return [
        await _thread_create(b),
        await _message_batch(b),
        await _result_store(b),
        await _history_read(b),
    ]


async def _thread_create(b: Bench) -> Figure:
    store, user_id = b.service.store, b.user("store")

    async def service(i: int) -> None:
        await store.write(
            lambda repos: repos.threads.create(user_id, new_id("st"), "a benchmark thread"))

    async def raw(i: int) -> None:
        stamp = now()
        async with b.raw.begin() as conn:
            await conn.execute(insert(THREADS).values(
                id=new_id("rt"), user_id=user_id, title="a benchmark thread", last_seq=0,
                created_at=stamp, updated_at=stamp))

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return latency_figure("store.thread_create_p50", service_s, raw_s, 50,
                          f"raw Core insert into threads + commit, {b.raw_driver}", "create a thread")


async def _message_batch(b: Bench) -> Figure:
    store, user_id = b.service.store, b.user("batch")
    thread_id = new_id("st")

    async def batch(repos: Repositories) -> None:
        for j in range(10):
            await repos.messages.add(user_id, new_id("sm"), thread_id, "user",
                                     f"message {j}", run_id=None)

    async def service(i: int) -> None:
        await store.write(batch)

    async def raw(i: int) -> None:
        async with b.raw.begin() as conn:
            for j in range(10):
                await conn.execute(insert(MESSAGES).values(
                    id=new_id("rm"), thread_id=thread_id, user_id=user_id, role="user",
                    content=f"message {j}", client_message_id=None, run_id=None,
                    created_at=now()))

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return latency_figure("store.message_batch10_p50", service_s, raw_s, 50,
                          f"raw Core: 10 inserts into messages, one commit, {b.raw_driver}",
                          "10 messages stored in one transaction")


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
        async with b.raw.begin() as conn:
            await conn.execute(insert(MESSAGES).values(
                id=new_id("rm"), thread_id=thread_id, user_id=user_id, role="assistant",
                content="2 + 3 = 5", client_message_id=None, run_id=run_id,
                created_at=now()))
            await conn.execute(update(EXECUTIONS).where(and_(
                EXECUTIONS.c.id == run_id, EXECUTIONS.c.user_id == user_id,
                EXECUTIONS.c.status == "running")).values(
                status="completed", agents=["data"], result="2 + 3 = 5", error_code=None,
                error_message=None, completed_at=now()))

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return latency_figure("store.result_store_p50", service_s, raw_s, 50,
                          f"raw Core: insert reply + update run, one commit, {b.raw_driver}",
                          "a run's reply and final status stored in one transaction")


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
    c = MESSAGES.c

    async def service(i: int) -> None:
        rows = await store.read(lambda repos: repos.messages.list_for_thread(user_id, thread_id))
        assert len(rows) == HISTORY_MESSAGES

    async def raw(i: int) -> None:
        async with b.raw.connect() as conn:
            rows = (await conn.execute(
                select(c.id, c.thread_id, c.user_id, c.role, c.content, c.client_message_id,
                       c.run_id)
                .where(and_(c.user_id == user_id, c.thread_id == thread_id))
                .order_by(c.created_at, c.id))).all()
        assert len(rows) == HISTORY_MESSAGES

    service_s, raw_s = await paired(b.plan.store_n, b.plan.warmup, service, raw)
    return latency_figure("store.history_read_p50", service_s, raw_s, 50,
                          f"raw Core select of the thread's {HISTORY_MESSAGES} messages, {b.raw_driver}",
                          f"read a thread's history of {HISTORY_MESSAGES} messages")
