"""The HTML page for product readers: one self-contained file, no network.

The page says first whether the run passed, on which backends (and loudly when a part
fell back to an embedded one), then every feature and scenario in the words of the
feature files, each step with its duration, and for a failure the matcher's own sentence
with the traceback folded away. Filters by status and tag are a few lines of inline
script; the filter state lives in the URL hash so a filtered view can be shared.
The markup lives in templates/ (Jinja2, autoescaped) so it can be changed without
touching the code that gathers the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from support.reports.figures import LABELS, format_ms
from support.reports.results import FAILED, PASSED, SKIPPED, RunResult

STATUS_WORDS = {
    "passed": "Passed",
    "failed": "Failed",
    "skipped": "Not run",
    "undefined": "Not defined",
    "pending": "Not implemented",
}
ICONS = {"passed": "✓", "failed": "✗", "skipped": "–", "undefined": "?", "pending": "…"}
VERDICT_WORDS = {PASSED: "PASSED", FAILED: "FAILED", "not run": "NOT RUN"}


def format_seconds(seconds: float) -> str:
    """A step or scenario duration as people read it."""
    if seconds <= 0:
        return "0 ms"
    if seconds < 0.001:
        return "<1 ms"
    if seconds < 10:
        return format_ms(seconds * 1000)
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:.0f} s" if minutes else f"{seconds:.1f} s"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("support.reports", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(seconds=format_seconds, ms=format_ms)
    return env


def render_html(run: RunResult, *, companions: Sequence[str] = ()) -> str:
    """The page for `run`; `companions` names the other report files of the run."""
    counts = run.scenario_counts()
    total = sum(counts.values())
    status_filters = [
        ("all", "All", total),
        (PASSED, "Passed", counts[PASSED]),
        (FAILED, "Failed", counts[FAILED]),
        (SKIPPED, "Not run", counts[SKIPPED]),
    ]
    template = _environment().get_template("golden_path.html.j2")
    return template.render(
        verdict_label=VERDICT_WORDS.get(run.verdict, run.verdict.upper()),
        verdict_class=run.verdict.replace(" ", "-"),
        counts=counts,
        total=total,
        step_total=sum(run.step_counts().values()),
        duration=format_seconds(run.duration_s),
        started=_when(run.started_at),
        generated=_when(datetime.now(UTC)),
        selection=list(run.selection),
        dry_run=run.dry_run,
        fallbacks=list(run.fallbacks),
        mode=run.mode,
        protocol=run.protocol,
        target=run.target,
        not_checked=run.not_checked,
        backends=run.backends,
        status_filters=status_filters,
        tags=run.tags,
        features=run.features,
        status_words=STATUS_WORDS,
        icons=ICONS,
        metrics=run.metrics,
        not_observed=[LABELS.get(name, name) for name in run.metrics.not_observed],
        companions=list(companions),
    )


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def write_html(run: RunResult, path: Path, *, companions: Sequence[str] = ()) -> Path:
    path.write_text(render_html(run, companions=companions), encoding="utf-8")
    return path
