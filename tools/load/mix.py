"""What a load user asks: the golden-path intents of README "Intents", each with the
outcome the service promises for it, and conversations of one to three questions.

Arithmetic comes most often (it is the golden path itself), then cost advice, a catalogue
question, a division by zero (a tool fails, the run still completes) and a simulated
agent failure, whose run must end `failed` with `agent_error`: that is its expected
outcome, so it counts as a success when it ends so and as a failure otherwise. Waiting
(`Wait for N seconds`) is left out, as it would only measure the wait asked for.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from support.wire.codec import RunSeen

__all__ = [
    "MIX", "MOST_QUESTIONS", "Question", "advised", "answered", "conversation",
    "explained_division_by_zero", "failed_by_an_agent", "question",
]

MOST_QUESTIONS = 3

Judge = Callable[[RunSeen], str | None]


@dataclass(frozen=True)
class Question:
    """A message and the judge of its outcome (None when the run ended as promised)."""

    text: str
    judge: Judge


def _ending(run: RunSeen) -> str | None:
    done = run.completion
    if done is None:
        return "the run has no agent_completed"
    if done.status != "completed":
        error = done.payload.get("error") or {}
        return (f"the run ended {done.status} ({error.get('code')}: {error.get('message')}), "
                "not completed")
    return None


def _used(run: RunSeen, tool: str, status: str) -> str | None:
    if any(e.type == "tool_completed" and e.tool == tool and e.status == status
           for e in run.events):
        return None
    return f"no tool_completed of {tool} with status {status}"


def answered(expected: str) -> Judge:
    def judge(run: RunSeen) -> str | None:
        if problem := _ending(run):
            return problem
        if run.response != expected:
            return f"expected the answer {expected!r}, got {run.response!r}"
        return None
    return judge


def advised(tool: str) -> Judge:
    """Completed, with `tool` done without error and some answer."""
    def judge(run: RunSeen) -> str | None:
        if problem := _ending(run) or _used(run, tool, "ok"):
            return problem
        return None if run.response else "the run completed with an empty answer"
    return judge


def explained_division_by_zero(run: RunSeen) -> str | None:
    if problem := _ending(run) or _used(run, "calculator", "error"):
        return problem
    if "division by zero" not in str(run.response):
        return f"expected an answer explaining the division by zero, got {run.response!r}"
    return None


def failed_by_an_agent(run: RunSeen) -> str | None:
    done = run.completion
    error = {} if done is None else done.payload.get("error") or {}
    if done is None or done.status != "failed" or error.get("code") != "agent_error":
        shown = None if done is None else dict(done.payload)
        return f"expected the run to end failed with agent_error, got {shown}"
    return None


def _arithmetic(rng: random.Random) -> Question:
    a, b, op = rng.randint(1, 99), rng.randint(1, 99), rng.choice("+-*")
    result = {"+": a + b, "-": a - b, "*": a * b}[op]
    return Question(f"What is {a} {op} {b}?", answered(f"{a} {op} {b} = {result}"))


def _always(fixed: Question) -> Callable[[random.Random], Question]:
    return lambda rng: fixed


# Each maker of a question, and how often it is drawn relative to the others.
MIX: tuple[tuple[Callable[[random.Random], Question], int], ...] = (
    (_arithmetic, 5),
    (_always(Question("How can I reduce the cost of my GPU usage?",
                      advised("cost_calculator"))), 2),
    (_always(Question("Which GPU instances are in the catalogue?", advised("lookup"))), 1),
    (_always(Question("What is 5 / 0?", explained_division_by_zero)), 1),
    (_always(Question("Simulate a failure", failed_by_an_agent)), 1),
)


def question(rng: random.Random) -> Question:
    """One question of the mix, drawn by weight."""
    (make,) = rng.choices([make for make, _ in MIX], weights=[weight for _, weight in MIX])
    return make(rng)


def conversation(rng: random.Random) -> list[Question]:
    """One to `MOST_QUESTIONS` questions: the first starts a conversation, the others
    continue it."""
    return [question(rng) for _ in range(rng.randint(1, MOST_QUESTIONS))]
