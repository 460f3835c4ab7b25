"""A busy evening: a crowd on the stack's gateway, for the crowd scenario."""

from __future__ import annotations

import contextlib

from support.actors.cast import Cast
from support.actors.crowd import CrowdPlan, crowd
from support.actors.survival import Survival, check_crowd
from support.probes import eventually

__all__ = ["crowd_asks", "questions_asked", "survival"]

CROWD = "crowd"
ASKED = "questions the crowd asked"


def crowd_asks(cast: Cast, users: int, runs_each: int) -> Survival:
    """A crowd on the stack's gateway (some dropping and resuming, some sending a question
    twice), checked against storage, then its users' rows and keys removed; what survived
    is remembered by the cast."""
    stack = cast.stack
    plan = CrowdPlan(users, runs_each, drop_every=5, repeat_every=4, prefix="crowd",
                     timeout=stack.config.timeout * 2)

    async def run() -> Survival:
        result = await crowd([stack.gateway_url], stack.config, plan)
        try:
            return await check_crowd(result, stack.database_url)
        finally:
            await _settle_and_forget(cast, [m.user_id for m in result.members])

    survival = cast.abilities.run_for(run(), stack.config.timeout * 6,
                                      f"{users} people to be answered")
    cast.remember(ASKED, users * runs_each)
    return cast.remember(CROWD, survival)


async def _settle_and_forget(cast: Cast, user_ids: list[str]) -> None:
    storage = cast.stack.storage

    async def active() -> int:
        rows = await storage.sessions_of(user_ids)
        return sum(1 for row in rows if row.get("status") == "active")

    with contextlib.suppress(AssertionError):
        await eventually(active, lambda n: n == 0, what="the crowd's sessions to close",
                         timeout=cast.abilities.timeout)
    await storage.delete_users(user_ids)
    await cast.stack.cache.delete_users(user_ids)


def survival(cast: Cast) -> Survival:
    """What the scenario's crowd left behind."""
    found: Survival | None = cast.recall(CROWD)
    if found is None:
        raise AssertionError("no crowd has asked anything in this scenario")
    return found


def questions_asked(cast: Cast) -> int:
    """How many questions the scenario's crowd was told to ask."""
    return int(cast.recall(ASKED, 0))
