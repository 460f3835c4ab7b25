"""How many scenarios of a behave run passed, failed and were skipped, read from the
Cucumber JSON the run wrote (`support/reports/cucumber.py`), not from its console.

A scenario's statuses are those of its steps, of the background steps written just before
it, and of any `before` or `after` hook recorded on it (a failed set-up or clean-up). It
failed when any of them is neither passed nor skipped (failed, undefined, pending); it
passed when all of them passed; otherwise (nothing ran, or it was skipped part-way) it was
skipped. A run that wrote no JSON, or JSON without a scenario, tested nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.reports.results import FAILED, PASSED, SKIPPED

__all__ = ["NoScenarios", "ScenarioCounts", "count_document", "count_file", "scenario_status"]


class NoScenarios(Exception):
    """The run left no scenario to count; the message says why."""


@dataclass(frozen=True)
class ScenarioCounts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def __add__(self, other: ScenarioCounts) -> ScenarioCounts:
        return ScenarioCounts(
            self.passed + other.passed, self.failed + other.failed, self.skipped + other.skipped
        )

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped

    def line(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def scenario_status(statuses: Iterable[str]) -> str:
    """passed, failed or skipped, from the statuses of everything the scenario ran."""
    seen = list(statuses)
    if any(status not in (PASSED, SKIPPED) for status in seen):
        return FAILED
    if seen and all(status == PASSED for status in seen):
        return PASSED
    return SKIPPED


def _statuses(items: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(item.get("result", {}).get("status", "")) for item in items]


def count_document(document: Iterable[Mapping[str, Any]]) -> ScenarioCounts:
    """The counts of a Cucumber JSON document (a list of features)."""
    passed = failed = skipped = 0
    for feature in document:
        background: list[str] = []
        for element in feature.get("elements", []):
            if element.get("type") == "background":
                background = _statuses(element.get("steps", []))
                continue
            statuses = [
                *background,
                *_statuses(element.get("before", [])),
                *_statuses(element.get("steps", [])),
                *_statuses(element.get("after", [])),
            ]
            background = []
            status = scenario_status(statuses)
            passed += status == PASSED
            failed += status == FAILED
            skipped += status == SKIPPED
    return ScenarioCounts(passed, failed, skipped)


def count_file(path: Path) -> ScenarioCounts:
    """The counts of the Cucumber JSON at `path`; NoScenarios when there is none to count."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NoScenarios(f"the run wrote no {path}") from None
    except (OSError, ValueError) as exc:
        raise NoScenarios(f"{path} cannot be read as JSON ({exc})") from None
    if not isinstance(document, list):
        raise NoScenarios(f"{path} is not a Cucumber JSON document (a list of features)")
    counts = count_document(document)
    if counts.total == 0:
        raise NoScenarios(f"{path} holds no scenario")
    return counts
