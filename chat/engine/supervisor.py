"""The supervisor's intent rules: from a message to a plan (intent and sub-agents).

The rules are deterministic so clients and the suite can rely on them:

| message | intent | sub-agents |
| --- | --- | --- |
| `What is A op B?` (op + - * /, decimals, negatives) | `arithmetic` | data |
| `Wait for N seconds` (capped at 30) | `wait` | data |
| `Simulate a failure` | `failure` | triage (which raises) |
| anything mentioning cost, price, save, cheaper, reduce, optimise/optimize | `advice` | triage, data, optimisation, reporting |
| anything else | `question` | triage, data, reporting |

A model behind the same `plan` signature could replace the rules later.
"""

from __future__ import annotations

import re
from decimal import Decimal

from chat.context import Plan
from chat.engine.tools import WAIT_CAP_S, as_number

NUMBER = r"[-+]?\d+(?:\.\d+)?"
ARITHMETIC = re.compile(
    rf"^\s*what\s+is\s+(?P<a>{NUMBER})\s*(?P<op>[-+*/])\s*(?P<b>{NUMBER})\s*\??\s*$",
    re.IGNORECASE,
)
WAIT = re.compile(
    rf"^\s*wait\s+(?:for\s+)?(?P<n>{NUMBER})\s*(?:seconds?|secs?|s)\s*[.!]?\s*$",
    re.IGNORECASE,
)
FAILURE = re.compile(r"^\s*simulate\s+a\s+failure\b", re.IGNORECASE)
COST = re.compile(r"\b(cost|costs|price|prices|pricing|save|saving|savings|cheaper|reduce|"
                  r"optimi[sz]e|optimi[sz]ation|optimi[sz]ing)\b", re.IGNORECASE)


class Supervisor:
    """Plans a run from the user's message; pure, no state."""

    name = "supervisor"

    def plan(self, content: str) -> Plan:
        if match := ARITHMETIC.match(content):
            return Plan(
                intent="arithmetic",
                agents=("data",),
                params=(("a", as_number(Decimal(match["a"]))), ("op", match["op"]),
                        ("b", as_number(Decimal(match["b"])))),
            )
        if match := WAIT.match(content):
            seconds = min(Decimal(match["n"]), Decimal(str(WAIT_CAP_S)))
            return Plan(intent="wait", agents=("data",), params=(("seconds", as_number(seconds)),))
        if FAILURE.match(content):
            return Plan(intent="failure", agents=("triage",))
        if COST.search(content):
            return Plan(intent="advice", agents=("triage", "data", "optimisation", "reporting"))
        return Plan(intent="question", agents=("triage", "data", "reporting"))

    def thinking(self, plan: Plan) -> str:
        return f"Intent '{plan.intent}': handing over to {', '.join(plan.agents)}."
