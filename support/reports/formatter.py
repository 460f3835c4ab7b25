"""behave formatter that writes the Golden Path reports of a run.

Registered in pyproject.toml as `golden_path` (`[tool.behave.formatters]`) with the
outfile `reports/golden_path.json`; behave's `default_format` (progress) still writes to
the console, because behave adds the default formatter whenever the command line names
none. While the run goes on, the formatter only notes where each step's code lives; at
the end it reads behave's model once and writes, next to the outfile:

- golden_path.json  Cucumber JSON (support.reports.cucumber)
- golden_path.html  the page for product readers (support.reports.html)
- metrics.json, metrics.md  the run's latency figures (support.reports.figures)

together with `support.runinfo.RUN` (which backends ran, any fallback).
`-D golden_path.reports_dir=DIR` writes them to DIR instead (one directory per run when
CI runs the suite several times). It also adds a
behave reporter (`config.reporters`, the extension point behave calls after each
feature and once at the end) which sees every feature, run or not, and prints the closing
block after behave's own summary and JUnit files. A dry run writes nothing, so checking
the steps never overwrites the reports of the last real run.
"""

from __future__ import annotations

import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from behave.formatter.base import Formatter, StreamOpener
from behave.model import Feature, Step
from behave.reporter.base import Reporter
from behave.step_registry import registry as step_registry

from support.metrics import METRICS
from support.reports.console import closing_block
from support.reports.cucumber import write_cucumber_json
from support.reports.figures import summarise, write_metrics
from support.reports.html import write_html
from support.reports.junit import mark_junit
from support.reports.reading import MatchBook, feature_result
from support.reports.results import RunResult
from support.runinfo import RUN

DEFAULT_DIRECTORY = "reports"
JSON_NAME = "golden_path.json"
USERDATA_DIRECTORY = "golden_path.reports_dir"


class _RunEnd(Reporter):
    """Sees every feature (run or not) and speaks last, after behave's summary."""

    def __init__(self, config: Any, formatter: GoldenPathFormatter) -> None:
        super().__init__(config)
        self._formatter = formatter

    def feature(self, feature: Feature) -> None:
        self._formatter.features.append(feature)

    def end(self) -> None:
        self._formatter.print_closing_block()


class GoldenPathFormatter(Formatter):
    """Collects the run and writes Cucumber JSON, HTML and metrics when it closes."""

    name = "golden_path"
    description = "Golden Path reports: Cucumber JSON, HTML page, metrics (JSON and Markdown)"

    def __init__(self, stream_opener: StreamOpener, config: Any) -> None:
        super().__init__(stream_opener, config)
        self.features: list[Feature] = []
        self._started_at = datetime.now(UTC)
        self._clock = time.perf_counter()
        self._matches = MatchBook(registry=step_registry)
        self._pending_match: Any = None
        self._run: RunResult | None = None
        self._written: list[str] = []
        self._failed = False
        config.reporters.append(_RunEnd(config, self))

    # -- behave formatter API
    def match(self, match: Any) -> None:
        self._pending_match = match

    def result(self, step: Step) -> None:
        if self._pending_match is not None:
            self._matches.record(step, self._pending_match)
            self._pending_match = None

    def close(self) -> None:
        if not self.config.dry_run:
            try:
                self._write_reports()
            except Exception:  # noqa: BLE001 - behave must still write JUnit and its summary
                self._failed = True
                sys.stderr.write("Golden Path reports could not be written:\n")
                sys.stderr.write(traceback.format_exc())
        self.close_stream()

    # -- the reports
    @property
    def _directory_asked(self) -> str | None:
        userdata = getattr(self.config, "userdata", None) or {}
        return userdata.get(USERDATA_DIRECTORY) or None

    @property
    def json_path(self) -> Path:
        """Where the Cucumber JSON goes; the other reports go beside it.

        `-D golden_path.reports_dir=DIR` moves all of them (as CI does to keep the
        reports of several runs apart); otherwise the configured outfile decides, and
        without one they go to reports/.
        """
        name = Path(self.stream_opener.name).name if self.stream_opener.name else JSON_NAME
        asked = self._directory_asked
        if asked:
            return Path(asked) / name
        if self.stream_opener.name:
            return Path(self.stream_opener.name)
        return Path(DEFAULT_DIRECTORY) / name

    def build_run(self) -> RunResult:
        features = [
            result
            for result in (
                feature_result(feature, self.config, self._matches.location_of)
                for feature in self.features
            )
            if result is not None
        ]
        return RunResult(
            features=tuple(features),
            started_at=self._started_at,
            duration_s=time.perf_counter() - self._clock,
            mode=RUN.mode,
            backends=dict(RUN.backends),
            fallbacks=tuple(RUN.fallbacks),
            metrics=summarise(METRICS.samples()),
            selection=selection(self.config),
            dry_run=bool(self.config.dry_run),
            protocol=RUN.protocol,
            target=RUN.target,
            not_checked=dict(RUN.not_checked),
        )

    def _write_reports(self) -> None:
        run = self.build_run()
        json_path = self.json_path
        directory = json_path.parent
        directory.mkdir(parents=True, exist_ok=True)
        if self.stream_opener.name and not self._directory_asked:
            stream = self.open()
            write_cucumber_json(run, stream)
            stream.flush()
        else:
            with json_path.open("w", encoding="utf-8") as handle:
                write_cucumber_json(run, handle)
        html_path = json_path.with_suffix(".html")
        generated_at = run.started_at.isoformat(timespec="seconds")
        metric_paths = write_metrics(
            directory,
            run.metrics,
            mode=run.mode,
            backends=run.backends,
            fallbacks=run.fallbacks,
            generated_at=generated_at,
        )
        companions = [json_path.name] + [path.name for path in metric_paths]
        write_html(run, html_path, companions=companions)
        self._run = run
        self._written = [_shown(path) for path in [html_path, json_path, *metric_paths]]

    def print_closing_block(self) -> None:
        if self._run is None:
            if self._failed:
                sys.stdout.write("\nGolden Path reports: NOT written (see the error above)\n")
                sys.stdout.flush()
            return
        written = list(self._written)
        mark_junit(self.config, self._run, self._started_at.timestamp())
        junit = _junit_files(self.config, self._started_at.timestamp())
        if junit is not None:
            written.append(junit)
        sys.stdout.write(closing_block(self._run, written))
        sys.stdout.flush()


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _junit_files(config: Any, since: float) -> str | None:
    """behave's JUnit directory and how many files this run wrote there."""
    if not getattr(config, "junit", False):
        return None
    directory = Path(getattr(config, "junit_directory", None) or "reports")
    files = list(directory.glob("*.xml")) if directory.is_dir() else []
    count = sum(1 for path in files if path.stat().st_mtime >= since - 1)
    return f"{_shown(directory)}/ ({count} JUnit {'file' if count == 1 else 'files'})"


def selection(config: Any) -> tuple[str, ...]:
    """What narrowed the run, in words; empty when the whole suite was selected."""
    parts: list[str] = []
    tags = getattr(config, "tags", None)
    if tags:
        expressions = [tags] if isinstance(tags, str) else list(tags)
        if len(expressions) == 1:
            text = expressions[0]
        else:
            text = " and ".join(f"({expression})" for expression in expressions)
        parts.append(f"scenarios matching tags {text}")
    names = getattr(config, "name", None)
    if names:
        parts.append("scenarios named like " + " or ".join(f"“{name}”" for name in names))
    for path in getattr(config, "paths", None) or []:
        head, _, tail = str(path).rpartition(":")
        if head and tail.replace(",", "").isdigit():
            noun = "lines" if "," in tail else "line"
            parts.append(f"{noun} {tail} of {_shown(Path(head))}")
    if getattr(config, "include_re", None) is not None:
        parts.append(f"files matching {config.include_re.pattern}")
    if getattr(config, "exclude_re", None) is not None:
        parts.append(f"files not matching {config.exclude_re.pattern}")
    return tuple(parts)
