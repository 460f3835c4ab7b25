"""PyHamcrest matchers for what users see (event streams) and what the product stored (rows,
cache entries), whose mismatch text reads in product terms.

A bare `assert` prints nothing useful in a behave report; these say what went wrong as a
reader would put it: "expected tool_completed after tool_executing for call c1, got
agent_completed". Each matcher finds the first problem and reports it; `problem_of`
exposes that sentence for the harness's own tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from hamcrest import (
    all_of,
    assert_that,
    contains_exactly,
    contains_string,
    empty,
    equal_to,
    has_entries,
    has_properties,
    not_none,
)
from hamcrest.core.base_matcher import BaseMatcher
from hamcrest.core.description import Description
from hamcrest.core.matcher import Matcher
from hamcrest.core.string_description import StringDescription

from support.client import Event, Refusal

Rows = Sequence[Mapping[str, Any]]

# The suite's matchers, and PyHamcrest's general ones re-exported so steps import every
# matcher from here.
__all__ = [
    "a_cache_entry",
    "a_cached_answer",
    "a_conversation",
    "a_run_record",
    "a_session_record",
    "a_well_formed_run",
    "all_of",
    "assert_that",
    "cache_entries_of",
    "contains_exactly",
    "contains_string",
    "empty",
    "ended",
    "equal_to",
    "exactly_seqs",
    "expiring_within",
    "has_entries",
    "has_properties",
    "keys_in_namespace",
    "no_cache_entry",
    "not_none",
    "numbered_without_gaps",
    "only_from",
    "problem_of",
    "refused_because",
    "the_same_events_as",
    "tools_finish_before_the_answer",
    "used_tool",
    "worked_on_by",
    "working_notes",
]


class _ProblemMatcher(BaseMatcher[Any]):
    """A matcher defined by one function that returns the first problem, or None."""

    def __init__(self, expectation: str, find_problem: Callable[[Any], str | None]) -> None:
        self._expectation = expectation
        self._find_problem = find_problem

    def _matches(self, item: Any) -> bool:
        return self._find_problem(item) is None

    def describe_to(self, description: Description) -> None:
        description.append_text(self._expectation)

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        mismatch_description.append_text(self._find_problem(item) or "it matched")


def problem_of(matcher: Matcher[Any], item: Any) -> str | None:
    """The mismatch sentence `matcher` gives for `item`, or None when it matches."""
    if matcher.matches(item):
        return None
    description = StringDescription()
    matcher.describe_mismatch(item, description)
    return str(description)


def _labels(events: Sequence[Event]) -> str:
    return ", ".join(e.describe() for e in events) or "no events"


# -- event streams -------------------------------------------------------------------


def _run_problem(events: Sequence[Event]) -> str | None:
    if not events:
        return "no events arrived"
    if events[0].type != "agent_started":
        return f"the run began with {events[0].describe()}, not agent_started"
    starts = [e for e in events if e.type == "agent_started"]
    if len(starts) > 1:
        return f"agent_started arrived {len(starts)} times (seq {', '.join(str(e.seq) for e in starts)})"
    open_calls: dict[str, Event] = {}
    finished_calls: set[str] = set()
    for index, event in enumerate(events):
        if event.type == "tool_executing":
            call = str(event.call_id)
            if call in open_calls or call in finished_calls:
                return f"tool_executing arrived twice for call {call}"
            open_calls[call] = event
        elif event.type == "tool_completed":
            call = str(event.call_id)
            if call in finished_calls:
                return f"tool_completed arrived twice for call {call}"
            if call not in open_calls:
                return f"tool_completed for call {call} arrived without its tool_executing"
            started = open_calls.pop(call)
            if started.tool != event.tool:
                return (
                    f"call {call} started tool {started.tool} but completed as tool {event.tool}"
                )
            finished_calls.add(call)
        elif event.type == "agent_completed":
            if open_calls:
                call = next(iter(open_calls))
                return (
                    f"expected tool_completed after tool_executing for call {call}, "
                    f"got agent_completed"
                )
            if index != len(events) - 1:
                after = events[index + 1]
                return f"{after.describe()} arrived after agent_completed ended the run"
    if events[-1].type != "agent_completed":
        if open_calls:
            call = next(iter(open_calls))
            return (
                f"expected tool_completed after tool_executing for call {call}, "
                f"got {events[-1].describe()} and then nothing"
            )
        return f"the run never ended: the last event was {events[-1].describe()}"
    if not any(e.type == "agent_thinking" for e in events):
        return "no agent said what it was doing (no agent_thinking)"
    return None


def a_well_formed_run() -> Matcher[Sequence[Event]]:
    """One run's events: agent_started first, some agent_thinking, every tool_executing
    answered by one tool_completed for the same call, one agent_completed, last."""
    return _ProblemMatcher(
        "one run: agent_started first, agents thinking, each tool call finished once, "
        "and a single agent_completed at the end",
        _run_problem,
    )


def _seq_problem(events: Sequence[Event], first: int | None) -> str | None:
    if not events:
        return "no events arrived"
    seqs = [e.seq for e in events]
    if first is not None and seqs[0] != first:
        return f"numbering began at seq {seqs[0]}, expected {first}"
    for previous, current in itertools.pairwise(seqs):
        if current == previous:
            return f"seq {current} arrived twice"
        if current < previous:
            return f"seq went back from {previous} to {current}"
        if current > previous + 1:
            missing = ", ".join(str(n) for n in range(previous + 1, current))
            return f"seq jumped from {previous} to {current}: {missing} missing"
    return None


def numbered_without_gaps(first: int | None = None) -> Matcher[Sequence[Event]]:
    """Events whose seq grows by exactly one each time (starting at `first`, if given)."""
    start = "" if first is None else f" from {first}"
    return _ProblemMatcher(
        f"events numbered one after another{start}, without gaps or repeats",
        lambda events: _seq_problem(events, first),
    )


def _agents_in(events: Sequence[Event]) -> list[str]:
    agents: list[str] = []
    for event in events:
        if (
            event.type == "agent_thinking"
            and event.agent
            and event.agent != "supervisor"
            and event.agent not in agents
        ):
            agents.append(str(event.agent))
    return agents


def worked_on_by(agents: Sequence[str]) -> Matcher[Sequence[Event]]:
    """The sub-agents that announced themselves are exactly `agents`, in that order."""
    expected = list(agents)

    def problem(events: Sequence[Event]) -> str | None:
        seen = _agents_in(events)
        if seen == expected:
            return None
        return f"the agents that worked were {', '.join(seen) or 'none'}"

    return _ProblemMatcher(f"work by the agents {', '.join(expected)}, in that order", problem)


def used_tool(
    tool: str,
    *,
    args: Mapping[str, Any] | None = None,
    status: str | None = None,
    result: Mapping[str, Any] | None = None,
) -> Matcher[Sequence[Event]]:
    """A tool call of `tool` (with these arguments) that finished with `status` and
    `result`."""

    def problem(events: Sequence[Event]) -> str | None:
        calls = [e for e in events if e.type == "tool_executing" and e.tool == tool]
        if not calls:
            used = sorted({str(e.tool) for e in events if e.type == "tool_executing"})
            return f"the {tool} tool was not used (tools used: {', '.join(used) or 'none'})"
        for call in calls:
            if args is not None and dict(call.payload.get("args") or {}) != dict(args):
                continue
            done = [
                e for e in events if e.type == "tool_completed" and e.call_id == call.call_id
            ]
            if status is not None and not (done and done[0].status == status):
                continue
            if result is not None and not (
                done and dict(done[0].payload.get("result") or {}) == dict(result)
            ):
                continue
            if status is None or done:
                return None
        if args is not None and not any(
            dict(c.payload.get("args") or {}) == dict(args) for c in calls
        ):
            given = "; ".join(str(dict(c.payload.get("args") or {})) for c in calls)
            return f"the {tool} tool was given {given}"
        finished = [
            e for e in events if e.type == "tool_completed" and e.call_id in {c.call_id for c in calls}
        ]
        if not finished:
            return f"the {tool} tool never finished"
        outcomes = ", ".join(f"{e.status} {dict(e.payload.get('result') or {})}" for e in finished)
        return f"the {tool} tool finished {outcomes}"

    wanted = f"the {tool} tool"
    if args is not None:
        wanted += f" given {dict(args)}"
    if status is not None:
        wanted += f" finishing {status}"
    if result is not None:
        wanted += f" with {dict(result)}"
    return _ProblemMatcher(wanted, problem)


def tools_finish_before_the_answer() -> Matcher[Sequence[Event]]:
    """At least one tool ran, and every tool finished before the answer arrived."""

    def problem(events: Sequence[Event]) -> str | None:
        if not any(e.type == "tool_executing" for e in events):
            return f"no tool ran; saw {_labels(events)}"
        return _run_problem(events)

    return _ProblemMatcher("every tool to finish before the answer arrives", problem)


def ended(
    status: str, *, response: Matcher[Any] | None = None, error_code: str | None = None
) -> Matcher[Sequence[Event]]:
    """The run's agent_completed has `status` (and response text, error code)."""

    def problem(events: Sequence[Event]) -> str | None:
        done = [e for e in events if e.type == "agent_completed"]
        if not done:
            return f"the run never ended; saw {_labels(events)}"
        payload = done[-1].payload
        if payload.get("status") != status:
            return f"the run ended {payload.get('status')} with {dict(payload)}"
        if response is not None and not response.matches(payload.get("response")):
            return f"the answer was {payload.get('response')!r}"
        if error_code is not None:
            error = payload.get("error") or {}
            if not isinstance(error, Mapping) or error.get("code") != error_code:
                return f"the error reported was {error!r}"
        return None

    wanted = f"the run to end {status}"
    if error_code is not None:
        wanted += f" with error {error_code}"
    if response is not None:
        wanted += f" answering {StringDescription().append_description_of(response)}"
    return _ProblemMatcher(wanted, problem)


def only_from(thread_ids: Iterable[str]) -> Matcher[Sequence[Event]]:
    """Every event belongs to one of `thread_ids` (a user's own conversations)."""
    allowed = set(thread_ids)

    def problem(events: Sequence[Event]) -> str | None:
        stray = [e for e in events if e.thread_id not in allowed]
        if not stray:
            return None
        return (
            f"{len(stray)} event(s) of another conversation arrived, first "
            f"{stray[0].describe()} of conversation {stray[0].thread_id}"
        )

    return _ProblemMatcher("events of the user's own conversations only", problem)


def exactly_seqs(expected: Sequence[int]) -> Matcher[Sequence[Event]]:
    """The events carry exactly these seq numbers, once each, in this order."""
    wanted = list(expected)

    def problem(events: Sequence[Event]) -> str | None:
        got = [e.seq for e in events]
        if got == wanted:
            return None
        missing = [s for s in wanted if s not in got]
        extra = [s for s in got if s not in wanted]
        repeated = sorted({s for s in got if got.count(s) > 1})
        parts = [f"got seq {_span(got)}"]
        if missing:
            parts.append(f"missing {_span(missing)}")
        if extra:
            parts.append(f"not expected {_span(extra)}")
        if repeated:
            parts.append(f"repeated {_span(repeated)}")
        return "; ".join(parts)

    return _ProblemMatcher(f"exactly the events seq {_span(wanted)}, once each, in order", problem)


def _span(numbers: Sequence[int]) -> str:
    if not numbers:
        return "none"
    if list(numbers) == list(range(numbers[0], numbers[0] + len(numbers))) and len(numbers) > 2:
        return f"{numbers[0]}..{numbers[-1]}"
    return ", ".join(str(n) for n in numbers)


# -- stored rows ----------------------------------------------------------------------


def a_conversation(turns: Sequence[tuple[str, str]]) -> Matcher[Rows]:
    """Message rows, in order, with these (role, content) pairs."""
    wanted = [(role, content) for role, content in turns]

    def problem(rows: Rows) -> str | None:
        got = [(str(r.get("role")), str(r.get("content"))) for r in rows]
        if got == wanted:
            return None
        if not got:
            return "nothing was stored"
        return "stored " + "; ".join(f"{role}: {content!r}" for role, content in got)

    return _ProblemMatcher(
        "the conversation " + "; ".join(f"{role}: {content!r}" for role, content in wanted),
        problem,
    )


def a_run_record(
    status: str,
    *,
    result: str | None = None,
    error_code: str | None = None,
    agents: Sequence[str] | None = None,
) -> Matcher[Mapping[str, Any] | None]:
    """An agent_executions row with this status (and result, error code, agents)."""

    def problem(row: Mapping[str, Any] | None) -> str | None:
        if row is None:
            return "the run was not recorded at all"
        recorded = (
            f"the run is recorded as {row.get('status')} with result {row.get('result')!r}, "
            f"error {row.get('error_code')!r}, agents {row.get('agents')!r}"
        )
        if row.get("status") != status:
            return recorded
        if result is not None and row.get("result") != result:
            return recorded
        if error_code is not None and row.get("error_code") != error_code:
            return recorded
        if agents is not None and list(row.get("agents") or []) != list(agents):
            return recorded
        if status in ("completed", "failed") and row.get("completed_at") is None:
            return f"the run is recorded as {status} but has no completion time"
        return None

    wanted = f"a run recorded as {status}"
    if result is not None:
        wanted += f" with result {result!r}"
    if error_code is not None:
        wanted += f" with error {error_code}"
    if agents is not None:
        wanted += f" by the agents {', '.join(agents)}"
    return _ProblemMatcher(wanted, problem)


def a_session_record(
    status: str, *, ended: bool | None = None, **fields: Any
) -> Matcher[Mapping[str, Any] | None]:
    """A user_sessions row with `status`, an end time exactly when `ended` (None: either),
    and these other column values."""

    def problem(row: Mapping[str, Any] | None) -> str | None:
        if row is None:
            return "no session was recorded for the connection"
        has_end = row.get("ended_at") is not None
        wrong = {k: row.get(k) for k, v in fields.items() if row.get(k) != v}
        if wrong:
            return "the session is recorded with " + ", ".join(
                f"{k}={v!r}" for k, v in wrong.items()
            )
        if row.get("status") != status or (ended is not None and has_end != ended):
            when = f"ended at {row.get('ended_at')}" if has_end else "with no end time"
            return f"the session is recorded as {row.get('status')}, {when}"
        return None

    return _ProblemMatcher(
        f"a session recorded as {status}" + (" with an end time" if ended else ""), problem
    )


# -- handshakes and replays -------------------------------------------------------------


def refused_because(reason: str) -> Matcher[Any]:
    """A handshake refused with HTTP 401 and body {"error": "invalid_token", "reason"}."""

    def problem(outcome: Any) -> str | None:
        if not isinstance(outcome, Refusal):
            return (
                f"the connection opened and greeted the user as {getattr(outcome, 'user_id', None)!r}"
            )
        if outcome.status != 401 or outcome.reason != reason:
            return f"the gateway answered {outcome.describe()} (body {outcome.body!r})"
        if outcome.error != "invalid_token":
            return f"the refusal did not say invalid_token (body {outcome.body!r})"
        return None

    return _ProblemMatcher(f"a refusal before the connection opens, because {reason}", problem)


def the_same_events_as(first: Sequence[Event]) -> Matcher[Sequence[Event]]:
    """The same run's events again: same run, types, seq and payloads, in order."""

    def key(events: Sequence[Event]) -> list[tuple[str, str, int, dict[str, Any]]]:
        return [(e.run_id, e.type, e.seq, dict(e.payload)) for e in events]

    def problem(again: Sequence[Event]) -> str | None:
        if key(again) == key(first):
            return None
        if {e.run_id for e in again} - {e.run_id for e in first}:
            return f"a new request was started: {_labels(again)}"
        return f"the second time brought {_labels(again)}"

    return _ProblemMatcher(f"the same events again: {_labels(first)}", problem)



def expiring_within(low_s: int, high_s: int) -> Matcher[int]:
    """A Redis TTL (seconds) between `low_s` and `high_s`; -1 means no expiry, -2 no key."""

    def problem(ttl: int) -> str | None:
        if ttl == -2:
            return "the entry is not in the cache"
        if ttl == -1:
            return "the entry never expires"
        if not low_s <= ttl <= high_s:
            return f"the entry expires in {ttl} s"
        return None

    return _ProblemMatcher(f"a cache entry expiring in {low_s}..{high_s} s", problem)


def keys_in_namespace(user_id: str) -> Matcher[Sequence[str]]:
    """Cache keys, all under `gp:{user_id}:`, and at least one."""
    prefix = f"gp:{user_id}:"

    def problem(keys: Sequence[str]) -> str | None:
        if not keys:
            return "the user has nothing in the cache"
        stray = [k for k in keys if not k.startswith(prefix)]
        return f"some entries lie outside the user's space: {', '.join(stray)}" if stray else None

    return _ProblemMatcher(f"cache entries under {prefix}", problem)


# -- cache entries ----------------------------------------------------------------------


def cache_entries_of(
    user_id: str,
    *,
    sessions: Iterable[str],
    connections: Iterable[str],
    runs: Iterable[str],
    threads: Iterable[str],
) -> Matcher[Mapping[str, Any]]:
    """A user's cache entries (key -> parsed value): all under `gp:{user_id}:`, each about
    one of the user's own sessions, connections and requests, and none of those missing."""
    prefix = f"gp:{user_id}:"
    own = {"session": set(sessions), "conn": set(connections), "result": set(runs)}
    own_threads = set(threads)

    def problem(entries: Mapping[str, Any]) -> str | None:
        found: dict[str, set[str]] = {kind: set() for kind in own}
        for key, value in sorted(entries.items()):
            if not key.startswith(prefix):
                return f"{key} is filed outside the user's space"
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

    return _ProblemMatcher(
        f"cache entries under {prefix} about the user's own sessions, connections and answers",
        problem,
    )


def a_cached_answer(
    status: str, response: str | None, thread_id: str | None, ttl: tuple[int, int]
) -> Matcher[tuple[Any, int]]:
    """(value, ttl) of a cached result: {"status", "response", "thread_id"} kept `ttl` s."""
    wanted = {"status": status, "response": response, "thread_id": thread_id}
    lasting = expiring_within(*ttl)

    def problem(entry: tuple[Any, int]) -> str | None:
        value, seconds = entry
        if value is None:
            return "the answer is not in the cache"
        if not isinstance(value, Mapping) or any(value.get(k) != v for k, v in wanted.items()):
            return f"the cache holds {value!r}"
        return problem_of(lasting, seconds)

    return _ProblemMatcher(f"the answer {wanted} cached for {ttl[0]}..{ttl[1]} s", problem)


def a_cache_entry(
    *, ttl: tuple[int, int] | None = None, fields: Mapping[str, Any] | None = None
) -> Matcher[tuple[Any, int]]:
    """(value, ttl) of a present entry, expiring within `ttl`, whose JSON has `fields`."""

    def problem(entry: tuple[Any, int]) -> str | None:
        value, seconds = entry
        if value is None:
            return "the entry is not in the cache"
        if fields and (
            not isinstance(value, Mapping) or any(value.get(k) != v for k, v in fields.items())
        ):
            return f"the cache holds {value!r}"
        return problem_of(expiring_within(*ttl), seconds) if ttl else None

    wanted = "a cache entry" + (f" with {dict(fields)}" if fields else "")
    if ttl:
        wanted += f" expiring in {ttl[0]}..{ttl[1]} s"
    return _ProblemMatcher(wanted, problem)


def no_cache_entry() -> Matcher[tuple[Any, int]]:
    """(value, ttl) of an entry that is not there."""

    def problem(entry: tuple[Any, int]) -> str | None:
        value, seconds = entry
        return None if value is None else f"the cache still holds {value!r} for {seconds} s"

    return _ProblemMatcher("no such cache entry", problem)


def working_notes(
    session_id: str, run_ids: Sequence[str], *, kept: bool
) -> Matcher[Rows]:
    """A user's temporary data rows: a plan note for each run of the session (kept), or
    none of the session's rows at all (removed)."""
    wanted_keys = {f"run:{run}:plan" for run in run_ids}

    def problem(rows: Rows) -> str | None:
        of_session = [r for r in rows if r.get("session_id") == session_id]
        if not kept:
            if of_session:
                keys = ", ".join(str(r.get("key")) for r in of_session)
                return f"the session's working notes are still stored: {keys}"
            return None
        missing = sorted(wanted_keys - {str(r.get("key")) for r in of_session})
        if missing:
            return f"working notes missing: {', '.join(missing)}; stored: " + (
                ", ".join(f"{r.get('key')} of session {r.get('session_id')}" for r in rows)
                or "none"
            )
        return None

    expectation = (
        f"working notes {', '.join(sorted(wanted_keys))} of session {session_id}"
        if kept
        else f"no working notes of session {session_id}"
    )
    return _ProblemMatcher(expectation, problem)
