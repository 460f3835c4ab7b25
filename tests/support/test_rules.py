"""The rules of contract v1 as the audit applies them (support.wire.rules): each breaks on
the broken promise, with a sentence that names it, and passes a stream as promised."""

from __future__ import annotations

from typing import Any

import pytest

from support.wire.codec import Event
from support.wire.rules import field_problem, frame_problem, thread_problem

RUN, THREAD = "run_1", "thr_1"


def frame(seq: int, kind: str, payload: dict[str, Any], *, run: str = RUN,
          timestamp: str | None = None) -> dict[str, Any]:
    return {"type": kind, "run_id": run, "thread_id": THREAD, "seq": seq,
            "timestamp": timestamp or f"2026-12-01T08:00:{seq:02d}.000Z", "payload": payload}


def run_frames(first: int = 1, run: str = RUN) -> list[dict[str, Any]]:
    return [
        frame(first, "agent_started", {"agent": "supervisor"}, run=run),
        frame(first + 1, "agent_thinking", {"agent": "data", "text": "working it out"}, run=run),
        frame(first + 2, "tool_executing", {"call_id": "c1", "tool": "calculator",
                                            "args": {"a": 6, "op": "*", "b": 7}}, run=run),
        frame(first + 3, "tool_completed", {"call_id": "c1", "tool": "calculator",
                                            "status": "ok", "result": 42}, run=run),
        frame(first + 4, "agent_completed", {"status": "completed",
                                             "response": "6 * 7 = 42"}, run=run),
    ]


def events(frames: list[dict[str, Any]]) -> list[Event]:
    return [Event.from_frame(f) for f in frames]


def test_a_run_as_promised_breaks_no_rule() -> None:
    stream = events(run_frames() + run_frames(6, "run_2"))
    assert [field_problem(e) for e in stream] == [None] * 10
    assert thread_problem(stream) is None


@pytest.mark.parametrize(("change", "named"), [
    (lambda f: f.update(timestamp="2026-12-01T08:00:01"), "timestamp"),
    (lambda f: f.update(timestamp="2026-12-01T09:00:01+01:00"), "timestamp"),
    (lambda f: f.update(seq="1"), "seq"),
    (lambda f: f["payload"].pop("agent"), "agent"),
    (lambda f: f.update(payload=[]), "payload"),
])
def test_a_field_not_as_the_contract_names_it_is_named(change: Any, named: str) -> None:
    first = run_frames()[0]
    change(first)
    problem = field_problem(Event.from_frame(first))
    assert problem is not None and named in problem


@pytest.mark.parametrize(("index", "payload", "named"), [
    (1, {"agent": "data"}, "text"),
    (2, {"call_id": "c1", "tool": "calculator", "args": "6*7"}, "args"),
    (3, {"call_id": "c1", "tool": "calculator", "status": "fine", "result": 1}, "status"),
    (3, {"call_id": "c1", "tool": "calculator", "status": "error", "result": "no"}, "error text"),
    (4, {"status": "failed", "response": ""}, "error code"),
])
def test_a_payload_not_as_the_contract_names_it_is_named(index: int, payload: dict[str, Any],
                                                         named: str) -> None:
    broken = run_frames()[index]
    broken["payload"] = payload
    problem = field_problem(Event.from_frame(broken))
    assert problem is not None and named in problem


def test_an_event_after_the_ending_is_seen_by_what_follows_on_the_thread() -> None:
    late = frame(6, "agent_thinking", {"agent": "data", "text": "one more thing"})
    problem = thread_problem(events(run_frames() + [late]))
    assert problem is not None and "followed the ending of run run_1" in problem


def test_a_timestamp_going_back_in_a_thread_is_named() -> None:
    frames = run_frames()
    frames[3]["timestamp"] = "2026-12-01T07:59:59.000Z"
    problem = thread_problem(events(frames))
    assert problem is not None and "timestamp went back" in problem


def test_a_seq_that_means_two_events_is_named_and_an_identical_replay_is_not() -> None:
    frames = run_frames()
    assert thread_problem(events(frames + frames)) is None
    other = dict(frames[1], payload={"agent": "triage", "text": "another"})
    problem = thread_problem(events(frames + [other]))
    assert problem is not None and "seq 2 arrived as" in problem


def test_greetings_and_errors_carry_what_the_contract_names() -> None:
    assert frame_problem({"type": "connection_established", "connection_id": "c",
                          "user_id": "u"}) is None
    assert "user_id" in str(frame_problem({"type": "connection_established",
                                           "connection_id": "c"}))
    assert frame_problem({"type": "error", "code": "not_found", "message": "no"}) is None
    assert "code" in str(frame_problem({"type": "error", "code": "oops", "message": "no"}))
    assert "message" in str(frame_problem({"type": "error", "code": "not_found"}))


def test_a_seq_that_never_arrives_is_named() -> None:
    frames = run_frames()
    del frames[2]
    problem = thread_problem(events(frames))
    assert problem is not None and "seq jumped from 2 to 4: 3 never arrived" in problem
