"""Wire contract v1 (DESIGN §5, §5.1, §6) as data: the one place the harness reads it from.

Event and error types, close codes, the size limits, the refusal reasons, the cache-key
formats and their lifetimes. The driver, the probes, the matchers and the people of a
scenario all take these values from here, so a change of the contract is one edit, and
a check can never drift from the limit it claims to test.
"""

from __future__ import annotations

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_INVALID_DATA",
    "CLOSE_NORMAL",
    "CLOSE_TOKEN_EXPIRED",
    "CLOSE_TOO_BIG",
    "CLOSE_TRY_AGAIN",
    "CONNECTION_TTL_S",
    "ERROR_CODES",
    "EVENT_TYPES",
    "FRAME_ERRORS",
    "GREETING",
    "HEALTH_PATH",
    "MAX_CONTENT_BYTES",
    "MAX_FRAME_BYTES",
    "REFUSAL_REASONS",
    "RESULT_TTL_S",
    "SESSION_TTL_S",
    "connection_key",
    "namespace",
    "result_key",
    "revoked_key",
    "session_key",
]

# -- frames ---------------------------------------------------------------------------

PATH = "/ws"  # the WebSocket endpoint
HEALTH_PATH = "/healthz"  # answers 200 while the service is up
GREETING = "connection_established"
EVENT_TYPES = frozenset(
    {"agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"}
)
ERROR_CODES = frozenset({
    "invalid_json", "invalid_message", "unknown_type", "message_too_large", "not_found",
    "run_failed", "token_expired", "unavailable", "internal_error",
})
# The errors that answer a frame the service cannot use; the connection stays open.
FRAME_ERRORS = frozenset(
    {"invalid_json", "invalid_message", "unknown_type", "message_too_large", "not_found"}
)

# -- limits ---------------------------------------------------------------------------

MAX_CONTENT_BYTES = 65_536  # a user_message's content, in bytes of UTF-8
MAX_FRAME_BYTES = 1_048_576  # any frame; over it the connection closes with CLOSE_TOO_BIG

# -- close codes ----------------------------------------------------------------------

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_INVALID_DATA = 1007
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN = 1013
CLOSE_TOKEN_EXPIRED = 4401

# -- sign-in (§5): claim times are checked with a leeway of at most 30 s, 5 by default --

JWT_LEEWAY_MAX_S = 30
JWT_LEEWAY_DEFAULT_S = 5

# -- sign-in refusals (HTTP 401, body {"error": "invalid_token", "reason": R}) --------

REFUSAL_REASONS = frozenset({
    "missing", "malformed", "expired", "not_yet_valid", "bad_signature", "wrong_audience",
    "wrong_issuer", "unsupported_algorithm", "revoked",
})

# -- the cache (§5.1, §6) -------------------------------------------------------------

SESSION_TTL_S = 3600
CONNECTION_TTL_S = 3600
RESULT_TTL_S = 86_400


def namespace(user_id: str) -> str:
    """The prefix of every cache key that belongs to a user."""
    return f"gp:{user_id}:"


def session_key(user_id: str, session_id: str) -> str:
    return f"{namespace(user_id)}session:{session_id}"


def connection_key(user_id: str, connection_id: str) -> str:
    return f"{namespace(user_id)}conn:{connection_id}"


def result_key(user_id: str, run_id: str) -> str:
    return f"{namespace(user_id)}result:{run_id}"


def revoked_key(jti: str) -> str:
    """A revoked sign-in, kept until the token would have expired."""
    return f"gp:revoked:{jti}"
