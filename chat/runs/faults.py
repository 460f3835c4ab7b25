"""What the run service does when a backend is away: its errors, and the repairs it owes.

Storage is the truth and the cache is help. When the database cannot be reached the
caller gets `Unavailable` (the gateway turns it into an error for the client) and nothing
of the request is written, since each request is one transaction. When Redis is away,
runs go on and are recorded; what the cache should have got (sessions, results, removals)
is kept in a bounded list of `Repairs` and written when Redis is back. A run that could
not even be marked failed (database away) is finished the same way later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

__all__ = [
    "CACHE_WRITE_TIMEOUT_S",
    "REPAIRS_LIMIT",
    "STORAGE_ERRORS",
    "NotFound",
    "Repairs",
    "RunEnded",
    "Unavailable",
    "cache_write",
    "unavailable",
]

log = logging.getLogger(__name__)

CACHE_WRITE_TIMEOUT_S = 1.0
REPAIRS_LIMIT = 10_000

# What a database that cannot be reached (or went away mid-transaction) raises.
STORAGE_ERRORS: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError, TimeoutError)


class NotFound(Exception):
    """The thread or run does not exist for this user (it may exist for another)."""


class Unavailable(Exception):
    """The database cannot be reached; nothing of the request was written."""


class RunEnded(Exception):
    """The run was finished elsewhere (failed by recovery); its events are not stored."""


def unavailable(exc: BaseException) -> Unavailable:
    """The `Unavailable` a storage error `exc` becomes for the client."""
    return Unavailable("conversations cannot be stored right now (the database is not "
                       f"answering: {type(exc).__name__}); nothing was saved, try again shortly")


class Repairs:
    """Writes that failed because a backend was away, retried until they succeed.

    Keyed, so a newer repair of the same thing replaces an older one; bounded, so a long
    outage cannot grow memory without limit (the oldest are dropped, with a warning)."""

    def __init__(self, what: str, limit: int = REPAIRS_LIMIT) -> None:
        self.what = what
        self.limit = limit
        self._pending: dict[str, Callable[[], Awaitable[Any]]] = {}
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: str, action: Callable[[], Awaitable[Any]]) -> None:
        self._pending.pop(key, None)
        if len(self._pending) >= self.limit:
            oldest = next(iter(self._pending))
            del self._pending[oldest]
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("%s: %d pending repair(s) dropped", self.what, self.dropped)
        self._pending[key] = action

    async def run(self) -> int:
        """Try the pending repairs in order; stop at the first that fails (its backend
        is probably still away). How many succeeded."""
        done = 0
        for key, action in list(self._pending.items()):
            try:
                await action()
            except Exception as exc:  # noqa: BLE001 - still away: next time
                log.debug("%s: repair %s not done yet: %s", self.what, key, exc)
                break
            if self._pending.get(key) is action:
                del self._pending[key]
            done += 1
        if done:
            log.info("%s: %d repair(s) done, %d pending", self.what, done, len(self._pending))
        return done


async def cache_write(repairs: Repairs, key: str, write: Callable[[], Awaitable[Any]]) -> None:
    """A cache write that must not hold anything up: bounded in time, and left to
    `repairs` when Redis is away."""
    try:
        async with asyncio.timeout(CACHE_WRITE_TIMEOUT_S):
            await write()
    except Exception as exc:  # noqa: BLE001 - the cache is help, not the truth
        log.debug("cache write %s failed (%s); will retry", key, exc)
        repairs.add(key, write)
