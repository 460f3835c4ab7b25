"""What the product cached for a person, read by the suite's own cache probe (§5.1, §6)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from hamcrest.core.matcher import Matcher

from support.actors.person import Person
from support.actors.questions.seen import threads
from support.actors.questions.stored import session_record
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

# How far below a promised lifetime a TTL read during the scenario may be: the seconds a
# scenario takes between the write and the read.
TTL_SLACK_S = 5

__all__ = [
    "cache_entries",
    "expect_answer_cached",
    "expect_connection_cached",
    "expect_revocation_until_expiry",
    "expect_session_cached",
    "own_ids",
]


def _entry(person: Person, key: str) -> Callable[[], Awaitable[tuple[Any, int]]]:
    cache = person.abilities.cache

    async def read() -> tuple[Any, int]:
        return await cache.get_json(key), await cache.ttl(key)

    return read


def _expect_present(person: Person, key: str, matcher: Matcher[Any], what: str) -> None:
    """Wait (bounded) until the entry is there, then judge that very read: a lifetime is
    read once, as a re-read would let a TTL above the promise tick down into it."""
    entry = person.abilities.eventually(_entry(person, key), lambda found: found[0] is not None,
                                        what, describe=lambda _: "the entry is not in the cache")
    assert_that(entry, matcher, what)


def expect_session_cached(person: Person, *, session: int = -1, present: bool) -> None:
    """One of the person's sessions is cached for the hour the contract promises (within
    a few seconds), or gone."""
    ttl = (SESSION_TTL_S - TTL_SLACK_S, SESSION_TTL_S)
    key = session_key(person.user_id, str(session_record(person, session)["id"]))
    if present:
        _expect_present(person, key, a_cache_entry(ttl=ttl),
                        f"{person.name}'s session {key} to be cached")
        return
    person.abilities.expect_eventually(_entry(person, key), no_cache_entry(),
                                       f"{person.name}'s session {key} to be gone from the cache")


def expect_connection_cached(person: Person, *, session: int = -1, present: bool) -> None:
    """One of the person's connections is tracked (pointing at its session), or forgotten."""
    key = connection_key(person.user_id, str(person.connections[session].connection_id))
    if present:
        _expect_present(person, key, a_cache_entry(
            ttl=(CONNECTION_TTL_S - TTL_SLACK_S, CONNECTION_TTL_S),
            fields={"session_id": str(session_record(person, session)["id"])}),
            f"{person.name}'s connection {key} to be tracked")
        return
    person.abilities.expect_eventually(_entry(person, key), no_cache_entry(),
                                       f"{person.name}'s connection {key} to be forgotten")


def expect_answer_cached(person: Person) -> None:
    """The person's last answer is cached with its status, text and conversation, for the
    day the contract promises (within a few seconds)."""
    ttl = (RESULT_TTL_S - TTL_SLACK_S, RESULT_TTL_S)
    run = person.last_run
    key = result_key(person.user_id, run.run_id)
    status = str(run.completion.status) if run.completion else "completed"
    _expect_present(person, key, a_cached_answer(status, run.response, run.thread_id, ttl),
                    f"{person.name}'s answer {key} to be cached")


def expect_revocation_until_expiry(person: Person) -> None:
    """The revocation of the person's sign-in is kept until the sign-in would expire."""
    sign_in = person.sign_in
    key = revoked_key(str(sign_in.jti))
    remaining = int(sign_in.expires_at or 0) - int(time.time())
    _expect_present(person, key, a_cache_entry(ttl=(max(1, remaining - TTL_SLACK_S),
                                                    remaining + 1)),
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
