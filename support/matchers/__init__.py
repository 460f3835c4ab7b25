"""PyHamcrest matchers for what users see (event streams) and what the product stored (rows,
cache entries), whose mismatch text reads in product terms.

A bare `assert` prints nothing useful in a behave report; these say what went wrong as a
reader would put it: "expected tool_completed after tool_executing for call c1, got
agent_completed". Each matcher finds the first problem and reports it; `problem_of`
exposes that sentence for the harness's own tests.
"""

from __future__ import annotations

from hamcrest import (
    all_of,
    assert_that,
    contains_exactly,
    contains_string,
    empty,
    equal_to,
    greater_than,
    has_entries,
    has_properties,
    not_none,
)

from support.matchers.base import problem_of
from support.matchers.cached import (
    a_cache_entry,
    a_cached_answer,
    cache_entries_of,
    expiring_within,
    no_cache_entry,
)
from support.matchers.events import (
    a_well_formed_run,
    agents_in,
    ended,
    exactly_seqs,
    numbered_without_gaps,
    only_from,
    refused_as_not_found,
    refused_as_unavailable,
    refused_because,
    the_same_events_as,
    tools_finish_before_the_answer,
    used_tool,
    worked_on_by,
)
from support.matchers.stored import a_conversation, a_run_record, a_session_record, working_notes

# The suite's matchers, and PyHamcrest's general ones re-exported so steps import every
# matcher from here.
__all__ = [
    "a_cache_entry",
    "a_cached_answer",
    "a_conversation",
    "a_run_record",
    "a_session_record",
    "a_well_formed_run",
    "agents_in",
    "all_of",
    "assert_that",
    "cache_entries_of",
    "contains_exactly",
    "contains_string",
    "empty",
    "ended",
    "equal_to",
    "exactly_seqs",
    "expiring_within",
    "greater_than",
    "has_entries",
    "has_properties",
    "no_cache_entry",
    "not_none",
    "numbered_without_gaps",
    "only_from",
    "problem_of",
    "refused_as_not_found",
    "refused_as_unavailable",
    "refused_because",
    "the_same_events_as",
    "tools_finish_before_the_answer",
    "used_tool",
    "worked_on_by",
    "working_notes",
]
