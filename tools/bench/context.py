"""What every phase of the benchmark shares: how many samples to take (`Plan`) and the
running stack with a raw engine on its database (`Bench`).

Everything runs on the suite's stack (`support.stack`): the in-process gateway, its
store and its cache on the configured backends. The users the phases make are kept
here, so they can be removed again at the end on real backends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from support.config import SuiteConfig
from support.probes import SESSIONS, eventually
from support.stack import Stack
from support.tokens import mint
from tools.bench.wire import WireError, WireUser, close_all

__all__ = ["Bench", "Plan", "new_id", "now", "raw_engine"]


@dataclass(frozen=True)
class Plan:
    """How many samples each phase takes (`--quick` shrinks them for CI)."""

    warmup: int
    connect_n: int
    latency_n: int
    store_n: int
    cache_rounds: int
    cache_round_ops: int
    cache_batch_ops: int
    throughput_users: int
    throughput_runs_each: int
    concurrent_users: int
    concurrent_rounds: int
    idle_connections: int
    idle_step: int

    @classmethod
    def full(cls) -> Plan:
        return cls(warmup=10, connect_n=300, latency_n=300, store_n=300, cache_rounds=60,
                   cache_round_ops=100, cache_batch_ops=50, throughput_users=50,
                   throughput_runs_each=10, concurrent_users=200, concurrent_rounds=3,
                   idle_connections=1000, idle_step=50)

    @classmethod
    def quick(cls) -> Plan:
        return cls(warmup=3, connect_n=30, latency_n=30, store_n=30, cache_rounds=8,
                   cache_round_ops=100, cache_batch_ops=50, throughput_users=50,
                   throughput_runs_each=2, concurrent_users=200, concurrent_rounds=1,
                   idle_connections=1000, idle_step=50)


def now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def raw_engine(database_url: str) -> AsyncEngine:
    """A plain SQLAlchemy engine on the service's database. SQLite connections get the
    database's own settings (busy timeout, synchronous NORMAL in WAL) and nothing else."""
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": 10})

        @event.listens_for(engine.sync_engine, "connect")
        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.close()

        return engine
    return create_async_engine(database_url, connect_args={"timeout": 10})


@dataclass
class Bench:
    """What every phase needs: the stack, a raw engine on its database, the plan, and
    the users made."""

    stack: Stack
    plan: Plan
    raw: AsyncEngine
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    users: list[str] = field(default_factory=list)

    @property
    def config(self) -> SuiteConfig:
        return self.stack.config

    @property
    def raw_driver(self) -> str:
        """How the baselines reach the database: SQLAlchemy's async engine over the
        driver DESIGN §4 names (aiosqlite or asyncpg), one statement at a time."""
        return f"async engine on {self.raw.dialect.driver}"

    @property
    def timeout(self) -> float:
        return max(self.config.timeout, 30.0)

    @property
    def service(self) -> Any:
        return self.stack.service

    def user(self, label: str) -> str:
        user_id = f"bench{self.tag}-{label}"
        self.users.append(user_id)
        return user_id

    def token(self, user_id: str) -> str:
        token = mint(self.config, user_id, lifetime_s=3600).token
        assert token is not None
        return token

    async def connect(self, user_id: str) -> WireUser:
        user = await WireUser.connect(self.stack.gateway_url, self.token(user_id),
                                      timeout=self.timeout)
        if user.hello.get("type") != "connection_established":
            raise WireError(f"expected connection_established, got {user.hello}")
        return user

    async def settle(self, users: list[WireUser], user_ids: list[str]) -> None:
        """Close these connections and wait until the service has ended their sessions
        and finished every run, so the next phase starts on a quiet service."""
        await close_all(users)
        await self.service.runs.wait_idle()
        if not user_ids:
            return

        async def statuses() -> list[str]:
            async with self.raw.connect() as conn:
                rows = await conn.execute(select(SESSIONS.c.status).where(
                    SESSIONS.c.user_id.in_(user_ids)))
                return [row[0] for row in rows]

        await eventually(statuses, lambda seen: "active" not in seen,
                         what="the benchmark's sessions to end", timeout=self.timeout,
                         describe=lambda seen: f"{seen.count('active')} still active")
