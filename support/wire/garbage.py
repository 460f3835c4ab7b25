"""Frames no app should send, for the security scenarios and the tests that fuzz the
gateway: a burst of garbage (binary frames, deep nesting, huge numbers, control
characters), text that is not UTF-8, and `random_frame`, which builds hostile frames from
a seed, cheaply, for property-based tests that send thousands. Data only; the v1 driver
sends them (`ChatClient.send_raw`, `send_undecodable`).
"""

from __future__ import annotations

import json
import random
from typing import Any

__all__ = ["BROKEN_TEXT", "FRAME_KINDS", "GARBAGE", "random_frame", "random_json", "random_text"]


def _nested(depth: int, opening: str, closing: str, inner: str = "") -> str:
    return opening * depth + inner + closing * depth


# A burst of garbage, each piece answered with an error on a connection that stays open.
GARBAGE: dict[str, str | bytes] = {
    "random bytes in a binary frame": bytes(range(256)) * 4,
    "a valid question in a binary frame": json.dumps(
        {"type": "user_message", "content": "What is 1 + 1?"}).encode(),
    "nothing at all": "",
    "plain text": "hello?",
    "a bare number": "42",
    "null": "null",
    "a list": json.dumps(["user_message", "What is 1 + 1?"]),
    "arrays nested 100 000 deep": _nested(100_000, "[", "]"),
    "objects nested 50 000 deep": _nested(50_000, '{"a":', "}", "1"),
    "a number with 5 000 digits": '{"type": "resume", "thread_id": "t", "after_seq": '
    + "9" * 5000 + "}",
    "a number beyond any counter": json.dumps(
        {"type": "resume", "thread_id": "t", "after_seq": 10**30}),
    "a number that is not a number": '{"type": "resume", "thread_id": "t", "after_seq": NaN}',
    "raw control characters": '{"type": "user_message", "content": "\x00\x01\x1b[2J\x7f"}',
    "a NUL character in a question": json.dumps({"type": "user_message", "content": "a\x00b"}),
    "half of a character pair": '{"type": "user_message", "content": "\\ud800"}',
    "a kind of message 100 000 characters long": json.dumps({"type": "x" * 100_000}),
    "a kind of message that is a number": json.dumps({"type": 7}),
    "a question that is a list": json.dumps({"type": "user_message", "content": ["hi"]}),
    "a conversation id that is an object": json.dumps(
        {"type": "user_message", "content": "hi", "thread_id": {"$ne": None}}),
    "an empty message id": json.dumps(
        {"type": "user_message", "content": "hi", "thread_id": None, "message_id": ""}),
    "an empty conversation id": json.dumps(
        {"type": "user_message", "content": "hi", "thread_id": ""}),
    "a conversation id 10 000 characters long": json.dumps(
        {"type": "user_message", "content": "hi", "thread_id": "t" * 10_000}),
    "a made-up conversation": json.dumps(
        {"type": "user_message", "content": "hi", "thread_id": "thr_' OR '1'='1"}),
    "a resume that counts backwards": json.dumps(
        {"type": "resume", "thread_id": "t", "after_seq": -1}),
    "a resume that counts in words": json.dumps(
        {"type": "resume", "thread_id": "t", "after_seq": "ten"}),
}

# Text frames whose bytes are not UTF-8: the WebSocket library closes with 1007.
BROKEN_TEXT = b'{"type": "user_message", "content": "\xc3\x28 \xff\xfe"}'


FRAME_KINDS = (
    "binary", "binary_json", "text", "json_value", "user_message", "resume", "deep",
    "huge_number", "raw_control", "wrong_type",
)
_FIELDS = ("type", "content", "thread_id", "message_id", "after_seq", "payload", "__proto__")
_EDGE_STRINGS = (
    "", " ", "\x00", "\ud800", "\udfff\ud800", "\u202e", "\ufeff", "\u200b", "🙂", "中文",
    "null", "None", "user_message", "resume", "thr_", "' OR 1=1 --", "${jndi:x}", "%s%n",
    "../../etc/passwd", "<script>", "\\", '"', "\r\n", "\x1b[2J",
)
_EDGE_NUMBERS: tuple[int | float, ...] = (
    0, -1, 1, 2**31 - 1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 10**30, 1e308, -0.0, 0.5,
    float("inf"), float("-inf"), float("nan"),
)
_ALPHABETS = (
    "abcXYZ019 ?", "".join(chr(c) for c in range(32)) + "\x7f", "éß中文🙂\u202e\u200b\ufeff",
    "\ud800\udbff\udc00\udfff", "{}[]\":,\\",
)


def random_text(rng: random.Random, size: int, *, surrogates: bool = True) -> str:
    """Text from mixed alphabets: control characters, non-ASCII, unpaired surrogates."""
    alphabets = _ALPHABETS if surrogates else tuple(a for a in _ALPHABETS if "\ud800" not in a)
    return "".join(rng.choice(rng.choice(alphabets)) for _ in range(size))


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """Any JSON value (NaN and infinities included, as Python's parser reads them)."""
    choice = rng.randrange(10 if depth < 3 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.random() < 0.5
    if choice == 2:
        return rng.choice(_EDGE_NUMBERS + (rng.randint(-(10**20), 10**20),))
    if choice == 3:
        return random_text(rng, rng.randrange(12))
    if choice in (4, 5):
        return rng.choice(_EDGE_STRINGS)
    if choice in (6, 7):
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = [rng.choice(_FIELDS + (random_text(rng, 4),)) for _ in range(rng.randrange(4))]
    return {key: random_json(rng, depth + 1) for key in keys}


def random_frame(rng: random.Random, kind: str, thread_ids: tuple[str, ...] = ()) -> str | bytes:
    """A hostile frame of `kind` (one of FRAME_KINDS); `thread_ids` are real conversations
    worth aiming at (the sender's own, someone else's)."""
    def thread() -> Any:
        if thread_ids and rng.random() < 0.5:
            return rng.choice(thread_ids)
        return random_json(rng, 2)

    if kind == "binary":
        return rng.randbytes(rng.randrange(200))
    if kind == "binary_json":
        return json.dumps({"type": "user_message", "content": random_text(rng, 8)}).encode()
    if kind == "text":
        return random_text(rng, rng.randrange(60), surrogates=False)
    if kind == "json_value":
        return json.dumps(random_json(rng))
    if kind == "user_message":
        frame: dict[str, Any] = {"type": "user_message"}
        for name in ("content", "thread_id", "message_id"):
            if rng.random() < 0.8:
                frame[name] = thread() if name == "thread_id" else random_json(rng, 2)
        return json.dumps(frame)
    if kind == "resume":
        frame = {"type": "resume", "thread_id": thread()}
        if rng.random() < 0.9:
            frame["after_seq"] = rng.choice((random_json(rng, 2), rng.choice(_EDGE_NUMBERS),
                                             10 ** rng.randrange(40)))
        return json.dumps(frame)
    if kind == "deep":
        depth = rng.choice((10, 1000, 5000, 50_000, 150_000))  # each under 1 MiB
        return rng.choice((_nested(depth, "[", "]"), _nested(depth, '{"a":', "}", "0"),
                           '{"type": "user_message", "content": ' + _nested(depth, "[", "]")
                           + "}", _nested(depth, "[", "")))
    if kind == "huge_number":
        digits = "9" * rng.choice((20, 400, 4300, 4301, 20_000))
        return rng.choice((digits, f'{{"type": "resume", "thread_id": "t", "after_seq": {digits}}}',
                           f'{{"type": "user_message", "content": "x", "message_id": {digits}}}',
                           f"1e{digits}", f"-{digits}.{digits}"))
    if kind == "raw_control":
        raw = random_text(rng, 10, surrogates=False)
        return '{"type": "user_message", "content": "' + raw + '"}'
    return json.dumps({"type": random_json(rng, 2), "content": "What is 1 + 1?"})
