"""Repositories of runs: agent_executions (one row per run) and run_events.

A run is `running` until it is finished once (`RunRepository.finish` only changes a
`running` row), which is how a run failed by recovery never gets a second ending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update

from chat.store.tables import Repository, events_t, runs_t, utcnow

__all__ = ["EventRepository", "RunRepository", "RunRow"]

_INSERT_RUN = insert(runs_t)
_INSERT_EVENT = insert(events_t)
_FINISH_RUN = update(runs_t).where(and_(
    runs_t.c.id == bindparam("b_id"), runs_t.c.user_id == bindparam("b_user"),
    runs_t.c.status == "running"))
_ENDED_AMONG = select(runs_t.c.id).where(and_(
    runs_t.c.user_id == bindparam("b_user"),
    runs_t.c.id.in_(bindparam("b_ids", expanding=True)),
    runs_t.c.status != "running"))


@dataclass(frozen=True)
class RunRow:
    id: str
    thread_id: str
    user_id: str
    message_id: str
    status: str
    agents: list[str]
    result: str | None
    error_code: str | None
    gateway_id: str | None



class RunRepository(Repository):
    """Rows of agent_executions: one per run, `running` then `completed` or `failed`."""

    async def create(
        self, user_id: str, run_id: str, thread_id: str, message_id: str,
        agents: list[str], gateway_id: str,
    ) -> None:
        await self.connection.execute(_INSERT_RUN, {
            "id": run_id, "thread_id": thread_id, "user_id": user_id, "message_id": message_id,
            "status": "running", "agents": agents, "gateway_id": gateway_id,
            "started_at": utcnow(),
        })

    async def finish(
        self, user_id: str, run_id: str, *, status: str, agents: list[str] | None,
        result: str | None, error_code: str | None = None, error_message: str | None = None,
    ) -> bool:
        """Mark a running run finished; False when it was not running (already finished)."""
        values: dict[str, Any] = {
            "status": status, "result": result, "error_code": error_code,
            "error_message": error_message, "completed_at": utcnow(),
        }
        if agents is not None:
            values["agents"] = agents
        outcome = await self.connection.execute(
            _FINISH_RUN, {**values, "b_id": run_id, "b_user": user_id})
        return bool(outcome.rowcount)

    async def get(self, user_id: str, run_id: str) -> RunRow | None:
        row = (
            await self.connection.execute(
                select(*_run_columns()).where(
                    and_(runs_t.c.id == run_id, runs_t.c.user_id == user_id)
                )
            )
        ).first()
        return None if row is None else RunRow(*row)

    async def ended_among(self, user_id: str, run_ids: set[str]) -> set[str]:
        """Those of the user's `run_ids` that are no longer `running`."""
        rows = await self.connection.execute(
            _ENDED_AMONG, {"b_user": user_id, "b_ids": sorted(run_ids)})
        return {str(row[0]) for row in rows}

    async def list_running(self, *, except_gateway: str | None = None) -> list[RunRow]:
        """Runs still `running`, of every user, optionally leaving out one gateway's:
        the candidates of recovery (each is then finished with its own user's scope)."""
        statement = select(*_run_columns()).where(runs_t.c.status == "running")
        if except_gateway is not None:
            statement = statement.where(
                (runs_t.c.gateway_id != except_gateway) | runs_t.c.gateway_id.is_(None))
        rows = await self.connection.execute(statement)
        return [RunRow(*row) for row in rows]


def _run_columns() -> tuple[Any, ...]:
    c = runs_t.c
    return (c.id, c.thread_id, c.user_id, c.message_id, c.status, c.agents, c.result,
            c.error_code, c.gateway_id)


class EventRepository(Repository):
    """run_events: every server event of a thread as sent, numbered by `seq`."""

    async def add(self, user_id: str, thread_id: str, run_id: str, seq: int,
                  event: dict[str, Any]) -> None:
        await self.connection.execute(_INSERT_EVENT, {
            "thread_id": thread_id, "run_id": run_id, "user_id": user_id, "seq": seq,
            "type": event["type"], "event": event, "created_at": utcnow(),
        })

    async def add_many(self, user_id: str, thread_id: str,
                       events: list[dict[str, Any]]) -> None:
        """Store several events of one thread (each carries its run_id and seq)."""
        now = utcnow()
        await self.connection.execute(_INSERT_EVENT, [
            {"thread_id": thread_id, "run_id": e["run_id"], "user_id": user_id,
             "seq": e["seq"], "type": e["type"], "event": e, "created_at": now}
            for e in events
        ])

    async def list_after(self, user_id: str, thread_id: str, after_seq: int) -> list[dict[str, Any]]:
        rows = await self.connection.execute(
            select(events_t.c.event)
            .where(and_(events_t.c.user_id == user_id, events_t.c.thread_id == thread_id,
                        events_t.c.seq > after_seq))
            .order_by(events_t.c.seq)
        )
        return [row[0] for row in rows]

    async def list_for_run(self, user_id: str, run_id: str) -> list[dict[str, Any]]:
        rows = await self.connection.execute(
            select(events_t.c.event)
            .where(and_(events_t.c.user_id == user_id, events_t.c.run_id == run_id))
            .order_by(events_t.c.seq)
        )
        return [row[0] for row in rows]
