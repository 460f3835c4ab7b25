"""Matchers for what a person saw: one run's events, their numbering, the agents and tools
at work, the ending, a refusal, a replay. Each names the first rule broken."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hamcrest.core.matcher import Matcher
from hamcrest.core.string_description import StringDescription

from support.matchers.base import ProblemMatcher
from support.wire.codec import Event, Refusal
from support.wire.rules import numbering_problem, run_problem

Rows = Sequence[Mapping[str, Any]]


def _labels(events: Sequence[Event]) -> str:
    return ", ".join(e.describe() for e in events) or "no events"


# -- event streams -------------------------------------------------------------------


def a_well_formed_run() -> Matcher[Sequence[Event]]:
    """One run's events: agent_started first, some agent_thinking, every tool_executing
    answered by one tool_completed for the same call, one agent_completed, last."""
    return ProblemMatcher(
        "one run: agent_started first, agents thinking, each tool call finished once, "
        "and a single agent_completed at the end",
        run_problem,
    )


def numbered_without_gaps(first: int | None = None) -> Matcher[Sequence[Event]]:
    """Events whose seq grows by exactly one each time (starting at `first`, if given)."""
    start = "" if first is None else f" from {first}"
    return ProblemMatcher(
        f"events numbered one after another{start}, without gaps or repeats",
        lambda events: numbering_problem(events, first),
    )


def agents_in(events: Sequence[Event]) -> list[str]:
    """The sub-agents seen at work in `events` (their `agent_thinking`), in order, once each."""
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
        seen = agents_in(events)
        if seen == expected:
            return None
        return f"the agents that worked were {', '.join(seen) or 'none'}"

    return ProblemMatcher(f"work by the agents {', '.join(expected)}, in that order", problem)


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
    return ProblemMatcher(wanted, problem)


def tools_finish_before_the_answer() -> Matcher[Sequence[Event]]:
    """At least one tool ran, and every tool finished before the answer arrived."""

    def problem(events: Sequence[Event]) -> str | None:
        if not any(e.type == "tool_executing" for e in events):
            return f"no tool ran; saw {_labels(events)}"
        return run_problem(events)

    return ProblemMatcher("every tool to finish before the answer arrives", problem)


def ended(
    status: str, *, response: Matcher[Any] | None = None, error_code: str | None = None
) -> Matcher[Sequence[Event]]:
    """The run's agent_completed has `status` (and response text, error code)."""

    def problem(events: Sequence[Event]) -> str | None:
        done = [e for e in events if e.type == "agent_completed"]
        if not done:
            return f"the run never ended; saw {_labels(events)}"
        if len(done) > 1:
            return f"the run ended {len(done)} times: {_labels(done)}"
        payload = done[0].payload
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
    return ProblemMatcher(wanted, problem)


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

    return ProblemMatcher("events of the user's own conversations only", problem)


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

    return ProblemMatcher(f"exactly the events seq {_span(wanted)}, once each, in order", problem)


def _span(numbers: Sequence[int]) -> str:
    if not numbers:
        return "none"
    if list(numbers) == list(range(numbers[0], numbers[0] + len(numbers))) and len(numbers) > 2:
        return f"{numbers[0]}..{numbers[-1]}"
    return ", ".join(str(n) for n in numbers)


# -- handshakes and replays -------------------------------------------------------------


def _opened(client: Any) -> str:
    return f"the connection opened and greeted the user as {getattr(client, 'user_id', None)!r}"


def refused_because(reason: str) -> Matcher[Any]:
    """A handshake refused with HTTP 401 and body {"error": "invalid_token", "reason"}."""

    def problem(outcome: Any) -> str | None:
        if not isinstance(outcome, Refusal):
            return _opened(outcome)
        if outcome.status != 401 or outcome.reason != reason:
            return f"the gateway answered {outcome.describe()} (body {outcome.body!r})"
        if outcome.error != "invalid_token":
            return f"the refusal did not say invalid_token (body {outcome.body!r})"
        return None

    return ProblemMatcher(f"a refusal before the connection opens, because {reason}", problem)


def refused_as_not_found() -> Matcher[Any]:
    """A handshake refused with HTTP 404: nothing answers at that address."""

    def problem(outcome: Any) -> str | None:
        if not isinstance(outcome, Refusal):
            return _opened(outcome)
        if outcome.status != 404:
            return f"the gateway answered HTTP {outcome.status} (body {outcome.body!r})"
        return None

    return ProblemMatcher("a refusal before the connection opens, with HTTP 404", problem)


def refused_as_unavailable() -> Matcher[Any]:
    """A handshake refused with HTTP 503 and body {"error": "unavailable"}: the sign-in
    cannot be checked right now (DESIGN §5)."""

    def problem(outcome: Any) -> str | None:
        if not isinstance(outcome, Refusal):
            return _opened(outcome)
        if outcome.status != 503 or outcome.error != "unavailable":
            return f"the gateway answered HTTP {outcome.status} (body {outcome.body!r})"
        return None

    return ProblemMatcher("a refusal before the connection opens, with HTTP 503 unavailable",
                          problem)


def the_same_events_as(first: Sequence[Event]) -> Matcher[Sequence[Event]]:
    """The same run's events again: same run, types, seq and payloads, in order."""

    def key(events: Sequence[Event]) -> list[tuple[str, str, int, dict[str, Any]]]:
        return [(e.run_id, e.type, e.seq, dict(e.payload)) for e in events]

    def problem(again: Sequence[Event]) -> str | None:
        if key(again) == key(first):
            return None
        runs, wanted = {e.run_id for e in again}, {e.run_id for e in first}
        if runs - wanted and not runs & wanted:
            return f"a new request was started: {_labels(again)}"
        if runs - wanted:
            return (f"events of other requests ({', '.join(sorted(runs - wanted))}) came "
                    f"too: {_labels(again)}")
        return f"the second time brought {_labels(again)}"

    return ProblemMatcher(f"the same events again: {_labels(first)}", problem)
