"""Gherkin words -> values: the parameter types of the step phrases (`{user:User}`,
`{text:Quoted}`, `{agents:Agents}`, ...) and what the features' descriptions stand for.

Registered once on import (each step module imports this), so one phrase shape serves every
person, question and agent list instead of copies of the same step. Converters return plain
values (a name, a list of agent names, a number); steps look people up in the scenario's
cast, because a type converter also runs in `--dry-run`, where no scenario exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import Decimal

import parse
from behave import register_type

from support.actors.cast import NAMES
from support.actors.tasks.crashing import CONNECTIONS_WHERE
from support.contract import MAX_CONTENT_BYTES, MAX_FRAME_BYTES
from support.tokens import BAD_SIGN_INS, FORGED_SIGN_INS, HEADER_VARIANTS

# How the features say why a connection was refused -> the reason code of §5.
REFUSAL_WORDS: dict[str, str] = {
    "the sign-in is missing": "missing",
    "the sign-in is unreadable": "malformed",
    "the sign-in has expired": "expired",
    "the sign-in is not valid yet": "not_yet_valid",
    "the signature does not match": "bad_signature",
    "the sign-in is meant for another product": "wrong_audience",
    "the sign-in comes from an unknown issuer": "wrong_issuer",
    "the signing method is not allowed": "unsupported_algorithm",
    "the sign-in was revoked": "revoked",
}

# Things an app could send that the service cannot use, as the features describe them.
UNUSABLE_FRAMES: dict[str, str] = {
    "something that cannot be read at all": "{this is not json",
    # one kind that sorts before the kinds the service knows, one after them
    "a message of a kind the service does not know": json.dumps({"type": "dance", "content": "hello"}),
    "a message of another kind the service does not know": json.dumps(
        {"type": "wave", "content": "hello"}),
    "a message without any text": json.dumps(
        {"type": "user_message", "thread_id": None, "message_id": None}
    ),
    # 32,769 characters, 65,537 bytes of UTF-8: over the limit in bytes, not in characters.
    "a question one byte over 64 KiB": json.dumps(
        {"type": "user_message", "content": "é" * (MAX_CONTENT_BYTES // 2) + "a",
         "thread_id": None, "message_id": None}, ensure_ascii=False
    ),
}

# How big a message is, in words -> its size in bytes, on both sides of the frame limit.
FRAME_SIZES: dict[str, int] = {
    "of exactly 1 MiB": MAX_FRAME_BYTES,
    "one byte over 1 MiB": MAX_FRAME_BYTES + 1,
}

# How long a sign-in is made to last, in words -> seconds. Ninety-nine years reaches past
# any year a short cut in the revocation's arithmetic would get right by chance.
LIFETIMES: dict[str, int] = {
    "a quarter of an hour": 15 * 60,
    "ninety-nine years": 99 * 365 * 86_400,
}

# Which of a person's sessions, in words -> its index among her connections.
ORDINALS: dict[str, int] = {"first": 0, "second": 1}

# What the user is told, in words -> the error code of the contract.
ERROR_WORDS: dict[str, str] = {
    "her message could not be read": "invalid_json",
    "the kind of message is not known": "unknown_type",
    "the message is incomplete": "invalid_message",
    "the message is too large": "message_too_large",
    "the conversation does not exist": "not_found",
}


def _alternatives(phrases: Iterable[str]) -> str:
    """A regex matching any of `phrases`, longest first so none is cut short."""
    return "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))


@parse.with_pattern("|".join(NAMES))
def parse_user(text: str) -> str:
    """A person of the scenario, by first name."""
    return text


@parse.with_pattern(r'[^"]*')
def parse_quoted(text: str) -> str:
    """Text between double quotes (never spanning a quote, so phrases stay unambiguous)."""
    return text


@parse.with_pattern(r"[a-z]+(?:(?:, | and )[a-z]+)*")
def parse_agents(text: str) -> list[str]:
    """'triage, data and reporting' -> ['triage', 'data', 'reporting']."""
    return [name for name in re.split(r", | and ", text) if name]


@parse.with_pattern(r"-?\d+(?:\.\d+)?")
def parse_number(text: str) -> int | float:
    """A number as the contract carries it: whole numbers as int, others as float."""
    value = Decimal(text)
    return int(value) if value == value.to_integral_value() and "." not in text else float(value)


@parse.with_pattern(r"[-+*/]")
def parse_operator(text: str) -> str:
    return text


@parse.with_pattern(_alternatives(BAD_SIGN_INS))
def parse_bad_sign_in(text: str) -> str:
    """One of the bad sign-ins the features describe (keys of `tokens.BAD_SIGN_INS`)."""
    return text


@parse.with_pattern(_alternatives(REFUSAL_WORDS))
def parse_refusal(text: str) -> str:
    """Why a connection was refused, in words -> the contract's reason code."""
    return REFUSAL_WORDS[text]


@parse.with_pattern(_alternatives(UNUSABLE_FRAMES))
def parse_unusable(text: str) -> str:
    """Something an app could send that the service cannot use -> the frame itself."""
    return UNUSABLE_FRAMES[text]


@parse.with_pattern(_alternatives(FRAME_SIZES))
def parse_frame_size(text: str) -> int:
    """A message's size as the features say it -> bytes."""
    return FRAME_SIZES[text]


@parse.with_pattern(_alternatives(FORGED_SIGN_INS))
def parse_forgery(text: str) -> str:
    """A forged sign-in as the features describe it (keys of `tokens.FORGED_SIGN_INS`)."""
    return text


@parse.with_pattern(_alternatives(LIFETIMES))
def parse_lifetime(text: str) -> int:
    """How long a sign-in lasts, as the features say it -> seconds."""
    return LIFETIMES[text]


@parse.with_pattern(_alternatives(HEADER_VARIANTS))
def parse_header_variant(text: str) -> str:
    """A good sign-in written another way (keys of `tokens.HEADER_VARIANTS`)."""
    return text


@parse.with_pattern(_alternatives(ERROR_WORDS))
def parse_problem(text: str) -> str:
    """What the user is told about an unusable message, in words -> the error code."""
    return ERROR_WORDS[text]


@parse.with_pattern(_alternatives(ORDINALS))
def parse_ordinal(text: str) -> int:
    """Which of a person's sessions, in words -> its index."""
    return ORDINALS[text]


@parse.with_pattern(_alternatives(CONNECTIONS_WHERE))
def parse_connection_where(text: str) -> str:
    """Which of a person's connections (keys of `crashing.CONNECTIONS_WHERE`)."""
    return text


register_type(
    User=parse_user,
    Quoted=parse_quoted,
    Agents=parse_agents,
    Number=parse_number,
    Operator=parse_operator,
    BadSignIn=parse_bad_sign_in,
    Refusal=parse_refusal,
    Unusable=parse_unusable,
    Problem=parse_problem,
    Forgery=parse_forgery,
    FrameSize=parse_frame_size,
    Lifetime=parse_lifetime,
    HeaderVariant=parse_header_variant,
    Ordinal=parse_ordinal,
    Where=parse_connection_where,
)
