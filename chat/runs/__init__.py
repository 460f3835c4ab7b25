"""The chat service's use cases: sessions, submission, event storage and recovery.

This is where the durability rules of §5 live, one module each: `sessions` (§5.1),
`submission` (a message becomes a recorded run and a task), `events` (numbered, stored,
then published; read back for replay), `recovery` (heartbeats, and the runs and sessions
of dead gateways), `faults` (what happens while a backend is away). `RunService`
(`service`) composes them for the gateway.
"""

__all__ = [
    "HEARTBEAT_INTERVAL_S",
    "MISSING_GRACE_S",
    "NotFound",
    "Repairs",
    "RunEnded",
    "RunService",
    "Submission",
    "Unavailable",
    "open_tool_calls",
    "stored_events_after",
]

from chat.runs.events import open_tool_calls, stored_events_after
from chat.runs.faults import NotFound, Repairs, RunEnded, Unavailable
from chat.runs.recovery import HEARTBEAT_INTERVAL_S, MISSING_GRACE_S
from chat.runs.service import RunService
from chat.runs.submission import Submission
