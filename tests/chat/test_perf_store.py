"""The store without a ping per transaction: a pooled PostgreSQL connection the server
closed is replaced at checkout, so the next transaction works. Needs a running
PostgreSQL in GOLDEN_PATH_DATABASE_URL (`python -m tools.services up`); skipped
otherwise."""

from __future__ import annotations

import asyncio
import os

import pytest
from sqlalchemy import text

from chat.store import make_engine

DATABASE_URL = os.environ.get("GOLDEN_PATH_DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not DATABASE_URL.startswith("postgresql+asyncpg://"),
    reason="GOLDEN_PATH_DATABASE_URL (postgresql+asyncpg) not set",
)


def test_a_pooled_connection_closed_by_the_server_is_replaced_at_checkout() -> None:
    async def scenario() -> None:
        engine = make_engine(DATABASE_URL, pool_size=1, max_overflow=0)
        killer = make_engine(DATABASE_URL, pool_size=1, max_overflow=0)
        try:
            closed = asyncio.Event()
            async with engine.connect() as connection:
                pid = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
                raw = await connection.get_raw_connection()
                raw.driver_connection.add_termination_listener(lambda _c: closed.set())
            async with killer.connect() as connection:
                await connection.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            await asyncio.wait_for(closed.wait(), 5)
            async with engine.connect() as connection:
                again = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            assert again != pid
        finally:
            await engine.dispose()
            await killer.dispose()

    asyncio.run(scenario())
