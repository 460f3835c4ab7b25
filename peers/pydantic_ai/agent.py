"""The peer's agent: a pydantic-ai `Agent` on a `FunctionModel` that plays README "Intents".

The script decides from the user's message which tools to call (one model response with
its reasoning and the calls), and answers from what the tools returned (the next
response). The tools are real functions run by pydantic-ai: the calculator (division by
zero is returned as the tool's error, `{"error": "division by zero"}`), the wait tool,
and the catalogue's classify, lookup and cost calculator. "Simulate a failure" raises in
the model, so pydantic-ai's adapter ends the run with RUN_ERROR.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import (
    AgentInfo,
    DeltaThinkingCalls,
    DeltaThinkingPart,
    DeltaToolCall,
    DeltaToolCalls,
    FunctionModel,
)

__all__ = ["build_agent"]

ARITHMETIC = re.compile(r"^\s*what\s+is\s+(-?\d+(?:\.\d+)?)\s*([-+*/])\s*(-?\d+(?:\.\d+)?)\s*\??\s*$",
                        re.IGNORECASE)
WAIT = re.compile(r"^\s*wait\s+for\s+(\d+(?:\.\d+)?)\s+seconds?\s*\.?\s*$", re.IGNORECASE)
COST_WORDS = ("cost", "price", "saving", "cheaper", "reduce", "optimise", "optimize")
MAX_WAIT_S = 30.0
CATALOGUE: dict[str, dict[str, Any]] = {
    "gpu": {"item": "GPU instance", "hourly_usd": 2.5, "tip": "use spot instances off-peak"},
    "storage": {"item": "object storage", "monthly_usd_per_tb": 23.0, "tip": "tier cold data"},
}


def calculator(a: float, op: str, b: float) -> dict[str, Any]:
    """Work out `a op b`; dividing by zero is an error the tool returns."""
    x, y = Decimal(str(a)), Decimal(str(b))
    if op == "/" and y == 0:
        return {"error": "division by zero"}
    try:
        value = {"+": x + y, "-": x - y, "*": x * y, "/": x / y}[op]
    except (KeyError, InvalidOperation):
        return {"error": f"unknown operator {op!r}"}
    return {"value": _number(value)}


async def wait(seconds: float) -> dict[str, Any]:
    """Wait for `seconds` (at most 30)."""
    await asyncio.sleep(min(max(seconds, 0.0), MAX_WAIT_S))
    return {"waited": seconds}


def classify(text: str) -> dict[str, Any]:
    """What the question is about."""
    lowered = text.lower()
    return {"topic": "cost" if any(w in lowered for w in COST_WORDS) else "general"}


def lookup(topic: str) -> dict[str, Any]:
    """The catalogue's entries for a topic."""
    return {"topic": topic, "entries": list(CATALOGUE.values())}


def cost_calculator(hours: float) -> dict[str, Any]:
    """What GPU hours cost on demand and with the catalogue's tip."""
    hourly = CATALOGUE["gpu"]["hourly_usd"]
    return {"on_demand_usd": hours * hourly, "with_tip_usd": round(hours * hourly * 0.4, 2)}


def _number(value: Decimal | float) -> str:
    number = Decimal(str(value)).normalize()
    return format(number.quantize(Decimal(1)) if number == number.to_integral() else number, "f")


def _question(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


def _returns(messages: list[ModelMessage]) -> dict[str, Any]:
    last = messages[-1] if messages else None
    if not isinstance(last, ModelRequest):
        return {}
    return {part.tool_name: part.content for part in last.parts if isinstance(part, ToolReturnPart)}


def _plan(question: str) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """What the agent thinks, and the tool calls it makes, for a question."""
    if question.strip().lower().rstrip(".") == "simulate a failure":
        raise RuntimeError("the agent failed on purpose (Simulate a failure)")
    if match := ARITHMETIC.match(question):
        a, op, b = match.groups()
        return (f"an arithmetic question: {a} {op} {b}",
                [("calculator", {"a": float(a), "op": op, "b": float(b)})])
    if match := WAIT.match(question):
        return "the user asked me to wait", [("wait", {"seconds": float(match.group(1))})]
    calls: list[tuple[str, dict[str, Any]]] = [("classify", {"text": question})]
    topic = classify(question)["topic"]
    calls.append(("lookup", {"topic": topic}))
    if topic == "cost":
        calls.append(("cost_calculator", {"hours": 100.0}))
    return f"a {topic} question; looking it up in the catalogue", calls


def _answer(question: str, returns: dict[str, Any]) -> str:
    if match := ARITHMETIC.match(question):
        a, op, b = match.groups()
        result = returns.get("calculator") or {}
        if "error" in result:
            return (f"{a} {op} {b} cannot be done: the calculator reports "
                    f"{result['error']}, and division by zero has no answer")
        return f"{a} {op} {b} = {result.get('value')}"
    if match := WAIT.match(question):
        return f"Waited {match.group(1)} seconds"
    if "cost_calculator" in returns:
        saving = returns["cost_calculator"]
        return (f"To reduce your GPU cost, {CATALOGUE['gpu']['tip']}: 100 hours cost "
                f"${saving['on_demand_usd']:g} on demand, about ${saving['with_tip_usd']:g} so.")
    return "From the catalogue: " + "; ".join(e["item"] for e in CATALOGUE.values())


async def _script(messages: list[ModelMessage],
                  info: AgentInfo) -> AsyncIterator[str | DeltaToolCalls | DeltaThinkingCalls]:
    question, returns = _question(messages), _returns(messages)
    if returns:
        yield {0: DeltaThinkingPart(content="the tools have answered; writing the answer")}
        yield _answer(question, returns)
        return
    thought, calls = _plan(question)
    yield {0: DeltaThinkingPart(content=thought)}
    for index, (tool, args) in enumerate(calls, start=1):
        yield {index: DeltaToolCall(name=tool, json_args=json.dumps(args),
                                    tool_call_id=f"call-{index}")}


def build_agent() -> Agent[None, str]:
    agent: Agent[None, str] = Agent(FunctionModel(stream_function=_script),
                                    name="golden-path-peer")
    for tool in (calculator, wait, classify, lookup, cost_calculator):
        agent.tool_plain(tool)
    return agent
