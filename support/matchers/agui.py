"""Matchers for AG-UI streams: AG-UI's own rules and those of DESIGN §5.2, whose mismatch
names the rule broken (`support.wire.agui_codec.stream_problem`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hamcrest.core.matcher import Matcher

from support.matchers.base import ProblemMatcher
from support.wire.agui_codec import stream_problem

__all__ = ["a_conforming_agui_stream"]


def a_conforming_agui_stream() -> Matcher[Sequence[Mapping[str, Any]]]:
    """One run's AG-UI events: RUN_STARTED first, pairs opened and closed, every tool call
    with one result and JSON arguments, one terminal event naming the run that started."""
    return ProblemMatcher(
        "an AG-UI stream of one run: RUN_STARTED first, messages, tool calls and steps "
        "closed in pairs, each tool call answered once, one RUN_FINISHED or RUN_ERROR last",
        stream_problem,
    )
