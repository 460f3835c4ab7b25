"""The chat service on PostgreSQL and Redis, when GOLDEN_PATH_DATABASE_URL (PostgreSQL)
and GOLDEN_PATH_REDIS_URL name running servers (`python -m tools.services up`);
skipped otherwise. The same golden path as on the embedded backends, plus a resume on a
second gateway that shares the database."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
import redis.asyncio
from conftest import make_settings, running_service, wire_client

DATABASE_URL = os.environ.get("GOLDEN_PATH_DATABASE_URL", "")
REDIS_URL = os.environ.get("GOLDEN_PATH_REDIS_URL", "")

pytestmark = pytest.mark.skipif(
    not (DATABASE_URL.startswith("postgresql+asyncpg://") and REDIS_URL),
    reason="GOLDEN_PATH_DATABASE_URL (postgresql+asyncpg) and GOLDEN_PATH_REDIS_URL not set",
)


def test_golden_path_and_resume_on_another_gateway() -> None:
    settings = make_settings(database_url=DATABASE_URL, redis_url=REDIS_URL)
    user = f"pg-{uuid.uuid4().hex[:12]}"

    async def scenario() -> None:
        client = redis.asyncio.from_url(REDIS_URL)
        try:
            async with running_service(settings, redis=client) as first:
                async with wire_client(first, user) as alice:
                    await alice.ask("What is 2 + 2?")
                    frames = await alice.until_completed()
                    assert frames[-1]["payload"] == {"status": "completed",
                                                     "response": "2 + 2 = 4"}
                    assert [f["seq"] for f in frames] == list(range(1, 7))
                run_id = frames[0]["run_id"]
                cached = await client.get(f"gp:{user}:result:{run_id}")
                assert cached is not None
            async with running_service(settings, redis=client) as second:
                async with wire_client(second, user) as again:
                    await again.send({"type": "resume", "thread_id": frames[0]["thread_id"],
                                      "after_seq": 3})
                    assert [await again.receive() for _ in range(3)] == frames[3:]
                    await again.ask("What is 2 + 2?", thread_id=frames[0]["thread_id"])
                    more = await again.until_completed()
                    assert [f["seq"] for f in more] == list(range(7, 13))
                async with wire_client(second, "someone-else") as other:
                    await other.send({"type": "resume", "thread_id": frames[0]["thread_id"],
                                      "after_seq": 0})
                    assert (await other.receive())["code"] == "not_found"
        finally:
            await client.aclose()

    asyncio.run(scenario())
