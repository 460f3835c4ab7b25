"""Sub-agents and the registry that names them.

A sub-agent gets the run's scratchpad (`Work`), a tool dispatcher and a `think` callback
(which becomes `agent_thinking`). Agents are stateless objects shared read-only by all
runs; everything a run accumulates lives in its own `Work`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chat.context import ExecutionContext
from chat.engine.tools import ToolDispatcher, show_number

Think = Callable[[str], Awaitable[None]]


class AgentError(Exception):
    """A sub-agent cannot do its part; the run ends `failed` with code `agent_error`."""


@dataclass
class Work:
    """The scratchpad of one run: notes the sub-agents pass on, and the final response."""

    context: ExecutionContext
    notes: dict[str, Any] = field(default_factory=dict)
    response: str | None = None


class SubAgent(Protocol):
    name: str

    async def act(self, work: Work, tools: ToolDispatcher, think: Think) -> None:
        """Do this agent's part of the run, recording results in `work`."""


class TriageAgent:
    name = "triage"

    async def act(self, work: Work, tools: ToolDispatcher, think: Think) -> None:
        if work.context.plan.intent == "failure":
            await think("Checking the request before routing it.")
            raise AgentError("triage failed on purpose: the user asked to simulate a failure")
        await think("Classifying the request.")
        outcome = await tools.call("classify", {"text": work.context.content})
        work.notes["classification"] = outcome.result


class DataAgent:
    name = "data"

    async def act(self, work: Work, tools: ToolDispatcher, think: Think) -> None:
        plan = work.context.plan
        if plan.intent == "arithmetic":
            await self._calculate(work, tools, think)
        elif plan.intent == "wait":
            seconds = plan.param("seconds")
            await think(f"Waiting {show_number(seconds)} seconds as asked.")
            outcome = await tools.call("wait", {"seconds": seconds})
            if outcome.ok:
                work.response = f"Waited {show_number(seconds)} seconds"
            else:
                await think(f"The wait was refused: {outcome.result['error']}.")
                work.response = (f"Waiting {show_number(seconds)} seconds cannot be done: "
                                 f"{outcome.result['error']}.")
        else:
            classification = work.notes.get("classification", {})
            await think("Looking up products, plans and usage.")
            outcome = await tools.call(
                "lookup", {"topic": classification.get("topic", "general"),
                           "keywords": classification.get("keywords", [])}
            )
            work.notes["data"] = outcome.result

    async def _calculate(self, work: Work, tools: ToolDispatcher, think: Think) -> None:
        plan = work.context.plan
        a, op, b = plan.param("a"), plan.param("op"), plan.param("b")
        expression = f"{show_number(a)} {op} {show_number(b)}"
        await think(f"Calculating {expression}.")
        outcome = await tools.call("calculator", {"a": a, "op": op, "b": b})
        if outcome.ok:
            work.response = f"{expression} = {show_number(outcome.result['value'])}"
        else:
            await think(f"The calculator refused: {outcome.result['error']}.")
            work.response = (
                f"{expression} cannot be done: division by zero is undefined."
                if outcome.result.get("error") == "division by zero"
                else f"{expression} cannot be calculated: {outcome.result['error']}."
            )


class OptimisationAgent:
    name = "optimisation"

    async def act(self, work: Work, tools: ToolDispatcher, think: Think) -> None:
        data = work.notes.get("data", {})
        await think("Working out what the usage costs and what could be saved.")
        outcome = await tools.call(
            "cost_calculator",
            {"products": data.get("products", []), "usage": data.get("usage", []),
             "plans": data.get("plans", [])},
        )
        work.notes["costs"] = outcome.result


class ReportingAgent:
    name = "reporting"

    async def act(self, work: Work, tools: ToolDispatcher, think: Think) -> None:
        await think("Writing the answer.")
        data = work.notes.get("data", {})
        products = ", ".join(p["name"] for p in data.get("products", [])) or "your products"
        costs = work.notes.get("costs")
        if costs:
            work.response = (
                f"Your usage of {products} costs about ${costs['current_monthly_cost']:.2f} a "
                f"month. Switching off idle time and taking a "
                f"{round(costs['discount'] * 100)}% committed-use discount would bring it to "
                f"about ${costs['optimised_monthly_cost']:.2f}, saving "
                f"${costs['monthly_saving']:.2f} a month."
            )
        else:
            hours = sum(u["hours"] for u in data.get("usage", []))
            work.response = (
                f"Here is what I found about {products}: {hours} hours used last month. "
                f"Plans available: {', '.join(p['name'] for p in data.get('plans', []))}."
            )


class AgentRegistry:
    """Sub-agents by name; read-only after construction."""

    def __init__(self, agents: Mapping[str, SubAgent]) -> None:
        self._agents = dict(agents)

    def get(self, name: str) -> SubAgent:
        return self._agents[name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._agents)


def default_registry() -> AgentRegistry:
    agents: list[SubAgent] = [TriageAgent(), DataAgent(), OptimisationAgent(), ReportingAgent()]
    return AgentRegistry({agent.name: agent for agent in agents})
