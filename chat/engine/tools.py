"""Real tools the sub-agents call, and the dispatcher that announces each call.

The dispatcher is what keeps the contract's tool rule true: every `tool_executing` is
followed by exactly one `tool_completed` with the same `call_id`, whether the tool
answers, fails on purpose (`ToolError`, status `error`) or breaks (status `error`, then
the exception goes on to the agent).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, DivisionByZero, InvalidOperation
from importlib import resources
from typing import Any, Protocol

from chat.engine.events import EventType
from chat.engine.notifier import Notifier
from chat.ids import new_call_id

WAIT_CAP_S = 30.0
Number = int | float


class ToolError(Exception):
    """The tool refuses its input; the message goes to the caller as `result.error`."""


class Tool(Protocol):
    name: str

    async def __call__(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Run the tool; raise `ToolError` for an input it cannot handle."""


@dataclass(frozen=True)
class ToolOutcome:
    call_id: str
    status: str
    result: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def as_number(value: Decimal | float) -> Number:
    """A JSON number: integral values as int (no `.0`), others as float."""
    decimal = value if isinstance(value, Decimal) else Decimal(str(value))
    if decimal == decimal.to_integral_value():
        return int(decimal)
    return float(decimal)


def show_number(value: Number) -> str:
    """How a number reads in a response: `4`, `2.5`, `-3`."""
    return str(as_number(value))


class CalculatorTool:
    """Arithmetic on two decimals: `a op b` with op in + - * /; `/ 0` is refused."""

    name = "calculator"

    async def __call__(self, args: Mapping[str, Any]) -> dict[str, Any]:
        op = args.get("op")
        try:
            a, b = Decimal(str(args["a"])), Decimal(str(args["b"]))
        except (KeyError, InvalidOperation):
            raise ToolError("a and b must be numbers") from None
        try:
            if op == "+":
                value = a + b
            elif op == "-":
                value = a - b
            elif op == "*":
                value = a * b
            elif op == "/":
                if b == 0:
                    raise ToolError("division by zero")
                value = a / b
            else:
                raise ToolError(f"unknown operator {op!r}")
        except (DivisionByZero, InvalidOperation):
            raise ToolError("division by zero") from None
        return {"value": as_number(value)}


class WaitTool:
    """Waits the given number of seconds (at most 30): the product's slow operation."""

    name = "wait"

    def __init__(self, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self._sleep = sleep

    async def __call__(self, args: Mapping[str, Any]) -> dict[str, Any]:
        seconds = args.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise ToolError("seconds must be a non-negative number")
        seconds = min(float(seconds), WAIT_CAP_S)
        await self._sleep(seconds)
        return {"waited_seconds": as_number(seconds)}


TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "cost": ("cost", "price", "pricing", "save", "saving", "cheaper", "reduce", "bill",
             "spend", "optimise", "optimize"),
    "usage": ("usage", "use", "using", "hours", "utilisation", "utilization", "idle"),
    "plans": ("plan", "plans", "subscription", "tier", "commitment", "discount"),
    "products": ("gpu", "cpu", "instance", "storage", "product", "a100", "l4"),
}


class ClassifyTool:
    """Sorts a message into a topic by its words and returns the words that matched."""

    name = "classify"

    async def __call__(self, args: Mapping[str, Any]) -> dict[str, Any]:
        text = str(args.get("text", "")).lower()
        words = [w.strip(".,;:!?'\"()") for w in text.split()]
        scores: dict[str, int] = {}
        keywords: list[str] = []
        for topic, vocabulary in TOPIC_WORDS.items():
            hits = [w for w in words if w in vocabulary]
            scores[topic] = len(hits)
            keywords.extend(h for h in hits if h not in keywords)
        topic = max(scores, key=lambda t: scores[t]) if any(scores.values()) else "general"
        return {"topic": topic, "keywords": keywords}


def load_catalog() -> dict[str, Any]:
    """The small data set shipped with the service (products, plans, last month's usage)."""
    text = resources.files("chat.engine").joinpath("data/catalog.json").read_text("utf-8")
    return json.loads(text)


class LookupTool:
    """Looks up products, plans and usage in the shipped data set by keyword."""

    name = "lookup"

    def __init__(self, catalog: Mapping[str, Any] | None = None) -> None:
        self._catalog = catalog if catalog is not None else load_catalog()

    async def __call__(self, args: Mapping[str, Any]) -> dict[str, Any]:
        keywords = {str(k).lower() for k in args.get("keywords", [])}
        products = [p for p in self._catalog["products"] if keywords & set(p["keywords"])]
        if not products:
            products = [p for p in self._catalog["products"] if p["kind"] == "gpu"]
        ids = {p["id"] for p in products}
        usage = [u for u in self._catalog["usage"] if u["product"] in ids]
        plans = list(self._catalog["plans"])
        return {
            "products": [{"id": p["id"], "name": p["name"], "hourly_rate": p["hourly_rate"]}
                         for p in products],
            "usage": usage,
            "plans": [{"id": p["id"], "name": p["name"], "discount": p["discount"]}
                      for p in plans],
        }


class CostCalculatorTool:
    """Monthly cost of the usage found, and the saving of the best plan and idle cut."""

    name = "cost_calculator"

    async def __call__(self, args: Mapping[str, Any]) -> dict[str, Any]:
        rates = {p["id"]: float(p["hourly_rate"]) for p in args.get("products", [])}
        usage = args.get("usage", [])
        best_discount = max((float(p["discount"]) for p in args.get("plans", [])), default=0.0)
        current = sum(rates.get(u["product"], 0.0) * float(u["hours"]) for u in usage)
        busy = sum(
            rates.get(u["product"], 0.0) * float(u["hours"]) * (1 - float(u["idle_share"]))
            for u in usage
        )
        optimised = busy * (1 - best_discount)
        return {
            "current_monthly_cost": round(current, 2),
            "optimised_monthly_cost": round(optimised, 2),
            "monthly_saving": round(current - optimised, 2),
            "discount": best_discount,
        }


def default_tools(sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> dict[str, Tool]:
    """The tools the service ships, by name. They hold no per-user state."""
    tools: list[Tool] = [CalculatorTool(), WaitTool(sleep), ClassifyTool(), LookupTool(),
                         CostCalculatorTool()]
    return {tool.name: tool for tool in tools}


class ToolDispatcher:
    """Calls tools for one run and announces each call and its outcome."""

    def __init__(self, tools: Mapping[str, Tool], notifier: Notifier) -> None:
        self._tools = tools
        self._notifier = notifier

    async def call(self, name: str, args: dict[str, Any]) -> ToolOutcome:
        tool = self._tools[name]
        call_id = new_call_id()
        await self._notifier.emit(
            EventType.TOOL_EXECUTING, {"call_id": call_id, "tool": name, "args": args}
        )
        try:
            result = await tool(args)
        except ToolError as exc:
            outcome = ToolOutcome(call_id, "error", {"error": str(exc)})
        except Exception:
            await self._notifier.emit(
                EventType.TOOL_COMPLETED,
                {"call_id": call_id, "tool": name, "status": "error",
                 "result": {"error": "the tool failed unexpectedly"}},
            )
            raise
        else:
            outcome = ToolOutcome(call_id, "ok", result)
        await self._notifier.emit(
            EventType.TOOL_COMPLETED,
            {"call_id": call_id, "tool": name, "status": outcome.status,
             "result": outcome.result},
        )
        return outcome
