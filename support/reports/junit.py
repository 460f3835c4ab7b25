"""What behave's JUnit files do not say by themselves: which protocol and target ran, and
why a scenario was not checked.

behave writes the JUnit files (one per feature); after it has, each file of this run gets
`<properties>` naming the protocol, the target and the areas not checked, and each
testcase skipped because its area cannot be checked carries the reason in its
`<skipped message=...>`, so CI never reads such a scenario as a plain skip or a pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from support.reports.results import SKIPPED, RunResult

__all__ = ["mark_junit"]


def mark_junit(config: Any, run: RunResult | None, since: float) -> None:
    """Add the run's protocol, target and not-checked areas to this run's JUnit files."""
    if run is None or not getattr(config, "junit", False):
        return
    directory = Path(getattr(config, "junit_directory", None) or "reports")
    reasons = {s.name: reason for s in run.scenarios
               if s.status == SKIPPED and (reason := run.not_checked_reason(s))}
    for path in sorted(directory.glob("*.xml")) if directory.is_dir() else []:
        if path.stat().st_mtime >= since - 1:
            _mark(path, run, reasons)


def _mark(path: Path, run: RunResult, reasons: dict[str, str]) -> None:
    try:
        tree = ElementTree.parse(path)
    except ElementTree.ParseError:
        return
    suites = [tree.getroot()] if tree.getroot().tag == "testsuite" else list(tree.getroot())
    for suite in suites:
        if suite.find("properties") is not None:
            continue
        properties = ElementTree.Element("properties")
        values = {"golden_path.protocol": run.protocol, "golden_path.target": run.target,
                  "golden_path.not_checked": "; ".join(
                      f"{area}: {why}" for area, why in run.not_checked.items()) or "none"}
        for name, value in values.items():
            ElementTree.SubElement(properties, "property", name=name, value=value)
        suite.insert(0, properties)
        for case in suite.iter("testcase"):
            reason = _reason_of(str(case.get("name")), reasons)
            skipped = case.find("skipped")
            if reason and skipped is not None:
                skipped.set("message", reason)
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _reason_of(name: str, reasons: dict[str, str]) -> str | None:
    if name in reasons:
        return reasons[name]
    return next((why for scenario, why in reasons.items() if name.startswith(scenario)), None)
