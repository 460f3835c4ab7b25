"""Storage isolation: every repository query is scoped by user, so one user cannot read,
resume or post into another user's thread even knowing its id."""

from __future__ import annotations

import asyncio
from pathlib import Path

import fakeredis
import pytest

from chat.cache import Cache
from chat.engine import EngineFactory
from chat.hub import InProcessEventHub
from chat.runs import NotFound, RunService
from chat.store import Repositories, Store, create_schema, make_engine, sqlite_url_in


async def _service(directory: Path) -> RunService:
    engine = make_engine(sqlite_url_in(directory))
    await create_schema(engine)
    await create_schema(engine)
    return RunService(Store(engine), Cache(fakeredis.FakeAsyncRedis()), InProcessEventHub(),
                      EngineFactory(), "gwy_test")


def test_one_user_cannot_reach_another_users_rows(tmp_path: Path) -> None:
    async def scenario() -> None:
        service = await _service(tmp_path)
        try:
            alice_run = await service.submit("alice", "What is 2 + 2?", client_message_id="m1")
            await service.wait_idle()
            store = service.store

            async def read(repos: Repositories) -> None:
                assert await repos.threads.get("alice", alice_run.thread_id) is not None
                assert await repos.threads.get("bob", alice_run.thread_id) is None
                assert await repos.runs.get("bob", alice_run.run_id) is None
                assert (await repos.runs.get("alice", alice_run.run_id)).status == "completed"
                assert await repos.messages.list_for_thread("bob", alice_run.thread_id) == []
                assert len(await repos.messages.list_for_thread("alice", alice_run.thread_id)) == 2
                assert await repos.events.list_after("bob", alice_run.thread_id, 0) == []
                assert await repos.events.list_for_run("bob", alice_run.run_id) == []
                assert await repos.messages.find_by_client_id("bob", "m1") is None

            await store.read(read)
            with pytest.raises(NotFound):
                await service.thread_events_after("bob", alice_run.thread_id, 0)
            with pytest.raises(NotFound):
                await service.submit("bob", "What is 1 + 1?", thread_id=alice_run.thread_id)
            async def write(repos: Repositories) -> None:
                with pytest.raises(LookupError):
                    await repos.threads.next_seq("bob", alice_run.thread_id)
                assert not await repos.runs.finish("bob", alice_run.run_id, status="failed",
                                                   agents=None, result=None)

            await store.write(write)
            bobs = await service.submit("bob", "What is 2 + 2?", client_message_id="m1")
            await service.wait_idle()
            assert bobs.run_id != alice_run.run_id and not bobs.repeated
            assert len(await service.thread_events_after("alice", alice_run.thread_id, 0)) == 6
        finally:
            await service.store.dispose()

    asyncio.run(scenario())


def test_seq_is_contiguous_per_thread_under_concurrent_runs(tmp_path: Path) -> None:
    async def scenario() -> None:
        service = await _service(tmp_path)
        try:
            first = await service.submit("alice", "What is 1 + 1?")
            for n in range(5):
                await service.submit("alice", f"What is {n} * 2?", thread_id=first.thread_id)
            await service.submit("bob", "How can I reduce the cost of my GPU usage?")
            await service.wait_idle()
            events = await service.thread_events_after("alice", first.thread_id, 0)
            assert [e["seq"] for e in events] == list(range(1, 37))
            by_run: dict[str, list[str]] = {}
            for event in events:
                by_run.setdefault(event["run_id"], []).append(event["type"])
            assert len(by_run) == 6
            assert all(t[0] == "agent_started" and t[-1] == "agent_completed"
                       for t in by_run.values())
        finally:
            await service.store.dispose()

    asyncio.run(scenario())


async def _store(directory: Path) -> Store:
    engine = make_engine(sqlite_url_in(directory))
    await create_schema(engine)
    return Store(engine)


def test_a_sqlite_write_that_fails_leaves_nothing_and_the_next_one_commits(
    tmp_path: Path,
) -> None:
    """A transaction that raises is rolled back whole (on its database thread); the
    writer connection goes on with the next."""

    async def scenario() -> None:
        store = await _store(tmp_path)
        try:
            async def half(repos: Repositories) -> None:
                await repos.threads.create("alice", "thr_half", "half")
                raise ValueError("stop half way")

            with pytest.raises(ValueError, match="stop half way"):
                await store.write(half)
            assert await store.read(lambda repos: repos.threads.get("alice", "thr_half")) is None
            await store.write(lambda repos: repos.threads.create("alice", "thr_whole", "whole"))
            thread = await store.read(lambda repos: repos.threads.get("alice", "thr_whole"))
            assert thread is not None and thread.title == "whole"
        finally:
            await store.dispose()

    asyncio.run(scenario())


def test_a_sqlite_transaction_may_not_await_anything_but_its_statements(tmp_path: Path) -> None:
    """Awaiting something else inside a transaction (it would block the database thread)
    is refused with a clear error, and what it wrote is rolled back."""

    async def scenario() -> None:
        store = await _store(tmp_path)
        try:
            async def waits(repos: Repositories) -> None:
                await repos.threads.create("alice", "thr_waits", "waits")
                await asyncio.sleep(0)

            with pytest.raises(RuntimeError, match="awaited something other than"):
                await store.write(waits)
            assert await store.read(lambda repos: repos.threads.get("alice", "thr_waits")) is None
        finally:
            await store.dispose()

    asyncio.run(scenario())


def test_sqlite_writes_asked_at_once_are_all_committed_in_order(tmp_path: Path) -> None:
    """Many writers at once share one writer thread: each gets its own sequence numbers,
    none is lost, and they are committed in the order they were asked for."""

    async def scenario() -> None:
        store = await _store(tmp_path)
        try:
            await store.write(lambda repos: repos.threads.create("alice", "thr_seq", "seq"))
            seqs = await asyncio.gather(*(
                store.write(lambda repos: repos.threads.next_seq("alice", "thr_seq"))
                for _ in range(200)))
            assert seqs == list(range(1, 201))
        finally:
            await store.dispose()

    asyncio.run(scenario())
