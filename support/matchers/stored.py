"""Matchers for what the product stored: a conversation, a run record, a session record,
working notes. Each names the first difference from what the person saw."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hamcrest.core.matcher import Matcher

from support.matchers.base import ProblemMatcher

Rows = Sequence[Mapping[str, Any]]


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

    return ProblemMatcher(
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
    return ProblemMatcher(wanted, problem)


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

    return ProblemMatcher(
        f"a session recorded as {status}" + (" with an end time" if ended else ""), problem
    )


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
    return ProblemMatcher(expectation, problem)
