"""Sessions (§5.1): one per authenticated connection, in storage and in the cache.

A session is `active` while its connection is open. A normal close ends it (`ended`: its
working notes and cache keys removed, nothing else of the user's); any other disconnect
leaves it `disconnected`, with only its connection key removed and the rest left to
expire. Each session records the gateway that holds it, so the sessions of a gateway that
died are released by recovery (chat.runs.recovery).
"""

from __future__ import annotations

import functools
import logging

from chat.cache import Cache
from chat.ids import SessionId
from chat.runs.events import timestamp
from chat.runs.faults import STORAGE_ERRORS, Repairs, cache_write, unavailable
from chat.store import Repositories, Store

__all__ = ["Sessions"]

log = logging.getLogger(__name__)


class Sessions:
    """The sessions held by one gateway process."""

    def __init__(self, store: Store, cache: Cache, gateway_id: str, *,
                 cache_repairs: Repairs, storage_repairs: Repairs) -> None:
        self.store = store
        self.cache = cache
        self.gateway_id = gateway_id
        self.cache_repairs = cache_repairs
        self.storage_repairs = storage_repairs

    async def open(self, user_id: str, session_id: SessionId, connection_id: str,
                   token_jti: str | None) -> None:
        """Record an authenticated connection: users row, `active` session, cache keys.
        `Unavailable` when the database cannot be reached; cache keys are best effort."""
        async def record(repos: Repositories) -> None:
            await repos.users.ensure(user_id)
            await repos.sessions.open(user_id, session_id, connection_id, token_jti,
                                      self.gateway_id)

        try:
            await self.store.write(record)
        except STORAGE_ERRORS as exc:
            raise unavailable(exc) from exc
        created = timestamp()
        session = {"session_id": session_id, "user_id": user_id,
                   "connection_id": connection_id, "token_jti": token_jti,
                   "created_at": created}
        connection = {"session_id": session_id, "user_id": user_id,
                      "connection_id": connection_id, "created_at": created}
        await cache_write(
            self.cache_repairs, f"session:{session_id}",
            lambda: self.cache.put_session_keys(user_id, session_id, session, connection_id,
                                                connection))

    async def close(self, user_id: str, session_id: str, connection_id: str, *,
                    ended: bool) -> None:
        """`ended` (normal close): session ended, its notes and keys removed. Otherwise
        `disconnected`: only the connection key goes, the rest expires by TTL. What cannot
        be written now (a backend away) is repaired later."""

        async def close(repos: Repositories) -> None:
            await repos.sessions.close(user_id, session_id, "ended" if ended else "disconnected")
            if ended:
                await repos.temporary.delete_for_session(user_id, session_id)

        try:
            await self.store.write(close)
        except STORAGE_ERRORS as exc:
            log.warning("session %s not closed in storage (%s); will retry", session_id, exc)
            self.storage_repairs.add(f"session:{session_id}", lambda: self.store.write(close))
        if ended:
            await cache_write(
                self.cache_repairs, f"session:{session_id}",
                lambda: self.cache.drop_session(user_id, session_id, connection_id))
        await cache_write(
            self.cache_repairs, f"conn:{connection_id}",
            lambda: self.cache.drop_connection(user_id, connection_id))

    async def release(self, gateways: set[str]) -> None:
        """Sessions the dead `gateways` held: `disconnected`, connection keys removed."""
        if not gateways:
            return
        released = await self.store.write(
            lambda repos: repos.sessions.disconnect_for_gateways(gateways))
        for user_id, connection_id in released:
            await cache_write(self.cache_repairs, f"conn:{connection_id}",
                              functools.partial(self.cache.drop_connection, user_id,
                                                connection_id))
        if released:
            log.warning("marked %d session(s) of stopped gateway(s) disconnected",
                        len(released))
