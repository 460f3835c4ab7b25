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
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import behave
from behave.model import Feature, Rule, Scenario, ScenarioOutline, Step
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


_BEHAVE_DIR = os.path.dirname(os.path.abspath(behave.__file__)) + os.sep


def _traceback_text(exception: BaseException | None, tb: Any) -> str:
    """The traceback without behave's own frames, which every failure shares."""
    if exception is None:
        return ""
    summary = traceback.TracebackException(type(exception), exception, tb)
    own = [frame for frame in summary.stack if not frame.filename.startswith(_BEHAVE_DIR)]
    summary.stack = traceback.StackSummary.from_list(own or list(summary.stack))
    return "".join(summary.format()).rstrip()


def describe_step_failure(step: Step) -> Failure | None:
    """Say why a step did not pass, in the words the suite's matchers chose.

    An assertion (a matcher's mismatch) is shown as written, without behave's
    "ASSERT FAILED:" prefix; any other exception is named as the unexpected error it is;
    the traceback goes to `details`.
    """
    status = step.status
    exception = getattr(step, "exception", None)
    details = _traceback_text(exception, getattr(step, "exc_traceback", None))
    if status == Status.failed:
        text = step.error_message or (str(exception) if exception else "")
        text = re.sub(r"^ASSERT FAILED: ?", "", text.strip())
        return Failure(_tidy(text) or "The check in this step did not hold.", details)
    if status in (Status.error, Status.hook_error, Status.cleanup_error):
        if exception is not None:
            what = f"{type(exception).__name__}: {exception}".rstrip(": ")
        else:
            lines = (step.error_message or "").strip().splitlines()
            what = lines[-1] if lines else "an unknown error"
        message = f"The step stopped with an unexpected error: {what}"
        return Failure(message, details or (step.error_message or "").strip())
    if status in (Status.undefined, Status.untested_undefined):
        return Failure("This step has no definition in the suite yet.")
    if status in (Status.pending, Status.untested_pending):
        return Failure("This step is defined but not implemented yet.")
    return None


def _tidy(text: str) -> str:
    """Drop the blank lines and indentation matchers put around their mismatch."""
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    lines = [line for line in lines if line.strip()]
    if not lines:
        return ""
    indent = min(len(line) - len(line.lstrip()) for line in lines)
    return "\n".join(line[indent:] for line in lines)


def describe_hook_failure(scenario: Scenario, any_step_ran: bool) -> HookFailure | None:
    """A set-up or clean-up failure of a scenario, said plainly."""
    if scenario.status == Status.cleanup_error:
        return _cleanup_failure(scenario)
    if scenario.status != Status.hook_error:
        return None
    raw = (scenario.error_message or "").strip()
    match = _HOOK_ERROR.search(raw)
    hook = match.group("hook") if match else "hook"
    text = _HOOK_ERROR.sub("", raw).strip()
    phase = "before" if hook.startswith("before") or not any_step_ran else "after"
    if phase == "before":
        message = f"The set-up before this scenario failed, so its steps did not run: {text}"
    else:
        message = f"The clean-up after this scenario failed: {text}"
    details = _traceback_text(
        getattr(scenario, "exception", None), getattr(scenario, "exc_traceback", None)
    )
    return HookFailure(
        phase, f"environment.py:{hook}", Failure(message.rstrip(": "), details or raw)
    )


def _cleanup_failure(scenario: Scenario) -> HookFailure:
    """A clean-up registered with `context.add_cleanup` raised; behave only prints it."""
    output = _captured(scenario)
    match = _CLEANUP_ERROR.search(output)
    if match is None:
        text = "a clean-up registered during the scenario raised an error"
        return HookFailure(
            "after", "cleanup", Failure(f"The clean-up after this scenario failed: {text}", output)
        )
    details = output[match.start() :].strip()
    message = f"The clean-up after this scenario failed: {match.group('what').strip()}"
    return HookFailure("after", f"cleanup:{match.group('name')}", Failure(message, details))


def _step_result(
    step: Step,
    location_of: Callable[[Step], tuple[str | None, tuple[tuple[str, int], ...]]],
    in_background: bool,
) -> StepResult:
    status = _STEP_STATUS.get(step.status, SKIPPED)
    location, arguments = location_of(step)
    text = step.text
    table = step.table
    rows: tuple[tuple[str, ...], ...] = ()
    if table is not None:
        rows = (tuple(table.headings),) + tuple(tuple(row.cells) for row in table.rows)
    return StepResult(
        keyword=step.keyword.strip(),
        name=step.name,
        line=step.line,
        status=status,
        duration_s=float(step.duration or 0.0) if status in (PASSED, FAILED) else 0.0,
        location=location,
        arguments=arguments,
        failure=describe_step_failure(step) if status != PASSED else None,
        doc_string=str(text) if text is not None else None,
        doc_string_line=int(getattr(text, "line", 0) or 0) if text is not None else 0,
        doc_string_type=str(getattr(text, "content_type", "") or "") if text is not None else "",
        rows=rows,
        in_background=in_background,
    )


def _scenario_status(scenario: Scenario, steps: Sequence[StepResult]) -> str:
    if scenario.status in _SCENARIO_FAILURES or any(s.status == FAILED for s in steps):
        return FAILED
    if any(step.status in (UNDEFINED, PENDING) for step in steps):
        return FAILED
    if scenario.status == Status.passed:
        return PASSED
    return SKIPPED


def was_selected(scenario: Scenario, config: Any) -> bool:
    """Whether the run chose this scenario (tags, names, file:line), run or not."""
    if not (
        scenario.should_run_with_tags(config.tag_expression)
        and scenario.should_run_with_name_select(config)
    ):
        return False
    if not scenario.should_skip:
        return True
    # Skipped by file:line selection, or skipped by its own steps while running.
    return bool(scenario.hook_failed) or any(
        step.status not in (Status.skipped, Status.untested) for step in scenario.all_steps
    )


def _scenario_id(feature_id: str, scenario: Scenario, used: set[str]) -> str:
    parts = [feature_id]
    parent = getattr(scenario, "parent", None)
    if isinstance(parent, ScenarioOutline):
        parts.append(slug(parent.name))
    parts.append(slug(scenario.name))
    candidate = ";".join(parts)
    unique, n = candidate, 2
    while unique in used:
        unique = f"{candidate}-{n}"
        n += 1
    used.add(unique)
    return unique


def feature_result(
    feature: Feature,
    config: Any,
    location_of: Callable[[Step], tuple[str | None, tuple[tuple[str, int], ...]]],
) -> FeatureResult | None:
    """The selected scenarios of one feature, or None when none was selected."""
    feature_id = slug(feature.name)
    used: set[str] = set()
    scenarios: list[ScenarioResult] = []
    for scenario in feature.walk_scenarios():
        if not was_selected(scenario, config):
            continue
        background_steps = list(scenario.background_steps)
        steps = [_step_result(step, location_of, True) for step in background_steps]
        steps += [_step_result(step, location_of, False) for step in scenario.steps]
        any_ran = any(step.ran for step in steps)
        background = scenario.background
        parent = getattr(scenario, "parent", None)
        rule_tags = parent.tags if isinstance(parent, Rule) else []
        outline_parent = parent if isinstance(parent, ScenarioOutline) else None
        if outline_parent is not None and isinstance(outline_parent.parent, Rule):
            rule_tags = outline_parent.parent.tags
        scenarios.append(
            ScenarioResult(
                id=_scenario_id(feature_id, scenario, used),
                keyword=scenario.keyword,
                name=scenario.name.strip(),
                line=scenario.line,
                tags=_tags(feature.tags, rule_tags, scenario.tags),
                description=_text(scenario.description),
                status=_scenario_status(scenario, steps),
                steps=tuple(steps),
                background=(
                    BackgroundRef(
                        background.keyword,
                        background.name or "",
                        background.line,
                        _text(getattr(background, "description", None)),
                    )
                    if background is not None and background_steps
                    else None
                ),
                hook_failure=describe_hook_failure(scenario, any_ran),
                captured_output=_captured(scenario),
            )
        )
    if not scenarios:
        return None
    return FeatureResult(
        uri=_uri(feature.filename),
        id=feature_id,
        keyword=feature.keyword,
        name=feature.name,
        line=feature.line,
        tags=_tags(feature.tags),
        description=_text(feature.description),
        scenarios=tuple(scenarios),
    )


def _captured(scenario: Scenario) -> str:
    if scenario.status not in _SCENARIO_FAILURES:
        return ""
    captured = getattr(scenario, "captured", None)
    output = getattr(captured, "output", "") if captured is not None else ""
    return str(output or "").strip()


@dataclass
class MatchBook:
    """Where each executed step's code lives, as behave reported it while running."""

    locations: dict[int, tuple[str | None, tuple[tuple[str, int], ...]]] = field(
        default_factory=dict
    )
    registry: Any = None

    def record(self, step: Step, match: Any) -> None:
        self.locations[id(step)] = _match_data(match)

    def location_of(self, step: Step) -> tuple[str | None, tuple[tuple[str, int], ...]]:
        known = self.locations.get(id(step))
        if known is not None:
            return known
        if self.registry is None:
            return None, ()
        try:
            return _match_data(self.registry.find_match(step))
        except Exception:  # noqa: BLE001 - a step that cannot be matched has no location
            return None, ()


def _match_data(match: Any) -> tuple[str | None, tuple[tuple[str, int], ...]]:
    if match is None or not getattr(match, "location", None):
        return None, ()
    location = str(match.location).replace(os.sep, "/")
    arguments = tuple(
        (str(argument.original), int(argument.start))
        for argument in (getattr(match, "arguments", None) or [])
        if argument.original is not None and argument.start is not None
    )
    return location, arguments
