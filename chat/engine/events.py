"""The server event types of wire contract v1 (§5) and the payloads the engine emits."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    AGENT_STARTED = "agent_started"
    AGENT_THINKING = "agent_thinking"
    TOOL_EXECUTING = "tool_executing"
    TOOL_COMPLETED = "tool_completed"
    AGENT_COMPLETED = "agent_completed"


EVENT_TYPES = frozenset(t.value for t in EventType)
Payload = dict[str, Any]
