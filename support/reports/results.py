"""The results of one behave run, in a shape every report can share.

behave's model objects carry its own statuses (error, hook_error, untested, ...) and raw
error texts ("ASSERT FAILED: ...", whole tracebacks). The report writers need one
vocabulary instead: the five Cucumber statuses for tools, plain sentences for a product
reader, and the technical detail kept aside for whoever debugs. This module is the only
place that reads behave's model; the Cucumber JSON, HTML, metrics and console writers
work from the dataclasses below, which also makes them testable without running behave.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from behave.model_type import Status

from support.reports.figures import MetricsSummary

PASSED = "passed"
FAILED = "failed"
SKIPPED = "skipped"
UNDEFINED = "undefined"
PENDING = "pending"

_STEP_STATUS = {
    Status.passed: PASSED,
    Status.failed: FAILED,
    Status.error: FAILED,
    Status.hook_error: FAILED,
    Status.cleanup_error: FAILED,
    Status.undefined: UNDEFINED,
    Status.untested_undefined: UNDEFINED,
    Status.pending: PENDING,
    Status.pending_warn: PENDING,
    Status.untested_pending: PENDING,
}
"""behave step status -> Cucumber step status; anything else did not run (skipped)."""

_SCENARIO_FAILURES = (
    Status.failed,
    Status.error,
    Status.hook_error,
    Status.cleanup_error,
    Status.undefined,
    Status.pending,
)

_HOOK_ERROR = re.compile(r"HOOK-ERROR in (?P<hook>\w+)(?:\(tag=[^)]*\))?: ?", re.MULTILINE)
_CLEANUP_ERROR = re.compile(r"^CLEANUP-ERROR in (?P<name>[^:\n]+): (?P<what>.*)$", re.MULTILINE)


@dataclass(frozen=True)
class TagRef:
    """A tag as written in the feature file, with its `@`."""

    name: str
    line: int


@dataclass(frozen=True)
class Failure:
    """Why something failed: `message` for the reader, `details` for whoever debugs."""

    message: str
    details: str = ""

    @property
    def full_text(self) -> str:
        """The message followed by the technical detail, as report tools expect it."""
        return f"{self.message}\n\n{self.details}".rstrip() if self.details else self.message


@dataclass(frozen=True)
class StepResult:
    keyword: str
    name: str
    line: int
    status: str
    duration_s: float
    location: str | None = None
    arguments: tuple[tuple[str, int], ...] = ()
    failure: Failure | None = None
    doc_string: str | None = None
    doc_string_line: int = 0
    doc_string_type: str = ""
    rows: tuple[tuple[str, ...], ...] = ()
    in_background: bool = False

    @property
    def ran(self) -> bool:
        return self.status in (PASSED, FAILED)


@dataclass(frozen=True)
class BackgroundRef:
    keyword: str
    name: str
    line: int
    description: str = ""


@dataclass(frozen=True)
class HookFailure:
    """A failure outside the steps: `phase` is "before" (set-up) or "after" (clean-up)."""

    phase: str
    location: str
    failure: Failure


@dataclass(frozen=True)
class ScenarioResult:
    id: str
    keyword: str
    name: str
    line: int
    tags: tuple[TagRef, ...]
    description: str
    status: str
    steps: tuple[StepResult, ...]
    background: BackgroundRef | None = None
    hook_failure: HookFailure | None = None
    captured_output: str = ""

    @property
    def duration_s(self) -> float:
        return sum(step.duration_s for step in self.steps)

    @property
    def background_steps(self) -> tuple[StepResult, ...]:
        return tuple(step for step in self.steps if step.in_background)

    @property
    def own_steps(self) -> tuple[StepResult, ...]:
        return tuple(step for step in self.steps if not step.in_background)

    @property
    def failure(self) -> Failure | None:
        """What a reader should see first: the failing step, else the failed hook."""
        for step in self.steps:
            if step.failure is not None:
                return step.failure
        return self.hook_failure.failure if self.hook_failure else None


@dataclass(frozen=True)
class FeatureResult:
    uri: str
    id: str
    keyword: str
    name: str
    line: int
    tags: tuple[TagRef, ...]
    description: str
    scenarios: tuple[ScenarioResult, ...]

    @property
    def status(self) -> str:
        return _worst(scenario.status for scenario in self.scenarios)

    @property
    def duration_s(self) -> float:
        return sum(scenario.duration_s for scenario in self.scenarios)


@dataclass(frozen=True)
class RunResult:
    """One run: what ran, how it ended, on which backends, and its figures."""

    features: tuple[FeatureResult, ...]
    started_at: datetime
    duration_s: float
    mode: str
    backends: dict[str, str]
    fallbacks: tuple[str, ...]
    metrics: MetricsSummary
    selection: tuple[str, ...] = ()
    dry_run: bool = False
    # the protocol spoken and where the product was reached (support.runinfo)
    protocol: str = "v1"
    target: str = ""
    # area tag -> why this run could not check it (support.areas)
    not_checked: dict[str, str] = field(default_factory=dict)

    def not_checked_reason(self, scenario: ScenarioResult) -> str | None:
        """Why this run did not check the scenario (an area it cannot check), or None."""
        areas = [tag.name.lstrip("@") for tag in scenario.tags
                 if tag.name.lstrip("@") in self.not_checked]
        if not areas:
            return None
        return "not checked: " + "; ".join(f"{a} ({self.not_checked[a]})" for a in areas)

    @property
    def not_checked_count(self) -> int:
        return sum(1 for s in self.scenarios
                   if s.status == SKIPPED and self.not_checked_reason(s) is not None)

    @property
    def scenarios(self) -> list[ScenarioResult]:
        return [scenario for feature in self.features for scenario in feature.scenarios]

    def scenario_counts(self) -> dict[str, int]:
        counts = {PASSED: 0, FAILED: 0, SKIPPED: 0}
        for scenario in self.scenarios:
            key = scenario.status if scenario.status in counts else FAILED
            counts[key] += 1
        return counts

    def step_counts(self) -> dict[str, int]:
        counts = {PASSED: 0, FAILED: 0, SKIPPED: 0, UNDEFINED: 0, PENDING: 0}
        for scenario in self.scenarios:
            for step in scenario.steps:
                counts[step.status] += 1
        return counts

    @property
    def verdict(self) -> str:
        """`passed`, `failed`, or `not run` when no selected scenario ran at all."""
        counts = self.scenario_counts()
        if counts[FAILED]:
            return FAILED
        if counts[PASSED]:
            return PASSED
        return "not run"

    @property
    def tags(self) -> list[str]:
        seen: dict[str, None] = {}
        for scenario in self.scenarios:
            for tag in scenario.tags:
                seen.setdefault(tag.name, None)
        return sorted(seen)


def _worst(statuses: Iterable[str]) -> str:
    found = set(statuses)
    for status in (FAILED, UNDEFINED, PENDING, PASSED):
        if status in found:
            return status
    return SKIPPED


def slug(text: str) -> str:
    """A Cucumber-style id part: lower case, runs of non-word characters as one dash."""
    return re.sub(r"[^\w]+", "-", text.strip().lower()).strip("-") or "unnamed"


def _tags(*groups: Iterable[Any]) -> tuple[TagRef, ...]:
    seen: dict[str, TagRef] = {}
    for group in groups:
        for tag in group:
            name = f"@{tag}"
            seen.setdefault(name, TagRef(name, int(getattr(tag, "line", 0) or 0)))
    return tuple(seen.values())


def _text(lines: Sequence[str] | str | None) -> str:
    if not lines:
        return ""
    if isinstance(lines, str):
        return lines
    return "\n".join(lines)


def _uri(filename: str) -> str:
    path = os.path.relpath(filename) if os.path.isabs(filename) else filename
    return path.replace(os.sep, "/")
