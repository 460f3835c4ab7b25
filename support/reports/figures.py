"""The run's latency figures: count, p50, p95, p99 and max per golden-path operation.

`support.metrics.METRICS` holds the raw durations the harness observed; this module
turns them into the summary that `reports/metrics.json`, `reports/metrics.md`, the HTML
page and the console show, always next to the backends they were measured on (a figure
from fakeredis says nothing about Redis). Percentiles use the nearest-rank method, so
every figure shown is a duration that was really observed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from support.metrics import OPERATIONS
from support.stats import percentile

LABELS = {
    "connect_auth": "Connect and authenticate",
    "first_event": "First event after a message",
    "message_to_completed": "Message to completed answer",
    "thread_creation": "Thread creation",
    "message_store": "Message stored",
    "cache_set_get": "Cache set and get",
}
"""Plain names of the operations, for people reading the reports."""

HEADLINE = ("connect_auth", "first_event", "message_to_completed")
"""Operations the console names at the end of a run."""


@dataclass(frozen=True)
class OperationFigures:
    operation: str
    label: str
    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class MetricsSummary:
    operations: tuple[OperationFigures, ...]
    not_observed: tuple[str, ...]

    def get(self, operation: str) -> OperationFigures | None:
        return next((op for op in self.operations if op.operation == operation), None)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def summarise(samples: Mapping[str, Sequence[float]]) -> MetricsSummary:
    """Summarise raw samples (seconds) in the fixed operation order, then any others."""
    names = [name for name in OPERATIONS if samples.get(name)]
    names += sorted(name for name in samples if name not in OPERATIONS and samples[name])
    figures = tuple(
        OperationFigures(
            operation=name,
            label=LABELS.get(name, name.replace("_", " ").capitalize()),
            count=len(samples[name]),
            p50_ms=_ms(percentile(samples[name], 0.50)),
            p95_ms=_ms(percentile(samples[name], 0.95)),
            p99_ms=_ms(percentile(samples[name], 0.99)),
            max_ms=_ms(max(samples[name])),
        )
        for name in names
    )
    missing = tuple(name for name in OPERATIONS if not samples.get(name))
    return MetricsSummary(figures, missing)


def format_ms(value: float) -> str:
    """A duration in milliseconds as people read it: 0.42 ms, 12.3 ms, 1.25 s."""
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


def metrics_document(
    summary: MetricsSummary,
    *,
    mode: str,
    backends: Mapping[str, str],
    fallbacks: Sequence[str],
    generated_at: str,
) -> dict[str, Any]:
    """The content of metrics.json."""
    return {
        "generated_at": generated_at,
        "unit": "ms",
        "percentile_method": "nearest-rank",
        "mode": mode,
        "backends": dict(backends),
        "fallbacks": list(fallbacks),
        "operations": {
            op.operation: _without(asdict(op), "operation") for op in summary.operations
        },
        "not_observed": list(summary.not_observed),
    }


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    data.pop(key, None)
    return data


def metrics_markdown(
    summary: MetricsSummary,
    *,
    mode: str,
    backends: Mapping[str, str],
    fallbacks: Sequence[str],
    generated_at: str,
) -> str:
    """The content of metrics.md: the same figures as a table people can paste."""
    lines = [
        "# Golden path metrics",
        "",
        f"Run of {generated_at}, backends mode `{mode}`.",
        "",
    ]
    if backends:
        lines += ["| part | backend |", "| --- | --- |"]
        lines += [f"| {part} | {_cell(text)} |" for part, text in backends.items()]
        lines.append("")
    for sentence in fallbacks:
        lines.append(f"> **Fallback:** {sentence}")
    if fallbacks:
        lines.append("")
    if summary.operations:
        lines += [
            "| operation | count | p50 | p95 | p99 | max |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for op in summary.operations:
            lines.append(
                f"| {op.label} | {op.count} | {format_ms(op.p50_ms)} | {format_ms(op.p95_ms)}"
                f" | {format_ms(op.p99_ms)} | {format_ms(op.max_ms)} |"
            )
    else:
        lines.append("No golden-path operation was measured in this run.")
    if summary.not_observed:
        names = ", ".join(LABELS.get(name, name) for name in summary.not_observed)
        lines += ["", f"Not observed in this run: {names}."]
    lines += ["", "Percentiles by nearest rank: each figure is an observed duration.", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def write_metrics(
    directory: Path,
    summary: MetricsSummary,
    *,
    mode: str,
    backends: Mapping[str, str],
    fallbacks: Sequence[str],
    generated_at: str,
) -> list[Path]:
    """Write metrics.json and metrics.md into `directory`; return their paths."""
    context: dict[str, Any] = {
        "mode": mode,
        "backends": backends,
        "fallbacks": fallbacks,
        "generated_at": generated_at,
    }
    json_path = directory / "metrics.json"
    json_path.write_text(
        json.dumps(metrics_document(summary, **context), indent=2) + "\n", encoding="utf-8"
    )
    md_path = directory / "metrics.md"
    md_path.write_text(metrics_markdown(summary, **context), encoding="utf-8")
    return [json_path, md_path]
