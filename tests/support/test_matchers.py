"""The suite's matchers: what they accept, and that their mismatch text reads in product
terms (a failing scenario is only as useful as the sentence it prints)."""

from __future__ import annotations

from typing import Any

from hamcrest import equal_to

from support.matchers import (
    a_cached_answer,
    a_conversation,
    a_run_record,
    a_session_record,
    a_well_formed_run,
    cache_entries_of,
    ended,
    exactly_seqs,
    expiring_within,
    numbered_without_gaps,
    only_from,
    problem_of,
    refused_because,
    the_same_events_as,
    used_tool,
    worked_on_by,
    working_notes,
)
from support.wire.codec import Event, Refusal


def event(seq: int, type_: str, run: str = "r1", thread: str = "t1", **payload: Any) -> Event:
    return Event(type_, run, thread, seq, "2024-01-01T00:00:00Z", payload)


def good_run(first_seq: int = 1, run: str = "r1") -> list[Event]:
    s = first_seq
    return [
        event(s, "agent_started", run, agent="supervisor"),
        event(s + 1, "agent_thinking", run, agent="supervisor", text="planning"),
        event(s + 2, "agent_thinking", run, agent="data", text="calculating"),
        event(s + 3, "tool_executing", run, call_id="c1", tool="calculator",
              args={"a": 6, "op": "*", "b": 7}),
        event(s + 4, "tool_completed", run, call_id="c1", tool="calculator", status="ok",
              result={"value": 42}),
        event(s + 5, "agent_completed", run, status="completed", response="6 * 7 = 42"),
    ]


def test_a_well_formed_run_accepts_the_golden_path() -> None:
    assert problem_of(a_well_formed_run(), good_run()) is None


def test_a_tool_call_left_open_names_the_call_and_what_came_instead() -> None:
    events = [e for e in good_run() if e.type != "tool_completed"]
    assert problem_of(a_well_formed_run(), events) == (
        "expected tool_completed after tool_executing for call c1, got agent_completed"
    )


def test_a_second_completion_of_a_call_is_reported() -> None:
    events = good_run()
    events.insert(5, events[4])
    assert problem_of(a_well_formed_run(), events) == "tool_completed arrived twice for call c1"


def test_anything_after_the_end_of_a_run_is_reported() -> None:
    events = good_run() + [event(7, "agent_completed", status="completed", response="again")]
    assert problem_of(a_well_formed_run(), events) == (
        "agent_completed (seq 7, completed) arrived after agent_completed ended the run"
    )


def test_a_run_must_begin_with_agent_started_and_show_thinking() -> None:
    assert problem_of(a_well_formed_run(), good_run()[1:]) == (
        "the run began with agent_thinking (seq 2, supervisor), not agent_started"
    )
    silent = [e for e in good_run() if e.type != "agent_thinking"]
    assert "no agent said what it was doing" in str(problem_of(a_well_formed_run(), silent))
    assert problem_of(a_well_formed_run(), []) == "no events arrived"


def test_a_run_that_never_ends_is_reported() -> None:
    assert problem_of(a_well_formed_run(), good_run()[:5]) == (
        "the run never ended: the last event was tool_completed (seq 5, calculator, call c1, ok)"
    )


def test_numbering_gaps_repeats_and_start() -> None:
    events = good_run()
    assert problem_of(numbered_without_gaps(1), events) is None
    gap = events[:2] + events[3:]
    assert problem_of(numbered_without_gaps(), gap) == "seq jumped from 2 to 4: 3 missing"
    repeat = events[:3] + events[2:]
    assert problem_of(numbered_without_gaps(), repeat) == "seq 3 arrived twice"
    assert problem_of(numbered_without_gaps(1), good_run(3)) == (
        "numbering began at seq 3, expected 1"
    )


def test_agents_in_order() -> None:
    assert problem_of(worked_on_by(["data"]), good_run()) is None
    assert problem_of(worked_on_by(["triage", "data"]), good_run()) == (
        "the agents that worked were data"
    )


def test_tool_use_with_arguments_status_and_result() -> None:
    run = good_run()
    assert problem_of(used_tool("calculator", args={"a": 6, "op": "*", "b": 7}, status="ok"), run) is None
    assert problem_of(used_tool("lookup"), run) == (
        "the lookup tool was not used (tools used: calculator)"
    )
    assert problem_of(used_tool("calculator", args={"a": 1, "op": "+", "b": 1}), run) == (
        "the calculator tool was given {'a': 6, 'op': '*', 'b': 7}"
    )
    assert problem_of(used_tool("calculator", status="error"), run) == (
        "the calculator tool finished ok {'value': 42}"
    )


def test_how_a_run_ended() -> None:
    assert problem_of(ended("completed", response=equal_to("6 * 7 = 42")), good_run()) is None
    assert problem_of(ended("completed", response=equal_to("42")), good_run()) == (
        "the answer was '6 * 7 = 42'"
    )
    failed = good_run()[:3] + [
        event(4, "agent_completed", status="failed", response="",
              error={"code": "agent_error", "message": "triage broke"})
    ]
    assert problem_of(ended("failed", error_code="agent_error"), failed) is None
    assert problem_of(ended("completed"), failed).startswith("the run ended failed")  # type: ignore[union-attr]


def test_events_of_someone_elses_conversation_are_named() -> None:
    mine = good_run()
    theirs = [event(1, "agent_started", run="r9", thread="t9", agent="supervisor")]
    assert problem_of(only_from(["t1"]), mine) is None
    assert problem_of(only_from(["t1"]), mine + theirs) == (
        "1 event(s) of another conversation arrived, first agent_started (seq 1, supervisor) "
        "of conversation t9"
    )


def test_exact_replay_of_missed_events() -> None:
    run = good_run()
    assert problem_of(exactly_seqs([3, 4, 5, 6]), run[2:]) is None
    assert problem_of(exactly_seqs([3, 4, 5, 6]), run[1:]) == "got seq 2..6; not expected 2"
    assert problem_of(exactly_seqs([3, 4, 5, 6]), run[2:3] + run[2:5]) == (
        "got seq 3, 3, 4, 5; missing 6; repeated 3"
    )


def test_the_same_events_again() -> None:
    assert problem_of(the_same_events_as(good_run()), good_run()) is None
    rerun = good_run(7, run="r2")
    assert problem_of(the_same_events_as(good_run()), rerun).startswith(  # type: ignore[union-attr]
        "a new request was started"
    )
    mixed = [*good_run(), *good_run(7, run="r2")]
    assert problem_of(the_same_events_as(good_run()), mixed).startswith(  # type: ignore[union-attr]
        "events of other requests (r2) came too"
    )


def test_stored_conversation() -> None:
    rows = [
        {"role": "user", "content": "What is 6 * 7?"},
        {"role": "assistant", "content": "6 * 7 = 42"},
    ]
    turns = [("user", "What is 6 * 7?"), ("assistant", "6 * 7 = 42")]
    assert problem_of(a_conversation(turns), rows) is None
    assert problem_of(a_conversation(turns), rows[:1]) == "stored user: 'What is 6 * 7?'"
    assert problem_of(a_conversation(turns), []) == "nothing was stored"


def test_run_and_session_records() -> None:
    row = {"status": "running", "result": None, "error_code": None, "agents": ["data"],
           "completed_at": None}
    assert problem_of(a_run_record("running"), row) is None
    assert problem_of(a_run_record("completed", result="6 * 7 = 42"), row) == (
        "the run is recorded as running with result None, error None, agents ['data']"
    )
    assert problem_of(a_run_record("completed"), None) == "the run was not recorded at all"
    session = {"status": "active", "ended_at": None, "user_id": "alice-1"}
    assert problem_of(a_session_record("active", ended=False, user_id="alice-1"), session) is None
    assert problem_of(a_session_record("ended", ended=True), session) == (
        "the session is recorded as active, with no end time"
    )


def test_refusals() -> None:
    refusal = Refusal(401, "invalid_token", "expired", '{"error": "invalid_token", "reason": "expired"}')
    assert problem_of(refused_because("expired"), refusal) is None
    assert problem_of(refused_because("revoked"), refusal) == (
        "the gateway answered HTTP 401 with reason 'expired' "
        "(body '{\"error\": \"invalid_token\", \"reason\": \"expired\"}')"
    )

    class Greeted:
        user_id = "alice-1"

    assert problem_of(refused_because("expired"), Greeted()) == (
        "the connection opened and greeted the user as 'alice-1'"
    )


def test_cache_lifetimes_and_answers() -> None:
    assert problem_of(expiring_within(3_599_000, 3_600_000), 3_599_500) is None
    assert problem_of(expiring_within(3_599_900, 3_600_000), 3_599_000) == (
        "the entry expires in 3599.000 s")
    assert problem_of(expiring_within(3_599_000, 3_600_000), 3_600_001) == (
        "the entry expires in 3600.001 s")
    assert problem_of(expiring_within(3000, 3600), -1) == "the entry never expires"
    assert problem_of(expiring_within(3000, 3600), -2) == "the entry is not in the cache"
    answer = {"status": "completed", "response": "6 * 7 = 42", "thread_id": "t1"}
    matcher = a_cached_answer("completed", "6 * 7 = 42", "t1", (86_399_000, 86_400_000))
    assert problem_of(matcher, (answer, 86_399_990)) is None
    assert problem_of(matcher, (None, -2)) == "the answer is not in the cache"
    assert problem_of(matcher, (answer, -1)) == "the entry never expires"


def test_a_promised_lifetime_is_bounded_by_the_time_since_the_write_could_have_been() -> None:
    from support.actors.questions.cached import ROUNDING_MS, promised
    assert promised(3600, written_after=10.0, read_at=10.25) == (
        3_600_000 - 250 - ROUNDING_MS, 3_600_000)


def test_cache_entries_stay_in_their_owners_space() -> None:
    entries = {
        "gp:alice-1:session:s1": {"user_id": "alice-1"},
        "gp:alice-1:conn:c1": {"session_id": "s1"},
        "gp:alice-1:result:r1": {"status": "completed", "response": "4", "thread_id": "t1"},
    }
    matcher = cache_entries_of("alice-1", sessions=["s1"], connections=["c1"], runs=["r1"],
                               threads=["t1"])
    assert problem_of(matcher, entries) is None
    stray = dict(entries) | {"gp:alice-1:result:r9": {"thread_id": "t9"}}
    assert problem_of(matcher, stray) == (
        "gp:alice-1:result:r9 is about a result that is not the user's own"
    )
    crossed = dict(entries) | {"gp:alice-1:result:r1": {"thread_id": "t9"}}
    assert problem_of(matcher, crossed).startswith(  # type: ignore[union-attr]
        "gp:alice-1:result:r1 holds an answer in another conversation"
    )
    missing = {k: v for k, v in entries.items() if ":conn:" not in k}
    assert problem_of(matcher, missing) == "no cache entry for the user's conn c1"


def test_working_notes_kept_and_removed() -> None:
    rows = [{"session_id": "s2", "key": "run:r2:plan"}]
    assert problem_of(working_notes("s2", ["r2"], kept=True), rows) is None
    assert problem_of(working_notes("s1", [], kept=False), rows) is None
    assert problem_of(working_notes("s2", [], kept=False), rows) == (
        "the session's working notes are still stored: run:r2:plan"
    )
    assert problem_of(working_notes("s1", ["r1"], kept=True), rows) == (
        "working notes missing: run:r1:plan; stored: run:r2:plan of session s2"
    )
