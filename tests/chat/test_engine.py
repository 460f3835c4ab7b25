"""The event rules of wire contract v1 (§5) hold for any message, checked on the engine
alone over many generated messages, and the intents give the answers clients rely on."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chat.context import ExecutionContext
from chat.engine import EngineFactory, EventType, RecordingNotifier, default_tools


async def _no_wait(seconds: float) -> None:
    """The wait tool's clock for these tests: the run goes on at once."""


FACTORY = EngineFactory(tools=default_tools(sleep=_no_wait))
NUMBER = st.one_of(st.integers(-10_000, 10_000),
                   st.decimals(-1000, 1000, places=2, allow_nan=False, allow_infinity=False))


def _number_text(value: Any) -> str:
    return str(value)


ARITHMETIC = st.builds(lambda a, op, b: f"What is {_number_text(a)} {op} {_number_text(b)}?",
                       NUMBER, st.sampled_from("+-*/"), NUMBER)
MESSAGES = st.one_of(
    ARITHMETIC,
    st.builds(lambda a: f"What is {a} / 0?", st.integers(-100, 100)),
    st.builds(lambda n: f"Wait for {n} seconds", st.integers(0, 120)),
    st.just("Simulate a failure"),
    st.sampled_from(["How can I reduce the cost of my GPU usage?", "Which plans are there?",
                     "Make my storage cheaper", "hello"]),
    st.text(min_size=1, max_size=200),
)


def run(content: str) -> tuple[list[tuple[EventType, dict[str, Any]]], Any]:
    notifier = RecordingNotifier()
    context = ExecutionContext("alice", "thr_1", "run_1", "msg_1", None, content,  # type: ignore[arg-type]
                               FACTORY.plan(content))
    outcome = asyncio.run(FACTORY.create(context, notifier).run())
    return notifier.events, outcome


def check_invariants(events: list[tuple[EventType, dict[str, Any]]]) -> None:
    kinds = [kind for kind, _ in events]
    assert kinds[0] is EventType.AGENT_STARTED and events[0][1] == {"agent": "supervisor"}
    assert kinds.count(EventType.AGENT_STARTED) == 1
    assert kinds[-1] is EventType.AGENT_COMPLETED
    assert kinds.count(EventType.AGENT_COMPLETED) == 1
    assert EventType.AGENT_THINKING in kinds
    open_calls: dict[str, str] = {}
    closed: set[str] = set()
    for kind, payload in events:
        if kind is EventType.TOOL_EXECUTING:
            assert payload["call_id"] not in open_calls and payload["call_id"] not in closed
            open_calls[payload["call_id"]] = payload["tool"]
        elif kind is EventType.TOOL_COMPLETED:
            assert open_calls.pop(payload["call_id"]) == payload["tool"]
            assert payload["status"] in ("ok", "error")
            closed.add(payload["call_id"])
        elif kind is EventType.AGENT_THINKING:
            assert payload["agent"] in ("supervisor", "triage", "data", "optimisation",
                                        "reporting") and payload["text"]
    assert not open_calls, f"tool calls never completed: {open_calls}"
    final = events[-1][1]
    assert final["status"] in ("completed", "failed")
    assert isinstance(final["response"], str)
    if final["status"] == "failed":
        assert final["error"]["code"] and final["error"]["message"]
    else:
        assert final["response"] and "error" not in final


@settings(max_examples=150, deadline=None)
@given(MESSAGES)
def test_event_rules_hold_for_any_message(content: str) -> None:
    events, outcome = run(content)
    check_invariants(events)
    assert events[-1][1]["status"] == outcome.status
    assert events[-1][1]["response"] == outcome.response
    announced = [p["agent"] for k, p in events
                 if k is EventType.AGENT_THINKING and p["agent"] != "supervisor"]
    assert list(dict.fromkeys(announced)) == list(outcome.agents)


@settings(max_examples=100, deadline=None)
@given(ARITHMETIC)
def test_arithmetic_answers_with_the_calculator(content: str) -> None:
    events, outcome = run(content)
    tools = [p for k, p in events if k is EventType.TOOL_COMPLETED]
    assert [t["tool"] for t in tools] == ["calculator"]
    assert outcome.agents == ("data",)
    if tools[0]["status"] == "ok":
        value = tools[0]["result"]["value"]
        assert outcome.response.endswith(f"= {value}")
        assert not str(value).endswith(".0")
    else:
        assert tools[0]["result"] == {"error": "division by zero"}
        assert outcome.status == "completed" and "division by zero" in outcome.response


def test_documented_intents() -> None:
    assert run("What is 2 + 2?")[1].response == "2 + 2 = 4"
    assert run("What is -1.5 * 2?")[1].response == "-1.5 * 2 = -3"
    assert run("What is 0.1 + 0.2?")[1].response == "0.1 + 0.2 = 0.3"
    events, outcome = run("Wait for 45 seconds")
    assert events[3][1]["args"] == {"seconds": 30}
    assert outcome.response == "Waited 30 seconds"
    events, outcome = run("Wait for -1 seconds")
    assert events[4][1]["status"] == "error"
    assert outcome.response == ("Waiting -1 seconds cannot be done: seconds must be a "
                                "non-negative number.")
    _, outcome = run("Simulate a failure")
    assert (outcome.status, outcome.error_code, outcome.agents) == (
        "failed", "agent_error", ("triage",))
    _, outcome = run("How can I reduce the cost of my GPU usage?")
    assert outcome.agents == ("triage", "data", "optimisation", "reporting")
    _, outcome = run("What plans do you have?")
    assert outcome.agents == ("triage", "data", "reporting")


def test_engines_share_no_state_between_users() -> None:
    async def both() -> list[list[tuple[EventType, dict[str, Any]]]]:
        notifiers = [RecordingNotifier(), RecordingNotifier()]
        contexts = [ExecutionContext(user, f"thr_{user}", f"run_{user}", "m", None,  # type: ignore[arg-type]
                                     text, FACTORY.plan(text))
                    for user, text in (("alice", "What is 1 + 1?"), ("bob", "Wait for 1 seconds"))]
        await asyncio.gather(*(FACTORY.create(c, n).run() for c, n in zip(contexts, notifiers,
                                                                          strict=True)))
        return [n.events for n in notifiers]

    alice, bob = asyncio.run(both())
    assert alice[-1][1]["response"] == "1 + 1 = 2"
    assert bob[-1][1]["response"] == "Waited 1 seconds"
    assert {p.get("call_id") for _, p in alice}.isdisjoint(
        {p.get("call_id") for _, p in bob} - {None})
