"""What a crowd left behind, counted from the socket and from storage: runs lost,
duplicated or leaked to someone else, resumes that came back incomplete, repeats that
ran twice. The storage is read with an engine of this module's own, not the service's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from support.actors.crowd import Crowd, noted
from support.actors.questions.seen import events_seen
from support.probes import EXECUTIONS, MESSAGES, RUN_EVENTS, THREADS, StorageProbe
from support.stats import percentile

__all__ = ["Survival", "check_crowd", "delete_users", "spread"]


@dataclass
class Survival:
    """What a crowd left behind, counted from the socket and from storage."""

    runs: int
    completed: int
    lost: int
    duplicated: int
    leaked: int
    resumed: int
    resumed_incomplete: int
    repeated: int
    repeated_new_run: int
    problems: list[str]
    wall_s: float
    connect_s: dict[str, float]
    answer_s: dict[str, float]

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.leaked or self.resumed_incomplete
                    or self.repeated_new_run or self.problems)

    def lines(self) -> list[str]:
        connect, answer = self.connect_s, self.answer_s
        counts = (f"runs {self.runs}, completed {self.completed}, lost {self.lost}, "
                  f"duplicated {self.duplicated}, leaked {self.leaked}")
        faults = (f"resumed after a dropped connection {self.resumed} "
                  f"(incomplete {self.resumed_incomplete}); sent twice {self.repeated} "
                  f"(run twice {self.repeated_new_run})")
        times = (f"wall {self.wall_s:.2f} s; connect p50 {connect['p50'] * 1000:.0f} ms "
                 f"p95 {connect['p95'] * 1000:.0f} ms; answer p50 "
                 f"{answer['p50'] * 1000:.0f} ms p95 {answer['p95'] * 1000:.0f} ms "
                 f"max {answer['max'] * 1000:.0f} ms")
        return [counts, faults, times] + [f"problem: {p}" for p in self.problems[:10]]


def spread(samples: Sequence[float]) -> dict[str, float]:
    """p50, p95 and max of `samples` (support.stats; zeros when there are none)."""
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "max": 0.0}
    return {"p50": percentile(samples, 0.5), "p95": percentile(samples, 0.95),
            "max": max(samples)}


async def check_crowd(result: Crowd, database_url: str) -> Survival:
    """Count, from the socket and from storage (read with an engine of this module's own):
    - lost: a question without its answer on the socket, or without its message, reply
      or completed record in storage;
    - duplicated: a stored message, reply, record or event more than once, or an event
      received twice on one connection;
    - leaked: an event received by a user that belongs to someone else's run, or a stored
      row of a user's conversation under another user.
    """
    engine = create_async_engine(database_url)
    try:
        return await _survival(result, engine)
    finally:
        await engine.dispose()


async def _rows(engine: AsyncEngine, statement: Any) -> list[dict[str, Any]]:
    async with engine.connect() as connection:
        return [dict(row._mapping) for row in await connection.execute(statement)]


async def _survival(result: Crowd, engine: AsyncEngine) -> Survival:
    members = result.members
    users = [m.user_id for m in members]
    messages = await _rows(engine, select(
        MESSAGES.c.user_id, MESSAGES.c.thread_id, MESSAGES.c.role, MESSAGES.c.content,
        MESSAGES.c.run_id, MESSAGES.c.client_message_id).where(MESSAGES.c.user_id.in_(users)))
    runs = await _rows(engine, select(
        EXECUTIONS.c.id, EXECUTIONS.c.user_id, EXECUTIONS.c.thread_id, EXECUTIONS.c.status,
        EXECUTIONS.c.result).where(EXECUTIONS.c.user_id.in_(users)))
    received_runs = {e.run_id for m in members for e in events_seen(m)}
    owners = {r["id"]: r["user_id"] for r in runs}
    unknown = received_runs - set(owners)
    if unknown:
        others = await _rows(engine, select(EXECUTIONS.c.id, EXECUTIONS.c.user_id).where(
            EXECUTIONS.c.id.in_(sorted(unknown))))
        owners.update({r["id"]: r["user_id"] for r in others})
    threads = sorted({r["thread_id"] for r in runs} | {m["thread_id"] for m in messages})
    thread_rows = await _rows(engine, select(THREADS.c.id, THREADS.c.user_id).where(
        THREADS.c.id.in_(threads))) if threads else []
    events = await _rows(engine, select(
        RUN_EVENTS.c.thread_id, RUN_EVENTS.c.run_id, RUN_EVENTS.c.user_id, RUN_EVENTS.c.seq,
        RUN_EVENTS.c.type).where(RUN_EVENTS.c.thread_id.in_(threads))) if threads else []
    counts = await _rows(engine, select(RUN_EVENTS.c.thread_id, func.count().label("n"),
                                        func.max(RUN_EVENTS.c.seq).label("top"))
                         .where(RUN_EVENTS.c.thread_id.in_(threads))
                         .group_by(RUN_EVENTS.c.thread_id)) if threads else []

    lost = duplicated = leaked = completed = 0
    problems: list[str] = []
    by_user: dict[str, list[dict[str, Any]]] = {}
    for row in messages:
        by_user.setdefault(row["user_id"], []).append(row)
    runs_by_user: dict[str, list[dict[str, Any]]] = {}
    for row in runs:
        runs_by_user.setdefault(row["user_id"], []).append(row)

    for member in members:
        problems.extend(f"{member.user_id}: {p}" for p in noted(member, "problems"))
        stored = by_user.get(member.user_id, [])
        asked = [r for r in stored if r["role"] == "user"]
        replies = [r for r in stored if r["role"] == "assistant"]
        records = runs_by_user.get(member.user_id, [])
        answered = member.answered
        for i, (question, answer) in enumerate(noted(member, "expected")):
            got = answered[i].run.response if i < len(answered) else None
            same_q = [r for r in asked if r["content"] == question]
            same_a = [r for r in replies if r["content"] == answer]
            done = [r for r in records if r["result"] == answer and r["status"] == "completed"]
            if got == answer:
                completed += 1
            if got != answer or not same_q or not same_a or not done:
                lost += 1
                problems.append(
                    f"{member.user_id}: {question!r} answered {got!r} on the socket; stored "
                    f"{len(same_q)} question(s), {len(same_a)} answer(s), {len(done)} "
                    "completed record(s)")
            duplicated += max(0, len(same_q) - 1) + max(0, len(same_a) - 1)
            duplicated += max(0, len(done) - 1)
        repeat_position = member.recall("repeat position", None)
        for client in member.connections:
            received = client.log.events()
            if repeat_position is not None and repeat_position[0] is client:
                # The repeated message is answered by sending its run's events again.
                _, mark, repeated_run = repeat_position
                later = client.log.events(start=mark)
                received = received[:len(received) - len(later)] + [
                    e for e in later if e.run_id != repeated_run]
            seen_keys = [(e.run_id, e.seq) for e in received]
            duplicated += len(seen_keys) - len(set(seen_keys))
        for event in events_seen(member):
            if owners.get(event.run_id) != member.user_id:
                leaked += 1
    for row in thread_rows:
        owned = [r for r in events if r["thread_id"] == row["id"]]
        leaked += sum(1 for r in owned if r["user_id"] != row["user_id"])
        leaked += sum(1 for r in messages if r["thread_id"] == row["id"]
                      and r["user_id"] != row["user_id"])
    for row in counts:
        duplicated += max(0, int(row["n"]) - int(row["top"]))
        if int(row["n"]) < int(row["top"]):
            lost += int(row["top"]) - int(row["n"])
    closing: dict[str, int] = {}
    for row in events:
        if row["type"] == "agent_completed":
            closing[row["run_id"]] = closing.get(row["run_id"], 0) + 1
    duplicated += sum(n - 1 for n in closing.values() if n > 1)

    dropped = [m for m in members if m.recall("resumed whole", None) is not None]
    repeated = [m for m in members if m.recall("repeat ran the same run", None) is not None]
    return Survival(
        runs=sum(len(noted(m, "expected")) for m in members),
        completed=completed, lost=lost, duplicated=duplicated, leaked=leaked,
        resumed=len(dropped),
        resumed_incomplete=sum(1 for m in dropped if not m.recall("resumed whole")),
        repeated=len(repeated),
        repeated_new_run=sum(1 for m in repeated if not m.recall("repeat ran the same run")),
        problems=problems, wall_s=result.wall_s,
        connect_s=spread([s for m in members for s in noted(m, "connect seconds")]),
        answer_s=spread([s for m in members for s in noted(m, "answer seconds")]),
    )


async def delete_users(database_url: str, user_ids: Sequence[str]) -> None:
    """Remove the crowd's rows (the same tables and order as the suite's own clean-up)."""
    probe = StorageProbe(database_url)
    try:
        await probe.delete_users(list(user_ids))
    finally:
        await probe.close()
