"""The people of one scenario, made on first mention, and the clean-up they need.

Each scenario gets a fresh `Cast`: Alice, Bob and Carol get new user ids
(`alice-<random>`) and their own sign-ins, so scenarios never share data and may run in
any order. `clean_up` holds what each person received against the whole contract
(`questions.audit`), closes what the scenario opened, waits until the service has
finished with its people (failing the scenario if a run is left running or a session
active), and removes exactly their rows and cache keys (and the revocations it made),
nothing of anyone else's.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from support.actors.person import Abilities, Person
from support.actors.questions import audit, stored
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
        """End the scenario: wait for the runs under way, hold everything each person
        received against the contract, close the connections, wait until the service has
        finished with its people, and remove their data; then fail the scenario, saying
        why, if anything was broken or left running."""
        problems = self.abilities.run_for(self._clean_up(), self.abilities.timeout * 6,
                                          "the scenario's clean-up")
        if problems:
            raise AssertionError("after the scenario's steps: " + "; ".join(problems))

    async def _clean_up(self) -> list[str]:
        people = list(self.people.values())
        problems = [p for person in people for p in await audit.await_endings(person)]
        problems += [p for person in people for p in audit.problems_of(person)]
        problems += [p for person in people for p in stored.durability_problems(person)]
        clients = [c for p in people for c in p.connections if c.is_open]
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
        ids = [person.user_id for person in people]
        storage, cache = self.stack.storage, self.stack.cache
        if not ids or storage is None or cache is None:
            return problems  # an agent whose storage the suite cannot read keeps its data
        try:
            await _settled(storage, ids, self.abilities.timeout)
        except AssertionError as exc:
            problems.append(str(exc))
        finally:
            await storage.delete_users(ids)
            revoked = [revoked_key(jti) for p in people for jti in p.recall("revoked sign-ins", [])]
            await cache.delete_users(ids, revoked)
        return problems


async def _settled(storage: StorageProbe, user_ids: Sequence[str], timeout: float) -> None:
    """Wait (bounded) until the service has finished with these users: no session still
    `active`, no run still `running`; fails naming what is left."""

    async def busy() -> list[str]:
        sessions = await storage.sessions_of(user_ids)
        left = [f"session {s.get('id')} of {s.get('user_id')} still active"
                for s in sessions if s.get("status") == "active"]
        for user_id in user_ids:
            left += [f"run {row.get('id')} of {user_id} still running"
                     for row in await storage.executions_of(user_id)
                     if row.get("status") == "running"]
        return left

    await eventually(busy, lambda left: not left, what="the service to finish with the "
                     "scenario's people", timeout=timeout, describe="; ".join)
