"""The per-thread lock of the event writer: one writer of a thread at a time, writers of
different threads side by side, and no lock kept once nobody holds or waits for it."""

from __future__ import annotations

import asyncio
import gc

from chat.runs.events import ThreadLocks


def test_writers_of_one_thread_take_turns_and_others_do_not_wait() -> None:
    async def scenario() -> tuple[list[str], int]:
        locks, order = ThreadLocks(), []
        gate = asyncio.Event()

        async def writer(thread: str, name: str) -> None:
            async with locks.hold(thread):
                order.append(f"{name} in")
                if name == "first":
                    await gate.wait()
                order.append(f"{name} out")

        first = asyncio.create_task(writer("thr_a", "first"))
        second = asyncio.create_task(writer("thr_a", "second"))
        elsewhere = asyncio.create_task(writer("thr_b", "elsewhere"))
        await elsewhere
        gate.set()
        await asyncio.gather(first, second)
        gc.collect()
        return order, len(locks._locks)

    order, kept = asyncio.run(scenario())
    assert order == ["first in", "elsewhere in", "elsewhere out", "first out", "second in",
                     "second out"]
    assert kept == 0
