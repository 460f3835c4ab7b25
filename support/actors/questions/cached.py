"""What the product cached for a person, read by the suite's own cache probe (§5.1, §6)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from hamcrest.core.matcher import Matcher

from support.actors.person import Person
from support.actors.questions.seen import threads
from support.actors.questions.stored import session_record
from support.actors.tasks.misbehaving import REVOKED_AT
from support.contract import (
    CONNECTION_TTL_S,
    RESULT_TTL_S,
    SESSION_TTL_S,
    connection_key,
    result_key,
    revoked_key,
    session_key,
)
from support.matchers import a_cache_entry, a_cached_answer, assert_that, no_cache_entry
from support.matchers.cached import Lifetime

# Redis counts a lifetime in whole milliseconds; a read may round either way by one.
ROUNDING_MS = 2

__all__ = [
    "cache_entries",
    "expect_answer_cached",
    "expect_connection_cached",
    "expect_revocation_until_expiry",
    "expect_session_cached",
    "own_ids",
]

Entry = tuple[Any, int, float]  # the parsed value, its PTTL (ms), time.perf_counter() after


def _entry(person: Person, key: str) -> Callable[[], Awaitable[Entry]]:
    cache = person.abilities.cache

    async def read() -> Entry:
        value, left = await cache.get_json(key), await cache.pttl(key)
        return value, left, time.perf_counter()

    return read


def promised(lifetime_s: int, written_after: float, read_at: float) -> Lifetime:
    """The milliseconds an entry promised `lifetime_s` may have left when read at `read_at`,
    written at some moment after `written_after` (both time.perf_counter()): no more than
    the whole lifetime, no less than it minus the time since `written_after`."""
    whole = lifetime_s * 1000
    return whole - int((read_at - written_after) * 1000) - ROUNDING_MS, whole


def _expect_present(person: Person, key: str, matcher: Callable[[float], Matcher[Any]],
                    what: str) -> None:
    """Wait (bounded) until the entry is there, then judge that very read with the matcher
    made for the moment of the read: a lifetime is read once, as a re-read would let one
    above the promise tick down into it."""
    entry = person.abilities.eventually(_entry(person, key), lambda found: found[0] is not None,
                                        what, describe=lambda _: "the entry is not in the cache")
    value, left, read_at = entry
    assert_that((value, left), matcher(read_at), what)


def _absent(person: Person, key: str, what: str) -> None:
    async def read() -> tuple[Any, int]:
        value, left, _ = await _entry(person, key)()
        return value, left

    person.abilities.expect_eventually(read, no_cache_entry(), what)


def expect_session_cached(person: Person, *, session: int = -1, present: bool) -> None:
    """One of the person's sessions is cached for the hour the contract promises (to the
    millisecond the suite can vouch for: no more than an hour, no less than an hour since
    the connection was asked for), or gone."""
    key = session_key(person.user_id, str(session_record(person, session)["id"]))
    if not present:
        _absent(person, key, f"{person.name}'s session {key} to be gone from the cache")
        return
    opened = person.connections[session].opened_at
    _expect_present(person, key, lambda read_at: a_cache_entry(
        ttl=promised(SESSION_TTL_S, opened, read_at)), f"{person.name}'s session {key} to be cached")


def expect_connection_cached(person: Person, *, session: int = -1, present: bool) -> None:
    """One of the person's connections is tracked (pointing at its session) for the hour
    the contract promises, or forgotten."""
    connection = person.connections[session]
    key = connection_key(person.user_id, str(connection.connection_id))
    if not present:
        _absent(person, key, f"{person.name}'s connection {key} to be forgotten")
        return
    _expect_present(person, key, lambda read_at: a_cache_entry(
        ttl=promised(CONNECTION_TTL_S, connection.opened_at, read_at),
        fields={"session_id": str(session_record(person, session)["id"])}),
        f"{person.name}'s connection {key} to be tracked")


def expect_answer_cached(person: Person) -> None:
    """The person's last answer is cached with its status, text and conversation, for the
    day the contract promises (no more, and no less than a day since it was asked)."""
    answered = person.answered[-1] if person.answered else None
    if answered is None:
        raise AssertionError(f"{person.name} has not had an answer yet")
    run = answered.run
    key = result_key(person.user_id, run.run_id)
    status = str(run.completion.status) if run.completion else "completed"
    _expect_present(person, key, lambda read_at: a_cached_answer(
        status, run.response, run.thread_id, promised(RESULT_TTL_S, answered.asked_at, read_at)),
        f"{person.name}'s answer {key} to be cached")


def expect_revocation_until_expiry(person: Person) -> None:
    """The revocation of the person's sign-in is kept until the gateway would refuse the
    sign-in anyway, its leeway after `exp` included: no longer, and not a moment less."""
    sign_in = person.sign_in
    key = revoked_key(str(sign_in.jti))
    revoked_at: float = person.recall(REVOKED_AT)
    refused_ms = (int(sign_in.expires_at or 0) + person.abilities.config.jwt_leeway) * 1000

    def until_expiry(read_at: float) -> Matcher[Any]:
        wall_read = time.time() - (time.perf_counter() - read_at)
        return a_cache_entry(ttl=(refused_ms - int(wall_read * 1000) - ROUNDING_MS,
                                  refused_ms - int(revoked_at * 1000) + ROUNDING_MS))

    _expect_present(person, key, until_expiry,
                    f"the revocation of {person.name}'s sign-in ({key}) to be remembered")


def cache_entries(person: Person) -> dict[str, Any]:
    """Everything in the cache, key -> parsed value: scanned whole, not by the person's
    prefix, so an entry of theirs filed elsewhere is seen too."""
    cache = person.abilities.cache

    async def read() -> dict[str, Any]:
        return await cache.entries(await cache.keys("*"))

    return person.abilities.read(read())


def own_ids(person: Person) -> dict[str, list[str]]:
    """The person's sessions (stored), connections (greetings), requests, conversations."""
    rows = person.abilities.read(person.abilities.storage.sessions_of([person.user_id]))
    return {
        "sessions": [str(row["id"]) for row in rows],
        "connections": [str(c.connection_id) for c in person.connections if c.is_open],
        "runs": [a.run.run_id for a in person.answered],
        "threads": threads(person),
    }
