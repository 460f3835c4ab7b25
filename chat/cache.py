"""The cache layout of DESIGN §6 over any redis-py asyncio-compatible client.

Every key is namespaced by user (`gp:{user_id}:...`) and carries a TTL, so ending one
session removes that session's keys and nothing of anyone else's, and a key forgotten by
a crashed process still goes away. Two namespaces are not a user's data: the revocation
list (`gp:revoked:{jti}`) and the gateways' heartbeats (`gp:gateway:{gateway_id}`, which
tell the other gateways which are alive: a heartbeat is rewritten every second or so and
lives `GATEWAY_TTL_S`, so a gateway killed outright is known dead within seconds). Live
events travel on pub/sub channels `gp:{user_id}:events:{thread_id}` (see chat.hub).
"""

from __future__ import annotations

import json
import time
from typing import Any

SESSION_TTL_S = 3600
CONNECTION_TTL_S = 3600
RESULT_TTL_S = 86400
GATEWAY_TTL_S = 5


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


class Cache:
    """Typed operations on the key layout; the client is passed in, never built here."""

    def __init__(self, redis: Any) -> None:
        self.redis = redis

    async def put_session(self, user_id: str, session_id: str, value: dict[str, Any]) -> None:
        await self.redis.set(session_key(user_id, session_id), json.dumps(value), ex=SESSION_TTL_S)

    async def put_connection(
        self, user_id: str, connection_id: str, value: dict[str, Any]
    ) -> None:
        await self.redis.set(
            connection_key(user_id, connection_id), json.dumps(value), ex=CONNECTION_TTL_S
        )

    async def drop_connection(self, user_id: str, connection_id: str) -> None:
        await self.redis.delete(connection_key(user_id, connection_id))

    async def drop_session(self, user_id: str, session_id: str, connection_id: str) -> None:
        await self.redis.delete(
            session_key(user_id, session_id), connection_key(user_id, connection_id)
        )

    async def put_result(self, user_id: str, run_id: str, value: dict[str, Any]) -> None:
        await self.redis.set(result_key(user_id, run_id), json.dumps(value), ex=RESULT_TTL_S)

    async def get_result(self, user_id: str, run_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(result_key(user_id, run_id))
        return None if raw is None else json.loads(raw)

    async def revoke(self, jti: str, expires_at: int) -> None:
        """Remember `jti` as revoked until the token would have expired anyway."""
        ttl = max(1, int(expires_at - time.time()))
        await self.redis.set(revoked_key(jti), "1", ex=ttl)

    async def is_revoked(self, jti: str) -> bool:
        return bool(await self.redis.exists(revoked_key(jti)))

    async def put_gateway_alive(self, gateway_id: str, value: dict[str, Any]) -> None:
        await self.redis.set(gateway_key(gateway_id), json.dumps(value), ex=GATEWAY_TTL_S)

    async def drop_gateway(self, gateway_id: str) -> None:
        await self.redis.delete(gateway_key(gateway_id))

    async def live_gateways(self, gateway_ids: set[str]) -> set[str]:
        """Those of `gateway_ids` whose heartbeat has not expired."""
        ordered = sorted(gateway_ids)
        if not ordered:
            return set()
        found = await self.redis.mget([gateway_key(g) for g in ordered])
        return {g for g, value in zip(ordered, found, strict=True) if value is not None}
