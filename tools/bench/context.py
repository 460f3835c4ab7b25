"""What every phase of the benchmark shares: how many samples to take (`Plan`) and the
running stack with the baselines' own way to its database (`Bench`).

Everything runs on the suite's stack (`support.stack`): the in-process gateway, its
store and its cache on the configured backends. The users the phases make are kept
here, so they can be removed again at the end on real backends.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from support.config import SuiteConfig
from support.probes import SESSIONS, eventually
from support.stack import Stack
from support.tokens import mint
from tools.bench.rawdb import RawDatabase
from tools.bench.wire import WireError, WireUser, close_all

__all__ = ["Bench", "Plan", "new_id", "now"]


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


@dataclass
class Bench:
    """What every phase needs: the stack, the baselines' database on the service's
    driver path, the plan, and the users made."""

    stack: Stack
    plan: Plan
    db: RawDatabase
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    users: list[str] = field(default_factory=list)

    @property
    def config(self) -> SuiteConfig:
        return self.stack.config

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
        query = select(SESSIONS.c.status).where(SESSIONS.c.user_id.in_(user_ids))

        async def statuses() -> list[str]:
            async def read(conn: Any) -> list[str]:
                return [row[0] for row in await conn.execute(query)]
            return await self.db.read(read)

        await eventually(statuses, lambda seen: "active" not in seen,
                         what="the benchmark's sessions to end", timeout=self.timeout,
                         describe=lambda seen: f"{seen.count('active')} still active")
