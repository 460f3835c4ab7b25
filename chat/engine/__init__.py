"""The agent pipeline: supervisor, sub-agents, tools, notifier and the per-user engine.

Nothing here does I/O or knows about sockets and databases; the service feeds it an
`ExecutionContext` and a `Notifier` and gets the events and a `RunOutcome` back.
"""

from chat.engine.agents import AgentError, AgentRegistry, SubAgent, default_registry
from chat.engine.events import EVENT_TYPES, EventType
from chat.engine.executor import EngineFactory, ExecutionEngine, RunOutcome
from chat.engine.notifier import Notifier, NotifierFailure, RecordingNotifier
from chat.engine.supervisor import Supervisor
from chat.engine.tools import Tool, ToolDispatcher, ToolError, default_tools

__all__ = [
    "EVENT_TYPES",
    "AgentError",
    "AgentRegistry",
    "EngineFactory",
    "EventType",
    "ExecutionEngine",
    "Notifier",
    "NotifierFailure",
    "RecordingNotifier",
    "RunOutcome",
    "SubAgent",
    "Supervisor",
    "Tool",
    "ToolDispatcher",
    "ToolError",
    "default_registry",
    "default_tools",
]
