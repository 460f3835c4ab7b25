"""The rules of contract v1 (DESIGN §5) as functions without I/O: each returns the first
rule a frame, a run or a thread breaks, as a sentence a product reader understands, or
None. The matchers (`support.matchers`) and any other transport's judge (a load tool)
call them, so a rule is written once.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from support.contract import ERROR_CODES, EVENT_TYPES, GREETING
from support.wire.codec import Event

__all__ = ["field_problem", "frame_problem", "numbering_problem", "run_problem",
           "thread_problem"]


def run_problem(events: Sequence[Event]) -> str | None:
    """The first rule of a run its events break, or None: agent_started first, some
    agent_thinking, every tool_executing answered by one tool_completed for the same call,
    one agent_completed, last."""
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


def numbering_problem(events: Sequence[Event], first: int | None = None) -> str | None:
    """The first break in `seq` growing by one (from `first`, if given), or None."""
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


def _text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _utc_instant(value: Any) -> datetime | None:
    """The instant an ISO 8601 UTC timestamp names, or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    offset = parsed.utcoffset()
    return parsed if offset is not None and offset.total_seconds() == 0 else None


# What each event's payload must carry: field -> (check, what it must be).
_PAYLOADS: dict[str, dict[str, tuple[Any, str]]] = {
    "agent_started": {"agent": (_text, "an agent name")},
    "agent_thinking": {"agent": (_text, "an agent name"), "text": (_text, "a text")},
    "tool_executing": {"call_id": (_text, "a call id"), "tool": (_text, "a tool name"),
                       "args": (lambda v: isinstance(v, dict), "an object")},
    "tool_completed": {"call_id": (_text, "a call id"), "tool": (_text, "a tool name"),
                       "status": (lambda v: v in ("ok", "error"), "ok or error")},
    "agent_completed": {"status": (lambda v: v in ("completed", "failed"),
                                   "completed or failed"),
                        "response": (lambda v: isinstance(v, str), "a text")},
}


def field_problem(event: Event) -> str | None:
    """The first field of a server event that is missing or not what §5 names."""
    frame = event.frame
    label = f"{event.type} (seq {frame.get('seq')!r})"
    if event.type not in EVENT_TYPES:
        return f"{label} is not an event type of the contract"
    for name, ok in (("run_id", _text), ("thread_id", _text),
                     ("seq", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
                     ("timestamp", lambda v: _utc_instant(v) is not None),
                     ("payload", lambda v: isinstance(v, dict))):
        if not ok(frame.get(name)):
            return f"{label} has {name} {frame.get(name)!r}, not what the contract names"
    payload = event.payload
    for name, (ok, wanted) in _PAYLOADS[event.type].items():
        if not ok(payload.get(name)):
            return f"{label} has {name} {payload.get(name)!r} in its payload, not {wanted}"
    if event.type == "tool_completed":
        if "result" not in payload:
            return f"{label} has no result"
        if payload["status"] == "error" and not (
                isinstance(payload["result"], dict) and _text(payload["result"].get("error"))):
            return f"{label} failed without an error text in its result: {payload['result']!r}"
    if event.type == "agent_completed" and payload["status"] == "failed":
        error = payload.get("error")
        if not (isinstance(error, dict) and _text(error.get("code"))
                and _text(error.get("message"))):
            return f"{label} failed without an error code and message: {error!r}"
    return None


def frame_problem(frame: Mapping[str, Any]) -> str | None:
    """The first field of a greeting or an error frame that is not what §5 names."""
    kind = frame.get("type")
    if kind == GREETING:
        for name in ("connection_id", "user_id"):
            if not _text(frame.get(name)):
                return f"the greeting has {name} {frame.get(name)!r}"
    elif kind == "error":
        if frame.get("code") not in ERROR_CODES:
            return f"an error frame has code {frame.get('code')!r}, not one of the contract"
        if not _text(frame.get("message")):
            return f"the error {frame.get('code')!r} has message {frame.get('message')!r}"
    return None


def thread_problem(events: Sequence[Event]) -> str | None:
    """The first rule a conversation breaks, judged on everything one connection received
    of it (replays included): a seq always means the same event, the seqs seen run
    without a gap (a connection sees a conversation from where it joined or resumed),
    timestamps never go back, every run seen from its start to its ending is well formed,
    and after a run's ending the next seq starts a new run."""
    by_seq: dict[int, Event] = {}
    for event in events:
        seen = by_seq.setdefault(event.seq, event)
        if seen != event:
            return (f"seq {event.seq} arrived as {seen.describe()} of run {seen.run_id} and "
                    f"again as {event.describe()} of run {event.run_id}")
    ordered = [by_seq[seq] for seq in sorted(by_seq)]
    for before, after in itertools.pairwise(ordered):
        if after.seq > before.seq + 1:
            return (f"seq jumped from {before.seq} to {after.seq}: "
                    f"{', '.join(str(n) for n in range(before.seq + 1, after.seq))} never "
                    "arrived")
        earlier, later = _utc_instant(before.timestamp), _utc_instant(after.timestamp)
        if earlier is not None and later is not None and later < earlier:
            return (f"the timestamp went back from {before.timestamp} (seq {before.seq}) to "
                    f"{after.timestamp} (seq {after.seq})")
        if before.type == "agent_completed" and after.seq == before.seq + 1 and not (
                after.type == "agent_started" and after.run_id != before.run_id):
            return (f"{after.describe()} of run {after.run_id} followed the ending of run "
                    f"{before.run_id}, where a new run's agent_started belongs")
    runs: dict[str, list[Event]] = {}
    for event in ordered:
        runs.setdefault(event.run_id, []).append(event)
    for run_id, run in runs.items():
        if run[0].type == "agent_started" and any(e.type == "agent_completed" for e in run):
            problem = run_problem(run)
            if problem is not None:
                return f"run {run_id}: {problem}"
        elif any(e.type == "agent_completed" for e in run):
            after = [e for e in run if e.seq > next(
                x.seq for x in run if x.type == "agent_completed")]
            if after:
                return f"{after[0].describe()} arrived after agent_completed ended run {run_id}"
    return None
