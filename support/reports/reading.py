"""Reading behave's model into the shared results (`support.reports.results`).

This is the only place that reads behave's model objects: step and hook failures told in
plain sentences with the technical detail kept aside, the scenarios a run selected, and
the step definitions each step matched (`MatchBook`).
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import behave
from behave.model import Feature, Rule, Scenario, ScenarioOutline, Step
from behave.model_type import Status

from support.reports.results import (
    _CLEANUP_ERROR,
    _HOOK_ERROR,
    _SCENARIO_FAILURES,
    _STEP_STATUS,
    FAILED,
    PASSED,
    PENDING,
    SKIPPED,
    UNDEFINED,
    BackgroundRef,
    Failure,
    FeatureResult,
    HookFailure,
    ScenarioResult,
    StepResult,
    _tags,
    _text,
    _uri,
    slug,
)

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
    # Skipped by file:line selection (no reason), or skipped with a reason by its own
    # steps or fixtures, which the run counts as skipped: that one is reported.
    return bool(scenario.hook_failed) or bool(scenario.skip_reason) or any(
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
