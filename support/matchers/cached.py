"""Matchers for what the product cached: entries, their contents and their lifetimes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hamcrest.core.matcher import Matcher

from support.contract import namespace, revoked_key
from support.matchers.base import ProblemMatcher, problem_of

Rows = Sequence[Mapping[str, Any]]


Lifetime = tuple[int, int]  # the least and the most milliseconds an entry may have left


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.3f} s"


def _lasting(ttl: Lifetime) -> str:
    return f"{_seconds(ttl[0])}..{_seconds(ttl[1])}"


def expiring_within(low_ms: int, high_ms: int) -> Matcher[int]:
    """A Redis PTTL (milliseconds) between `low_ms` and `high_ms`; -1 means no expiry, -2
    no key."""

    def problem(ttl: int) -> str | None:
        if ttl == -2:
            return "the entry is not in the cache"
        if ttl == -1:
            return "the entry never expires"
        if not low_ms <= ttl <= high_ms:
            return f"the entry expires in {_seconds(ttl)}"
        return None

    return ProblemMatcher(f"a cache entry expiring in {_lasting((low_ms, high_ms))}", problem)


# -- cache entries ----------------------------------------------------------------------


def cache_entries_of(
    user_id: str,
    *,
    sessions: Iterable[str],
    connections: Iterable[str],
    runs: Iterable[str],
    threads: Iterable[str],
) -> Matcher[Mapping[str, Any]]:
    """The whole cache (key -> parsed value) as one user's entries should lie in it: every
    entry about the user (naming any of their ids) filed under `gp:{user_id}:` (revocations
    aside, which have their own space), every entry there about one of the user's own
    sessions, connections and requests, and none of those missing."""
    prefix = namespace(user_id)
    own = {"session": set(sessions), "conn": set(connections), "result": set(runs)}
    own_threads = set(threads)
    own_ids = {user_id, *own_threads, *(ident for ids in own.values() for ident in ids)}

    def problem(entries: Mapping[str, Any]) -> str | None:
        found: dict[str, set[str]] = {kind: set() for kind in own}
        for key, value in sorted(entries.items()):
            if not key.startswith(prefix):
                if key.startswith(revoked_key("")):
                    continue
                text = f"{key} {json.dumps(value, default=str)}"
                named = sorted(ident for ident in own_ids if ident and ident in text)
                if named:
                    return (f"{key} is filed outside the user's space but is about the user "
                            f"({', '.join(named)}): {value!r}")
                continue
            kind, _, ident = key[len(prefix):].partition(":")
            if kind not in own:
                continue
            if ident not in own[kind]:
                return f"{key} is about a {kind} that is not the user's own"
            found[kind].add(ident)
            details = value if isinstance(value, Mapping) else {}
            if kind == "result" and details.get("thread_id") not in own_threads:
                return f"{key} holds an answer in another conversation: {value!r}"
            if kind == "conn" and details.get("session_id") not in own["session"]:
                return f"{key} points at another session: {value!r}"
        for kind, wanted in own.items():
            missing = sorted(wanted - found[kind])
            if missing:
                return f"no cache entry for the user's {kind} {', '.join(missing)}"
        return None

    return ProblemMatcher(
        f"cache entries under {prefix} about the user's own sessions, connections and answers",
        problem,
    )


def a_cached_answer(
    status: str, response: str | None, thread_id: str | None, ttl: Lifetime
) -> Matcher[tuple[Any, int]]:
    """(value, pttl) of a cached result: {"status", "response", "thread_id"}, with `ttl`
    milliseconds left."""
    wanted = {"status": status, "response": response, "thread_id": thread_id}
    lasting = expiring_within(*ttl)

    def problem(entry: tuple[Any, int]) -> str | None:
        value, ms = entry
        if value is None:
            return "the answer is not in the cache"
        if not isinstance(value, Mapping) or any(value.get(k) != v for k, v in wanted.items()):
            return f"the cache holds {value!r}"
        return problem_of(lasting, ms)

    return ProblemMatcher(f"the answer {wanted} cached for {_lasting(ttl)}", problem)


def a_cache_entry(
    *, ttl: Lifetime | None = None, fields: Mapping[str, Any] | None = None
) -> Matcher[tuple[Any, int]]:
    """(value, pttl) of a present entry, expiring within `ttl` (ms), whose JSON has
    `fields`."""

    def problem(entry: tuple[Any, int]) -> str | None:
        value, ms = entry
        if value is None:
            return "the entry is not in the cache"
        if fields and (
            not isinstance(value, Mapping) or any(value.get(k) != v for k, v in fields.items())
        ):
            return f"the cache holds {value!r}"
        return problem_of(expiring_within(*ttl), ms) if ttl else None

    wanted = "a cache entry" + (f" with {dict(fields)}" if fields else "")
    if ttl:
        wanted += f" expiring in {_lasting(ttl)}"
    return ProblemMatcher(wanted, problem)


def no_cache_entry() -> Matcher[tuple[Any, int]]:
    """(value, pttl) of an entry that is not there."""

    def problem(entry: tuple[Any, int]) -> str | None:
        value, ms = entry
        return None if value is None else f"the cache still holds {value!r} for {_seconds(ms)}"

    return ProblemMatcher("no such cache entry", problem)
