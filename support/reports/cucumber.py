"""Cucumber JSON for report tools and test managers (Xray, Jenkins, ReportPortal).

behave's own `json` formatter writes a different format (its statuses, float seconds,
"location" strings, no ids). This writes the format as Cucumber itself (Ruby) defines
it: features with uri/id/keyword/name/line/description/tags/elements; each scenario as an
element of type "scenario", preceded by its feature's background as a separate element
of type "background", the way Cucumber writes backgrounds; steps with keyword, name,
line, match.location, result.status (passed, failed, skipped, undefined, pending) and
result.duration in integer nanoseconds, error_message when a step failed. A failed
set-up or clean-up is written as a `before` or `after` hook of the scenario, so a tool
never counts a scenario whose set-up failed as skipped.

The output validates against the Cucumber Ruby schema of `@cucumber/cucumber-json-converter`
(checked in tests/test_reports_cucumber.py).
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from support.reports.results import (
    FAILED,
    SKIPPED,
    FeatureResult,
    RunResult,
    ScenarioResult,
    StepResult,
    TagRef,
)


def _ns(seconds: float) -> int:
    return round(seconds * 1_000_000_000)


def _tags(tags: tuple[TagRef, ...]) -> list[dict[str, Any]]:
    return [{"name": tag.name, "line": tag.line} for tag in tags]


def step_json(step: StepResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "keyword": f"{step.keyword} ",
        "name": step.name,
        "line": step.line,
    }
    if step.doc_string is not None:
        doc: dict[str, Any] = {"value": step.doc_string, "line": step.doc_string_line}
        if step.doc_string_type:
            doc["content_type"] = step.doc_string_type
        data["doc_string"] = doc
    if step.rows:
        data["rows"] = [{"cells": list(row)} for row in step.rows]
    if step.location:
        data["match"] = {
            "location": step.location,
            "arguments": [{"val": val, "offset": offset} for val, offset in step.arguments],
        }
    else:
        data["match"] = {}
    result: dict[str, Any] = {"status": step.status, "duration": _ns(step.duration_s)}
    if step.failure is not None and step.status == FAILED:
        result["error_message"] = step.failure.full_text
    data["result"] = result
    return data


def _background_json(scenario: ScenarioResult) -> dict[str, Any] | None:
    background = scenario.background
    if background is None:
        return None
    return {
        "keyword": background.keyword,
        "name": background.name,
        "line": background.line,
        "description": background.description,
        "type": "background",
        "steps": [step_json(step) for step in scenario.background_steps],
    }


def scenario_json(scenario: ScenarioResult, not_checked: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": scenario.id,
        "keyword": scenario.keyword,
        "name": scenario.name,
        "line": scenario.line,
        "description": "\n".join(filter(None, [scenario.description, not_checked])),
        "type": "scenario",
        "tags": _tags(scenario.tags),
        "steps": [step_json(step) for step in scenario.own_steps],
    }
    hook = scenario.hook_failure
    if hook is not None:
        data[hook.phase] = [
            {
                "match": {"location": hook.location},
                "result": {
                    "status": FAILED,
                    "duration": 0,
                    "error_message": hook.failure.full_text,
                },
            }
        ]
    return data


def feature_json(feature: FeatureResult, run: RunResult | None = None) -> dict[str, Any]:
    elements: list[dict[str, Any]] = []
    for scenario in feature.scenarios:
        background = _background_json(scenario)
        if background is not None:
            elements.append(background)
        reason = run.not_checked_reason(scenario) if run is not None else None
        elements.append(scenario_json(scenario, reason if scenario.status == SKIPPED else None))
    description = feature.description
    if run is not None and (run.protocol != "v1" or run.not_checked):
        description = "\n".join(filter(None, [description, _target_line(run)]))
    return {
        "uri": feature.uri,
        "id": feature.id,
        "keyword": feature.keyword,
        "name": feature.name,
        "line": feature.line,
        "description": description,
        "tags": _tags(feature.tags),
        "elements": elements,
    }


def _target_line(run: RunResult) -> str:
    line = f"Run over {run.protocol} at {run.target or 'an unrecorded target'}"
    if run.not_checked:
        line += "; areas not checked: " + ", ".join(run.not_checked)
    return line + "."


def cucumber_json(run: RunResult) -> list[dict[str, Any]]:
    """The whole run as a Cucumber JSON document (a list of features). A run over another
    protocol than v1 says so in each feature's description, with the areas not checked;
    a scenario not checked says why in its own."""
    return [feature_json(feature, run) for feature in run.features]


def write_cucumber_json(run: RunResult, stream: TextIO) -> None:
    json.dump(cucumber_json(run), stream, indent=2, ensure_ascii=False)
    stream.write("\n")
