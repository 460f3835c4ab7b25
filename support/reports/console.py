"""The short block that closes the console output of a run.

It comes after behave's own summary and says what a person at the terminal needs before
opening anything: which backends ran (and any fallback, so nobody mistakes a run on a
fake for a run on the real thing), which protocol and target, the areas this run could
not check (their scenarios are counted as not checked, never as passed), which report
files were written, and the headline figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from support.reports.figures import HEADLINE, format_ms
from support.reports.html import VERDICT_WORDS
from support.reports.results import RunResult


def closing_block(run: RunResult, written: Sequence[str]) -> str:
    """The closing block as text (several lines, ending with a newline)."""
    counts = run.scenario_counts()
    verdict = VERDICT_WORDS.get(run.verdict, run.verdict.upper())
    not_checked = run.not_checked_count
    not_run = counts["skipped"] - not_checked
    lines = [
        "",
        f"Golden Path {verdict}: {counts['passed']} passed, {counts['failed']} failed"
        + (f", {not_checked} not checked" if not_checked else "")
        + (f", {not_run} not run" if not_run else "")
        + f" (backends: {run.mode}"
        + (f"; protocol: {run.protocol})" if run.protocol != "v1" else ")"),
    ]
    parts = dict(run.backends)
    if run.backends and run.target and run.protocol != "v1":
        parts["target"] = f"{run.protocol} at {run.target}"
    if parts:
        width = max(len(part) for part in parts)
        lines += [f"  {part:<{width}}  {text}" for part, text in parts.items()]
    else:
        lines.append("  no backend recorded (the stack did not start)")
    lines += [f"  FALLBACK: {sentence}" for sentence in run.fallbacks]
    lines += [f"  NOT CHECKED: {area}: {why}" for area, why in run.not_checked.items()]
    if written:
        lines.append("  reports: " + ", ".join(written))
    headline = [run.metrics.get(name) for name in HEADLINE]
    shown = [op for op in headline if op is not None]
    if shown:
        lines.append(
            "  p95: " + "; ".join(f"{op.label.lower()} {format_ms(op.p95_ms)}" for op in shown)
        )
    return "\n".join(lines) + "\n"
