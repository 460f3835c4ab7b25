"""The people of one scenario, made on first mention, and the clean-up they need.

Each scenario gets a fresh `Cast`: Alice, Bob and Carol get new user ids
(`alice-<random>`) and their own sign-ins, so scenarios never share data and may run in
any order. `clean_up` closes what the scenario opened, waits until the service has
finished with its people, and removes exactly their rows and cache keys (and the
revocations it made), nothing of anyone else's.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from support.actors.person import Abilities, Person
from support.contract import revoked_key
from support.probes import StorageProbe, eventually
from support.stack import Stack
from support.tokens import mint

__all__ = ["NAMES", "Cast"]

T = TypeVar("T")

NAMES = ("Alice", "Bob", "Carol")


class Cast:
    """The people of one scenario and the stack they use."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.abilities = Abilities(stack.target, stack.config, stack.storage, stack.cache,
                                  stack.revoke)
        self.people: dict[str, Person] = {}
        self._memory: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Person:
        """The person called `name`, made on first mention with a fresh user id."""
        if name not in self.people:
            user_id = f"{name.lower()}-{secrets.token_hex(6)}"
            self.people[name] = Person(name, user_id, mint(self.stack.config, user_id),
                                       self.abilities)
        return self.people[name]

    def remember(self, key: str, value: Any) -> Any:
        """What the scenario as a whole needs later (its own chat service, a crowd)."""
        self._memory[key] = value
        return value

    def recall(self, key: str, default: Any = None) -> Any:
        return self._memory.get(key, default)

    def together(self, *coros: Coroutine[Any, Any, T]) -> list[T]:
        """Run several people's actions at the same time; their results, in order."""

        async def all_of() -> list[T]:
            return list(await asyncio.gather(*coros))

        return self.abilities.run(all_of(), "everyone's requests to be answered")

    def clean_up(self) -> None:
        """Close the scenario's connections, let the service settle, remove its data."""
        self.abilities.run(self._clean_up(), "the scenario's clean-up")

    async def _clean_up(self) -> None:
        clients = [c for p in self.people.values() for c in p.connections if c.is_open]
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        ids = [person.user_id for person in self.people.values()]
        storage, cache = self.stack.storage, self.stack.cache
        if not ids or storage is None or cache is None:
            return  # an agent whose storage the suite cannot read keeps its own data
        await _settled(storage, ids, self.abilities.timeout)
        await storage.delete_users(ids)
        revoked = [revoked_key(jti) for p in self.people.values()
                   for jti in p.recall("revoked sign-ins", [])]
        await cache.delete_users(ids, revoked)


async def _settled(storage: StorageProbe, user_ids: Sequence[str], timeout: float) -> None:
    """Wait (bounded) until the service has finished with these users' sessions and runs,
    so it writes nothing after the clean-up; carries on regardless when time runs out."""

    async def busy() -> int:
        sessions = await storage.sessions_of(user_ids)
        runs = [
            row
            for user_id in user_ids
            for row in await storage.executions_of(user_id)
            if row.get("status") == "running"
        ]
        return sum(1 for s in sessions if s.get("status") == "active") + len(runs)

    try:
        await eventually(busy, lambda n: n == 0, what="the service to settle", timeout=timeout)
    except AssertionError:
        pass
