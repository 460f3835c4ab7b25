"""A person of a scenario: an identity, the abilities they use, and a memory.

Screenplay: what a person does (tasks) and what a person finds out (questions) are small
functions over a person in `support.actors.tasks` and `support.actors.questions`. State a
later step needs is remembered (`remember`/`recall`) under a name, never kept in ad-hoc
fields, and only those functions change a person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hamcrest.core.matcher import Matcher

from support import loop
from support.config import SuiteConfig
from support.matchers import problem_of
from support.probes import CacheProbe, StorageProbe, eventually
from support.tokens import SignIn
from support.wire import ChatTarget
from support.wire.codec import RunSeen
from support.wire.v1 import ChatClient

__all__ = ["Abilities", "Answered", "Person"]

T = TypeVar("T")
_NOTHING = object()


@dataclass(frozen=True)
class Abilities:
    """What a person can use: a chat target, the run's settings and the harness loop (to
    wait on, bounded by the one timeout); in a scenario also the storage and cache probes
    and the operator's revocation. A person of a crowd has only the target."""

    target: ChatTarget
    config: SuiteConfig
    storage_probe: StorageProbe | None = None
    cache_probe: CacheProbe | None = None
    revoker: Callable[[str], Awaitable[None]] | None = None

    @property
    def storage(self) -> StorageProbe:
        if self.storage_probe is None:
            raise AssertionError("this person cannot read the product's storage")
        return self.storage_probe

    @property
    def cache(self) -> CacheProbe:
        if self.cache_probe is None:
            raise AssertionError("this person cannot read the product's cache")
        return self.cache_probe

    async def revoke(self, token: str) -> None:
        """Revoke a sign-in the way an operator does: by the token alone."""
        if self.revoker is None:
            raise AssertionError("this person cannot revoke sign-ins")
        await self.revoker(token)

    @property
    def timeout(self) -> float:
        return self.config.timeout

    def run(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        """Run on the harness loop; the loop's own guard is wider than any inner wait."""
        return loop.run(coro, timeout=self.timeout * 3, what=what)

    def run_for(self, coro: Coroutine[Any, Any, T], limit_s: float, what: str) -> T:
        """Run on the harness loop with a guard of its own (for work longer than a step's
        one timeout, such as a crowd)."""
        return loop.run(coro, timeout=limit_s, what=what)

    def read(self, coro: Coroutine[Any, Any, T]) -> T:
        """A probe read, now."""
        return self.run(coro, "a storage read")

    def eventually(self, read: Callable[[], Awaitable[T]], holds: Callable[[T], bool],
                   what: str, describe: Callable[[T], str] = repr) -> T:
        """Re-read until `holds`, bounded by the configured timeout (probes.eventually)."""
        return self.run(
            eventually(read, holds, what=what, timeout=self.timeout, describe=describe), what)

    def expect_eventually(self, read: Callable[[], Awaitable[T]], matcher: Matcher[Any],
                          what: str) -> T:
        """Re-read until `matcher` matches; fails with its mismatch of the last read."""
        return self.eventually(read, matcher.matches, what,
                               describe=lambda value: problem_of(matcher, value) or repr(value))


@dataclass(frozen=True)
class Answered:
    """A question the person asked, the run that answered it, and on which connection."""

    question: str
    run: RunSeen
    connection_id: str
    asked_at: float  # time.perf_counter() just before the question was sent


@dataclass
class Person:
    """One user of the product in a scenario."""

    name: str
    user_id: str
    sign_in: SignIn
    abilities: Abilities
    _memory: dict[str, Any] = field(default_factory=dict, repr=False)

    def remember(self, key: str, value: Any) -> Any:
        self._memory[key] = value
        return value

    def recall(self, key: str, default: Any = _NOTHING) -> Any:
        """What was remembered under `key`; without a default, a readable failure when the
        scenario never got that far."""
        if key in self._memory:
            return self._memory[key]
        if default is _NOTHING:
            raise AssertionError(f"{self.name} has no {key.replace('_', ' ')} yet")
        return default

    # What most tasks and questions need, recalled with a name that reads well.

    @property
    def connections(self) -> list[ChatClient]:
        """Every connection the person opened, oldest first."""
        return self._memory.setdefault("connections", [])

    @property
    def connection(self) -> ChatClient:
        """The connection the person is using now (the latest one opened)."""
        if not self.connections:
            raise AssertionError(f"{self.name} has not connected yet")
        return self.connections[-1]

    @property
    def answered(self) -> list[Answered]:
        """Every question answered, in order."""
        return self._memory.setdefault("answered", [])

    @property
    def last_run(self) -> RunSeen:
        if not self.answered:
            raise AssertionError(f"{self.name} has not had an answer yet")
        return self.answered[-1].run

    @property
    def thread_id(self) -> str:
        """The conversation the person is in now."""
        return str(self.recall("conversation"))
