"""Client frames of contract v1 (§5), read and checked before anything is done with them.

Sans I/O: `parse_frame` turns the text of one frame into a `UserMessage` or a `Resume`,
or raises `FrameError` with the `error` code the client is answered with
(`invalid_json`, `invalid_message`, `unknown_type`, `message_too_large`); the connection
stays open. Frames that are not JSON (or nest deeper than the parser goes, or carry
numbers it will not read), binary frames (the contract speaks JSON text), strings with
NUL characters or unpaired surrogates (no store keeps them), ids over
`MAX_CLIENT_ID_CHARS` characters and `after_seq` outside 0..`MAX_SEQ` are refused here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_CLIENT_ID_CHARS",
    "MAX_CONTENT_BYTES",
    "MAX_SEQ",
    "FrameError",
    "Resume",
    "UserMessage",
    "parse_frame",
]

MAX_CONTENT_BYTES = 64 * 1024
MAX_CLIENT_ID_CHARS = 200
MAX_SEQ = 2**31 - 1


class FrameError(Exception):
    """A client frame the gateway answers with an `error` frame, keeping the connection."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class UserMessage:
    """`user_message`: start a run (in a new thread when `thread_id` is None)."""

    content: str
    thread_id: str | None
    message_id: str | None


@dataclass(frozen=True)
class Resume:
    """`resume`: replay the thread's events after `after_seq`, then follow it live."""

    thread_id: str
    after_seq: int


def parse_frame(raw: str | bytes) -> UserMessage | Resume:
    """The client frame `raw` says, checked; `FrameError` when it cannot be read."""
    frame = _json_object(raw)
    kind = frame.get("type")
    if not isinstance(kind, str):
        raise FrameError("invalid_message", "a frame needs a string 'type'")
    if kind == "user_message":
        return _user_message(frame)
    if kind == "resume":
        return _resume(frame)
    raise FrameError("unknown_type", f"unknown frame type {kind[:60]!r}")


def _json_object(raw: str | bytes) -> dict[str, Any]:
    if not isinstance(raw, str):
        raise FrameError("invalid_message", "binary frames are not read; send JSON text")
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        raise FrameError("invalid_json", "the frame is not valid JSON") from None
    if not isinstance(frame, dict):
        raise FrameError("invalid_message", "a frame must be a JSON object")
    return frame


def _user_message(frame: dict[str, Any]) -> UserMessage:
    content = frame.get("content")
    thread_id = frame.get("thread_id")
    message_id = frame.get("message_id")
    if not isinstance(content, str):
        raise FrameError("invalid_message", "'content' must be a string")
    _check_text(content, "content")
    if len(content.encode("utf-8")) > MAX_CONTENT_BYTES:
        raise FrameError("message_too_large",
                         f"'content' is over {MAX_CONTENT_BYTES // 1024} KiB")
    if not content.strip():
        raise FrameError("invalid_message", "'content' must not be empty")
    if thread_id is not None:
        thread_id = _checked_id(thread_id, "thread_id")
    if message_id is not None:
        message_id = _checked_id(message_id, "message_id")
    return UserMessage(content, thread_id, message_id)


def _resume(frame: dict[str, Any]) -> Resume:
    thread_id = _checked_id(frame.get("thread_id"), "thread_id")
    after_seq = frame.get("after_seq", 0)
    if (not isinstance(after_seq, int) or isinstance(after_seq, bool)
            or not 0 <= after_seq <= MAX_SEQ):
        raise FrameError("invalid_message",
                         f"'after_seq' must be an integer from 0 to {MAX_SEQ}")
    return Resume(thread_id, after_seq)


def _check_text(value: str, name: str) -> None:
    """A client string every store can keep: no NUL, no unpaired surrogate."""
    if "\x00" in value:
        raise FrameError("invalid_message", f"'{name}' must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise FrameError("invalid_message", f"'{name}' is not valid Unicode text") from None


def _checked_id(value: Any, name: str) -> str:
    """A client-chosen id: a string of 1 to MAX_CLIENT_ID_CHARS characters (null allowed
    by the caller where the contract allows it)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CLIENT_ID_CHARS:
        raise FrameError("invalid_message", f"'{name}' must be a string of 1 to "
                                            f"{MAX_CLIENT_ID_CHARS} characters")
    _check_text(value, name)
    return value
