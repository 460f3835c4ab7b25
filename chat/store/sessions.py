"""Repositories of sessions: user_sessions and each session's temporary_user_data.

Besides the user-scoped methods, `SessionRepository` answers recovery, which is about
gateway processes rather than users: which gateways hold `active` sessions, and the
release of those a dead gateway held.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, select, update

from chat.store.tables import Repository, sessions_t, temp_t, utcnow

__all__ = ["SessionRepository", "TemporaryDataRepository"]

_INSERT_SESSION = insert(sessions_t)
_INSERT_TEMPORARY = insert(temp_t)
_CLOSE_SESSION = update(sessions_t).where(and_(
    sessions_t.c.id == bindparam("b_id"), sessions_t.c.user_id == bindparam("b_user")))
_DELETE_TEMPORARY_OF_SESSION = delete(temp_t).where(and_(
    temp_t.c.user_id == bindparam("b_user"), temp_t.c.session_id == bindparam("b_session")))


class SessionRepository(Repository):
    """user_sessions: one row per authenticated connection."""

    async def open(self, user_id: str, session_id: str, connection_id: str,
                   token_jti: str | None, gateway_id: str | None = None) -> None:
        await self.connection.execute(_INSERT_SESSION, {
            "id": session_id, "user_id": user_id, "connection_id": connection_id,
            "token_jti": token_jti, "status": "active", "created_at": utcnow(),
            "gateway_id": gateway_id,
        })

    async def gateways_with_active(self, *, except_gateway: str | None = None) -> set[str]:
        """The gateways holding `active` sessions, of every user (for recovery)."""
        statement = select(sessions_t.c.gateway_id).distinct().where(
            and_(sessions_t.c.status == "active", sessions_t.c.gateway_id.is_not(None)))
        if except_gateway is not None:
            statement = statement.where(sessions_t.c.gateway_id != except_gateway)
        return {str(row[0]) for row in await self.connection.execute(statement)}

    async def disconnect_for_gateways(self, gateway_ids: set[str]) -> list[tuple[str, str]]:
        """Mark the `active` sessions held by these (dead) gateways `disconnected`;
        (user_id, connection_id) of each, so their connection keys can go too."""
        rows = await self.connection.execute(
            update(sessions_t)
            .where(and_(sessions_t.c.status == "active",
                        sessions_t.c.gateway_id.in_(sorted(gateway_ids))))
            .values(status="disconnected")
            .returning(sessions_t.c.user_id, sessions_t.c.connection_id)
        )
        return [(str(user), str(connection)) for user, connection in rows]

    async def close(self, user_id: str, session_id: str, status: str) -> None:
        await self.connection.execute(_CLOSE_SESSION, {
            "b_id": session_id, "b_user": user_id, "status": status,
            "ended_at": utcnow() if status == "ended" else None})

    async def status(self, user_id: str, session_id: str) -> str | None:
        return (
            await self.connection.execute(
                select(sessions_t.c.status).where(
                    and_(sessions_t.c.id == session_id, sessions_t.c.user_id == user_id)
                )
            )
        ).scalar_one_or_none()


class TemporaryDataRepository(Repository):
    """temporary_user_data: a session's working notes, removed when the session ends."""

    async def put(self, user_id: str, row_id: str, session_id: str, key: str,
                  value: dict[str, Any]) -> None:
        await self.connection.execute(_INSERT_TEMPORARY, {
            "id": row_id, "user_id": user_id, "session_id": session_id, "key": key,
            "value": value, "created_at": utcnow(),
        })

    async def delete_for_session(self, user_id: str, session_id: str) -> int:
        outcome = await self.connection.execute(
            _DELETE_TEMPORARY_OF_SESSION, {"b_user": user_id, "b_session": session_id})
        return int(outcome.rowcount)
