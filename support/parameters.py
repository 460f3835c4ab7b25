"""Parameter types for the step phrases: `{user:User}`, `{text:Quoted}`, `{agents:Agents}`...

Registered once on import (each step module imports this), so one phrase shape serves every
person, question and agent list instead of copies of the same step. Converters return plain
values (a name, a list of agent names, a number); steps look people up in the scenario's
cast, because a type converter also runs in `--dry-run`, where no scenario exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

import parse
from behave import register_type

from support.client import ERROR_CODES, UNUSABLE_FRAMES
from support.tokens import BAD_SIGN_INS, REFUSAL_REASONS
from support.users import NAMES


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


@parse.with_pattern(_alternatives(REFUSAL_REASONS))
def parse_refusal(text: str) -> str:
    """Why a connection was refused, in words -> the contract's reason code."""
    return REFUSAL_REASONS[text]


@parse.with_pattern(_alternatives(UNUSABLE_FRAMES))
def parse_unusable(text: str) -> str:
    """Something an app could send that the service cannot use (keys of UNUSABLE_FRAMES)."""
    return text


@parse.with_pattern(_alternatives(ERROR_CODES))
def parse_problem(text: str) -> str:
    """What the user is told about an unusable message, in words -> the error code."""
    return ERROR_CODES[text]


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
)
