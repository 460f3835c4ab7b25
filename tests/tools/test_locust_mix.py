"""The outcomes the load's questions promise (`tools.load.mix`), judged without a gateway:
each judge accepts the run its intent promises and names what is wrong with any other.
(That the real service's runs pass them is checked by tests/tools/test_locust.py.)"""

from __future__ import annotations

import random
from typing import Any

from support.wire.codec import Event, RunSeen
from tools.load.mix import (
    MOST_QUESTIONS,
    advised,
    answered,
    conversation,
    explained_division_by_zero,
    failed_by_an_agent,
    question,
)


def run(*events: tuple[str, dict[str, Any]]) -> RunSeen:
    return RunSeen("r1", "t1", [Event(kind, "r1", "t1", seq, None, payload)
                                for seq, (kind, payload) in enumerate(events, start=1)])


def ended(status: str, response: str = "", **more: Any) -> tuple[str, dict[str, Any]]:
    return "agent_completed", {"status": status, "response": response, **more}


def tool(name: str, status: str) -> tuple[str, dict[str, Any]]:
    return "tool_completed", {"call_id": "c1", "tool": name, "status": status}


def test_an_answer_is_the_one_promised_and_completed() -> None:
    judge = answered("6 * 7 = 42")
    assert judge(run(ended("completed", "6 * 7 = 42"))) is None
    assert judge(run(ended("completed", "6 * 7 = 41"))) == \
        "expected the answer '6 * 7 = 42', got '6 * 7 = 41'"
    failed = ended("failed", error={"code": "agent_error", "message": "boom"})
    assert judge(run(failed)) == "the run ended failed (agent_error: boom), not completed"


def test_advice_needs_its_tool_done_without_error_and_an_answer() -> None:
    judge = advised("cost_calculator")
    assert judge(run(tool("cost_calculator", "ok"), ended("completed", "Save 30%"))) is None
    assert judge(run(tool("lookup", "ok"), ended("completed", "Save 30%"))) == \
        "no tool_completed of cost_calculator with status ok"
    assert judge(run(tool("cost_calculator", "ok"), ended("completed", ""))) == \
        "the run completed with an empty answer"


def test_a_division_by_zero_is_a_failed_tool_and_an_explanation() -> None:
    explained = "5 / 0 cannot be done: division by zero is undefined."
    assert explained_division_by_zero(
        run(tool("calculator", "error"), ended("completed", explained))) is None
    assert explained_division_by_zero(
        run(tool("calculator", "ok"), ended("completed", explained))) == \
        "no tool_completed of calculator with status error"


def test_a_simulated_failure_must_end_failed_by_an_agent() -> None:
    error = {"code": "agent_error", "message": "triage failed"}
    assert failed_by_an_agent(run(ended("failed", error=error))) is None
    assert "expected the run to end failed with agent_error" in str(
        failed_by_an_agent(run(ended("completed", "fine"))))


def test_a_conversation_is_one_to_a_few_questions_of_every_intent() -> None:
    rng = random.Random(7)
    lengths = {len(conversation(rng)) for _ in range(200)}
    assert lengths == set(range(1, MOST_QUESTIONS + 1))
    texts = {question(rng).text for _ in range(500)}
    assert {"Simulate a failure", "What is 5 / 0?",
            "How can I reduce the cost of my GPU usage?"} <= texts
    assert any(t.startswith("What is ") and "/" not in t for t in texts)
