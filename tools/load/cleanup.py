"""Removing what a load run left behind: every row and cache key of the users whose id
starts with a load prefix, and nothing of anyone else.

Each Locust process names its users `load-<tag>-<n>` (`tools.load.user`), so a run on a
shared database can always be taken out again: by the locustfile itself when the test
stops and it knows the database URL, or afterwards with `python -m tools.load clean`.
Runs still in flight are waited for (bounded) first, so none writes after the clean-up.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from support.actors.survival import delete_users
from support.contract import namespace
from support.probes import EXECUTIONS, USERS, eventually

__all__ = ["LOAD_PREFIX", "remove_load_users"]

LOAD_PREFIX = "load-"
BATCH = 500  # user ids per statement, well under every driver's limit of parameters


async def remove_load_users(database_url: str, redis_url: str | None, prefix: str, *,
                            timeout: float) -> int:
    """Remove the users whose id starts with `prefix` (which must start with
    `LOAD_PREFIX`): their rows, and their cache keys when `redis_url` is given. The
    number of users removed."""
    if not prefix.startswith(LOAD_PREFIX):
        raise ValueError(f"{prefix!r} is not a load prefix; it must start with {LOAD_PREFIX!r}")
    engine = create_async_engine(database_url)
    try:
        ids = await _user_ids(engine, prefix)
        batches = [ids[start:start + BATCH] for start in range(0, len(ids), BATCH)]
        try:
            await eventually(lambda: _running(engine, batches), lambda n: n == 0,
                             what="the load's runs still in flight to end", timeout=timeout)
        except AssertionError:
            pass  # runs left running by a gateway that died: their rows go all the same
    finally:
        await engine.dispose()
    for batch in batches:
        await delete_users(database_url, batch)
    if redis_url:
        await _delete_keys(redis_url, f"{namespace(prefix + '*')}*")
    return len(ids)


async def _user_ids(engine: AsyncEngine, prefix: str) -> list[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(USERS.c.id).where(USERS.c.id.startswith(prefix, autoescape=True)))
        return [str(row[0]) for row in rows]


async def _running(engine: AsyncEngine, batches: list[list[str]]) -> int:
    running = 0
    async with engine.connect() as connection:
        for batch in batches:
            count = await connection.scalar(
                select(func.count()).select_from(EXECUTIONS)
                .where(EXECUTIONS.c.user_id.in_(batch), EXECUTIONS.c.status == "running"))
            running += int(count or 0)
    return running


async def _delete_keys(redis_url: str, pattern: str) -> None:
    import redis.asyncio

    client = redis.asyncio.from_url(redis_url)
    try:
        doomed = [key async for key in client.scan_iter(match=pattern, count=1000)]
        for start in range(0, len(doomed), 500):
            await client.delete(*doomed[start:start + 500])
    finally:
        await client.aclose()
