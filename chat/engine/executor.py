"""The per-user execution engine and the factory that makes one per run.

`ExecutionEngine.run` drives one run and emits its events in the order the contract
requires: `agent_started` (supervisor) first, the supervisor's `agent_thinking`, each
sub-agent's `agent_thinking` and tool calls, and exactly one `agent_completed` last,
`completed` with the response or `failed` with `error` {code, message}. It does no I/O:
events go to the notifier, work to the tools.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from chat.context import ExecutionContext, Plan
from chat.engine.agents import AgentError, AgentRegistry, Work, default_registry
from chat.engine.events import EventType
from chat.engine.notifier import Notifier, NotifierFailure
from chat.engine.supervisor import Supervisor
from chat.engine.tools import Tool, ToolDispatcher, default_tools


@dataclass(frozen=True)
class RunOutcome:
    status: str
    response: str
    agents: tuple[str, ...]
    error_code: str | None = None
    error_message: str | None = None

    def completed_payload(self) -> dict[str, Any]:
        """The payload of this run's `agent_completed` event."""
        payload: dict[str, Any] = {"status": self.status, "response": self.response}
        if self.status == "failed":
            payload["error"] = {"code": self.error_code, "message": self.error_message}
        return payload


class ExecutionEngine:
    """Runs one user's run; made by `EngineFactory.create`, used once."""

    def __init__(
        self,
        context: ExecutionContext,
        supervisor: Supervisor,
        registry: AgentRegistry,
        tools: Mapping[str, Tool],
        notifier: Notifier,
    ) -> None:
        self.context = context
        self._supervisor = supervisor
        self._registry = registry
        self._notifier = notifier
        self._dispatcher = ToolDispatcher(tools, notifier)

    async def run(self) -> RunOutcome:
        emit = self._notifier.emit
        plan = self.context.plan
        work = Work(self.context)
        took_part: list[str] = []
        await emit(EventType.AGENT_STARTED, {"agent": self._supervisor.name})
        await emit(EventType.AGENT_THINKING,
                   {"agent": self._supervisor.name, "text": self._supervisor.thinking(plan)})
        try:
            for name in plan.agents:
                agent = self._registry.get(name)
                took_part.append(name)
                await agent.act(work, self._dispatcher, self._thinker(name))
        except (NotifierFailure, asyncio.CancelledError):
            raise
        except AgentError as exc:
            outcome = RunOutcome("failed", "", tuple(took_part), "agent_error", str(exc))
        except Exception as exc:  # noqa: BLE001 - a broken agent fails its run, not the service
            outcome = RunOutcome("failed", "", tuple(took_part), "agent_error",
                                 f"{type(exc).__name__}: {exc}")
        else:
            response = work.response or "I could not find anything to say about that."
            outcome = RunOutcome("completed", response, tuple(took_part))
        await emit(EventType.AGENT_COMPLETED, outcome.completed_payload())
        return outcome

    def _thinker(self, agent: str) -> Callable[[str], Awaitable[None]]:
        async def think(text: str) -> None:
            await self._notifier.emit(EventType.AGENT_THINKING, {"agent": agent, "text": text})

        return think


class EngineFactory:
    """Makes a fresh engine per run. Holds only immutable parts (rules, stateless agents
    and tools), so runs of different users share nothing they could change."""

    def __init__(
        self,
        registry: AgentRegistry | None = None,
        tools: Mapping[str, Tool] | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.supervisor = supervisor or Supervisor()
        self.registry = registry or default_registry()
        self.tools = dict(tools) if tools is not None else default_tools()

    def plan(self, content: str) -> Plan:
        return self.supervisor.plan(content)

    def create(self, context: ExecutionContext, notifier: Notifier) -> ExecutionEngine:
        return ExecutionEngine(context, self.supervisor, self.registry, self.tools, notifier)
