"""The cache layout of DESIGN §6 over any redis-py asyncio-compatible client.

Every key is namespaced by user (`gp:{user_id}:...`) and carries a TTL, so ending one
session removes that session's keys and nothing of anyone else's, and a key forgotten by
a crashed process still goes away. Two namespaces are not a user's data: the revocation
list (`gp:revoked:{jti}`) and the gateways' heartbeats (`gp:gateway:{gateway_id}`, which
tell the other gateways which are alive: a heartbeat is rewritten every second or so and
lives `GATEWAY_TTL_S`, so a gateway killed outright is known dead within seconds). Live
events travel on pub/sub channels `gp:{user_id}:events:{thread_id}` (see chat.redis_hub).

A crowd must wait for the cache, not fail on it: redis-py's asyncio pool (the default one,
and fakeredis's) raises "Too many connections" once `max_connections` commands are in
flight instead of waiting for a free connection. `Cache` therefore lets at most that many
of its commands run at once, less `RESERVED_CONNECTIONS` left to the event hub (its
pub/sub connection and its publisher), and the others queue on a semaphore.
Several keys written or read together (`put_results`, `get_results`, `put_session_keys`)
go in one round trip: a pipeline without MULTI, since each key stands alone.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

SESSION_TTL_S = 3600
CONNECTION_TTL_S = 3600
RESULT_TTL_S = 86400
GATEWAY_TTL_S = 10
# Connections of the client's pool the cache leaves to others (the event hub's pub/sub
# connection and its publisher, the gateway's heartbeat); at least one command can always
# run.
RESERVED_CONNECTIONS = 4
# Commands in flight when the client does not say how many connections it may open.
DEFAULT_CONCURRENCY = 64


def session_key(user_id: str, session_id: str) -> str:
    return f"gp:{user_id}:session:{session_id}"


def connection_key(user_id: str, connection_id: str) -> str:
    return f"gp:{user_id}:conn:{connection_id}"


def result_key(user_id: str, run_id: str) -> str:
    return f"gp:{user_id}:result:{run_id}"


def revoked_key(jti: str) -> str:
    return f"gp:revoked:{jti}"


def gateway_key(gateway_id: str) -> str:
    return f"gp:gateway:{gateway_id}"


def concurrency_for(redis: Any) -> int:
    """How many commands may be in flight on `redis` at once without its connection pool
    refusing one: its pool's `max_connections` less `RESERVED_CONNECTIONS`."""
    pool = getattr(redis, "connection_pool", None)
    limit = getattr(pool, "max_connections", None)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        return DEFAULT_CONCURRENCY
    return max(1, limit - RESERVED_CONNECTIONS)


class Cache:
    """Typed operations on the key layout; the client is passed in, never built here.
    At most `concurrency` commands (or pipelines) are in flight at once; the rest wait."""

    def __init__(self, redis: Any, *, concurrency: int | None = None) -> None:
        self.redis = redis
        self.concurrency = concurrency or concurrency_for(redis)
        self._slots = asyncio.Semaphore(self.concurrency)

    async def put_session(self, user_id: str, session_id: str, value: dict[str, Any]) -> None:
        async with self._slots:
            await self.redis.set(session_key(user_id, session_id), json.dumps(value),
                                 ex=SESSION_TTL_S)

    async def put_connection(
        self, user_id: str, connection_id: str, value: dict[str, Any]
    ) -> None:
        async with self._slots:
            await self.redis.set(
                connection_key(user_id, connection_id), json.dumps(value), ex=CONNECTION_TTL_S
            )

    async def put_session_keys(
        self, user_id: str, session_id: str, session: dict[str, Any],
        connection_id: str, connection: dict[str, Any],
    ) -> None:
        """The session key and the connection key of a new connection, in one round trip."""
        async with self._slots:
            pipe = self.redis.pipeline(transaction=False)
            pipe.set(session_key(user_id, session_id), json.dumps(session), ex=SESSION_TTL_S)
            pipe.set(connection_key(user_id, connection_id), json.dumps(connection),
                     ex=CONNECTION_TTL_S)
            await pipe.execute()

    async def drop_connection(self, user_id: str, connection_id: str) -> None:
        async with self._slots:
            await self.redis.delete(connection_key(user_id, connection_id))

    async def drop_session(self, user_id: str, session_id: str, connection_id: str) -> None:
        async with self._slots:
            await self.redis.delete(
                session_key(user_id, session_id), connection_key(user_id, connection_id)
            )

    async def put_result(self, user_id: str, run_id: str, value: dict[str, Any]) -> None:
        async with self._slots:
            await self.redis.set(result_key(user_id, run_id), json.dumps(value),
                                 ex=RESULT_TTL_S)

    async def get_result(self, user_id: str, run_id: str) -> dict[str, Any] | None:
        async with self._slots:
            raw = await self.redis.get(result_key(user_id, run_id))
        return None if raw is None else json.loads(raw)

    async def put_results(self, user_id: str, values: Mapping[str, dict[str, Any]]) -> None:
        """Several results of the user (run_id -> value), in one round trip."""
        if not values:
            return
        async with self._slots:
            pipe = self.redis.pipeline(transaction=False)
            for run_id, value in values.items():
                pipe.set(result_key(user_id, run_id), json.dumps(value), ex=RESULT_TTL_S)
            await pipe.execute()

    async def get_results(
        self, user_id: str, run_ids: Iterable[str]
    ) -> dict[str, dict[str, Any] | None]:
        """The user's results of `run_ids` (None where there is none), in one round trip."""
        ordered = list(run_ids)
        if not ordered:
            return {}
        async with self._slots:
            found = await self.redis.mget([result_key(user_id, r) for r in ordered])
        return {run_id: None if raw is None else json.loads(raw)
                for run_id, raw in zip(ordered, found, strict=True)}

    async def revoke(self, jti: str, until: int) -> None:
        """Remember `jti` as revoked until the epoch second `until`, when the token would
        be refused anyway; a token refused already needs no entry."""
        if until <= time.time():
            return
        async with self._slots:
            await self.redis.set(revoked_key(jti), "1", exat=until)

    async def is_revoked(self, jti: str) -> bool:
        async with self._slots:
            return bool(await self.redis.exists(revoked_key(jti)))

    async def put_gateway_alive(self, gateway_id: str, value: dict[str, Any]) -> None:
        """The heartbeat does not queue behind a crowd's commands (it uses one of the
        reserved connections): a late heartbeat would have other gateways take this one
        for dead."""
        await self.redis.set(gateway_key(gateway_id), json.dumps(value), ex=GATEWAY_TTL_S)

    async def drop_gateway(self, gateway_id: str) -> None:
        async with self._slots:
            await self.redis.delete(gateway_key(gateway_id))

    async def live_gateways(self, gateway_ids: set[str]) -> set[str]:
        """Those of `gateway_ids` whose heartbeat has not expired."""
        ordered = sorted(gateway_ids)
        if not ordered:
            return set()
        async with self._slots:
            found = await self.redis.mget([gateway_key(g) for g in ordered])
        return {g for g, value in zip(ordered, found, strict=True) if value is not None}
