"""AG-UI without I/O: events validated by AG-UI's own models, turned into the product's
vocabulary, and the rules a stream keeps (DESIGN §5.2).

`Translation` reads one run's AG-UI events, in order, and yields the v1-shaped frames the
rest of the harness judges (`support.wire.codec.Event`): RUN_STARTED is the run starting,
each REASONING message an agent at work (the agent is the open step's name), a tool call
(TOOL_CALL_START/ARGS/END) a tool starting and its TOOL_CALL_RESULT that tool finishing
(a JSON object with an `error` key is a failed call: AG-UI results carry no status), the
TEXT_MESSAGE the answer, RUN_FINISHED or RUN_ERROR the one ending. Where the agent sends
the v1 event an AG-UI event came from (`rawEvent`, as the reference service does), its
`seq` and `timestamp` are kept; otherwise `seq` reads -1.

`stream_problem` returns the first rule a stream breaks, as a sentence naming the rule, or
None: AG-UI's own (RUN_STARTED first, nothing after the terminal event, messages, tool
calls and steps opened and closed in pairs, none open at RUN_FINISHED) and the suite's on
top (RUN_FINISHED's ids are RUN_STARTED's, every tool call has one result, arguments are
JSON, exactly one terminal event ends the stream).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ag_ui.core import Event as AguiEvent
from pydantic import TypeAdapter, ValidationError

__all__ = ["NOT_AGUI", "Translation", "stream_problem", "validated"]

NOT_AGUI = "<not an AG-UI event>"
_EVENTS: TypeAdapter[Any] = TypeAdapter(AguiEvent)
TERMINAL = ("RUN_FINISHED", "RUN_ERROR")


def validated(data: str) -> dict[str, Any]:
    """One `data:` payload as an AG-UI event (its wire form), or a `<not an AG-UI event>`
    pseudo-event saying why AG-UI's models refuse it."""
    try:
        raw = json.loads(data)
    except ValueError:
        return {"type": NOT_AGUI, "why": "it is not JSON", "data": data[:200]}
    try:
        _EVENTS.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return {"type": NOT_AGUI, "why": f"{where}: {first['msg']}", "data": data[:200]}
    return raw


class Translation:
    """One run's AG-UI events turned into v1-shaped frames, in order."""

    def __init__(self) -> None:
        self.run_id = "?"
        self.thread_id = "?"
        self.step: str | None = None
        self._tools: dict[str, str] = {}
        self._args: dict[str, list[str]] = {}
        self._reasoning: dict[str, list[str]] = {}
        self._text: list[str] = []

    def frames(self, event: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        kind = event.get("type")
        if kind == "RUN_STARTED":
            self.run_id, self.thread_id = str(event.get("runId")), str(event.get("threadId"))
            yield self._frame("agent_started", {}, event)
        elif kind == "STEP_STARTED":
            self.step = str(event.get("stepName"))
        elif kind == "STEP_FINISHED":
            self.step = None
        elif kind == "REASONING_MESSAGE_START":
            self._reasoning[str(event.get("messageId"))] = []
        elif kind == "REASONING_MESSAGE_CONTENT":
            self._reasoning.setdefault(str(event.get("messageId")), []).append(
                str(event.get("delta")))
        elif kind == "REASONING_MESSAGE_END":
            text = "".join(self._reasoning.pop(str(event.get("messageId")), []))
            yield self._frame("agent_thinking", {"agent": self.step or "agent", "text": text},
                              event)
        elif kind == "TOOL_CALL_START":
            call = str(event.get("toolCallId"))
            self._tools[call], self._args[call] = str(event.get("toolCallName")), []
        elif kind == "TOOL_CALL_ARGS":
            self._args.setdefault(str(event.get("toolCallId")), []).append(
                str(event.get("delta")))
        elif kind == "TOOL_CALL_END":
            call = str(event.get("toolCallId"))
            yield self._frame("tool_executing", {
                "call_id": call, "tool": self._tools.get(call),
                "args": _json_or_text("".join(self._args.get(call, [])))}, event)
        elif kind == "TOOL_CALL_RESULT":
            call = str(event.get("toolCallId"))
            result = _json_or_text(str(event.get("content")))
            failed = isinstance(result, dict) and "error" in result
            yield self._frame("tool_completed", {
                "call_id": call, "tool": self._tools.get(call),
                "status": "error" if failed else "ok",
                "result": result if isinstance(result, dict) else {"value": result}}, event)
        elif kind == "TEXT_MESSAGE_CONTENT":
            self._text.append(str(event.get("delta")))
        elif kind == "RUN_FINISHED":
            yield self._frame("agent_completed",
                              {"status": "completed", "response": "".join(self._text)}, event)
        elif kind == "RUN_ERROR":
            yield self._frame("agent_completed", {
                "status": "failed", "response": "",
                "error": {"code": event.get("code"), "message": event.get("message")}}, event)

    def _frame(self, kind: str, payload: dict[str, Any],
               event: Mapping[str, Any]) -> dict[str, Any]:
        raw = event.get("rawEvent")
        raw = raw if isinstance(raw, Mapping) else {}
        seq = raw.get("seq")
        return {"type": kind, "run_id": self.run_id, "thread_id": self.thread_id,
                "seq": seq if isinstance(seq, int) else -1,
                "timestamp": raw.get("timestamp", event.get("timestamp")), "payload": payload}


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


# -- the rules of a stream --------------------------------------------------------------


def stream_problem(events: Sequence[Mapping[str, Any]]) -> str | None:
    """The first rule of AG-UI (and of §5.2) that one run's stream breaks, or None."""
    if not events:
        return "no AG-UI event arrived"
    for index, event in enumerate(events):
        if event.get("type") == NOT_AGUI:
            return (f"event {index + 1} is not an AG-UI event ({event.get('why')}): "
                    f"{event.get('data')}")
    if events[0].get("type") != "RUN_STARTED":
        return f"the stream began with {events[0].get('type')}, not RUN_STARTED"
    started = events[0]
    open_messages: set[str] = set()
    open_reasoning: set[str] = set()
    open_calls: dict[str, str] = {}
    ended_calls: set[str] = set()
    results: dict[str, int] = {}
    open_steps: list[str] = []
    for index, event in enumerate(events[1:], start=2):
        kind = event.get("type")
        if kind in TERMINAL:
            after = events[index:]
            if after:
                return f"{after[0].get('type')} arrived after {kind} ended the run"
            if kind == "RUN_ERROR":
                return None
            ids = (event.get("threadId"), event.get("runId"))
            if ids != (started.get("threadId"), started.get("runId")):
                return (f"RUN_FINISHED names thread {ids[0]} and run {ids[1]}, but RUN_STARTED "
                        f"named thread {started.get('threadId')} and run {started.get('runId')}")
            still_open = ([f"text message {m}" for m in sorted(open_messages)]
                          + [f"reasoning {m}" for m in sorted(open_reasoning)]
                          + [f"tool call {c}" for c in open_calls]
                          + [f"step {s}" for s in open_steps])
            if still_open:
                return f"RUN_FINISHED arrived with {', '.join(still_open)} still open"
            unanswered = [c for c in ended_calls if results.get(c, 0) == 0]
            if unanswered:
                return f"tool call {unanswered[0]} never got its TOOL_CALL_RESULT"
            return None
        problem = _pairing_problem(event, open_messages, open_reasoning, open_calls,
                                   ended_calls, results, open_steps)
        if problem:
            return problem
        if kind == "RUN_STARTED":
            return "RUN_STARTED arrived twice"
    return f"the stream ended after {events[-1].get('type')}, without RUN_FINISHED or RUN_ERROR"


def _pairing_problem(event: Mapping[str, Any], messages: set[str], reasoning: set[str],
                     calls: dict[str, str], ended: set[str], results: dict[str, int],
                     steps: list[str]) -> str | None:
    kind = str(event.get("type"))
    if kind.startswith("TEXT_MESSAGE_"):
        return _opened_closed(kind, str(event.get("messageId")), messages, "text message")
    if kind in ("REASONING_MESSAGE_START", "REASONING_MESSAGE_CONTENT",
                "REASONING_MESSAGE_END"):
        return _opened_closed(kind, str(event.get("messageId")), reasoning, "reasoning message")
    if kind in ("TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END"):
        call = str(event.get("toolCallId"))
        if kind == "TOOL_CALL_START":
            if call in calls or call in ended:
                return f"tool call {call} was started twice"
            calls[call] = ""
        elif call not in calls:
            return f"{kind} for tool call {call}, which is not open"
        elif kind == "TOOL_CALL_ARGS":
            calls[call] += str(event.get("delta"))
        else:
            try:
                json.loads(calls.pop(call) or "{}")
            except ValueError:
                return f"the arguments of tool call {call} are not JSON"
            ended.add(call)
        return None
    if kind == "TOOL_CALL_RESULT":
        call = str(event.get("toolCallId"))
        if call not in ended:
            return f"TOOL_CALL_RESULT for tool call {call} before its TOOL_CALL_END"
        results[call] = results.get(call, 0) + 1
        if results[call] > 1:
            return f"tool call {call} got {results[call]} results"
        return None
    if kind == "STEP_STARTED":
        steps.append(str(event.get("stepName")))
    elif kind == "STEP_FINISHED":
        name = str(event.get("stepName"))
        if name not in steps:
            return f"STEP_FINISHED for step {name}, which is not open"
        steps.remove(name)
    return None


def _opened_closed(kind: str, message: str, open_ids: set[str], what: str) -> str | None:
    if kind.endswith("_START"):
        if message in open_ids:
            return f"{what} {message} was started twice"
        open_ids.add(message)
    elif kind.endswith("_CHUNK"):
        return None
    elif message not in open_ids:
        return f"{kind} for {what} {message}, which is not open"
    elif kind.endswith("_END"):
        open_ids.discard(message)
    return None
