"""The base of the suite's matchers: one function that finds the first problem, whose
sentence is the mismatch a reader sees."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hamcrest.core.base_matcher import BaseMatcher
from hamcrest.core.description import Description
from hamcrest.core.matcher import Matcher
from hamcrest.core.string_description import StringDescription

__all__ = ["ProblemMatcher", "problem_of"]


class ProblemMatcher(BaseMatcher[Any]):
    """A matcher defined by one function that returns the first problem, or None."""

    def __init__(self, expectation: str, find_problem: Callable[[Any], str | None]) -> None:
        self._expectation = expectation
        self._find_problem = find_problem

    def _matches(self, item: Any) -> bool:
        return self._find_problem(item) is None

    def describe_to(self, description: Description) -> None:
        description.append_text(self._expectation)

    def describe_mismatch(self, item: Any, mismatch_description: Description) -> None:
        mismatch_description.append_text(self._find_problem(item) or "it matched")


def problem_of(matcher: Matcher[Any], item: Any) -> str | None:
    """The mismatch sentence `matcher` gives for `item`, or None when it matches."""
    if matcher.matches(item):
        return None
    description = StringDescription()
    matcher.describe_mismatch(item, description)
    return str(description)
