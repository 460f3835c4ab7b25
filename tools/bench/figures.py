"""Figures of the benchmark: a measured value beside the raw baseline measured in the same
run, their ratio, and the distribution of the samples behind them.

Absolute times on a shared machine move with whatever else runs on it; a ratio of two
things measured side by side, in one process and one minute, holds. So every figure
carries its baseline (or says plainly that it has none), and targets are read from
ratios wherever the issue states them that way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from support.stats import percentile


@dataclass(frozen=True)
class Distribution:
    """Count and percentiles (nearest rank, `support.stats`) of a list of samples, all
    in one unit; NaN percentiles when there are none."""

    n: int
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Distribution:
        if not samples:
            return cls(0, math.nan, math.nan, math.nan)
        return cls(len(samples), percentile(samples, 0.50), percentile(samples, 0.95),
                   percentile(samples, 0.99))

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.n, "p50": _round(self.p50), "p95": _round(self.p95),
                "p99": _round(self.p99)}


@dataclass(frozen=True)
class Baseline:
    """What the raw driver or library does for the same work, in the figure's unit."""

    name: str
    value: float
    samples: Distribution | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "value": _round(self.value)}
        if self.samples is not None:
            out.update(self.samples.as_dict())
        return out


@dataclass(frozen=True)
class Figure:
    """One benchmark figure. `value` is in `unit`; the percentiles describe the samples
    behind it, in `percentile_unit` (per-operation milliseconds for a rate, for example).
    `path` says how the service and its baseline reach what they share (the same
    driver, the same WebSocket library), e.g. "asyncpg through SQLAlchemy's async
    engine, both sides"."""

    name: str
    unit: str
    value: float
    samples: Distribution
    percentile_unit: str
    baseline: Baseline | None = None
    about: str = ""
    path: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or not self.baseline.value or math.isnan(self.baseline.value):
            return None
        return self.value / self.baseline.value

    def as_dict(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "name": self.name,
            "unit": self.unit,
            "value": _round(self.value),
            "baseline": None if self.baseline is None else self.baseline.as_dict(),
            "ratio": None if ratio is None else _round(ratio),
            **self.samples.as_dict(),
            "percentile_unit": self.percentile_unit,
            "about": self.about,
            "path": self.path,
        }


@dataclass(frozen=True)
class Target:
    """A goal read from the benchmark (never a timed test): `rule` in words, `holds`
    judges the figure."""

    figure: str
    rule: str
    holds: Callable[[Figure], bool]

    def verdict(self, figures: Sequence[Figure]) -> str:
        found = [f for f in figures if f.name == self.figure]
        if not found:
            return "not measured"
        try:
            return "pass" if self.holds(found[0]) else "miss"
        except TypeError:
            return "not measured"


def _ratio_at_most(limit: float) -> Callable[[Figure], bool]:
    def holds(figure: Figure) -> bool:
        ratio = figure.ratio
        if ratio is None:
            raise TypeError("no baseline")
        return ratio <= limit
    return holds


def _ratio_at_least(limit: float) -> Callable[[Figure], bool]:
    def holds(figure: Figure) -> bool:
        ratio = figure.ratio
        if ratio is None:
            raise TypeError("no baseline")
        return ratio >= limit
    return holds


def _value_at_most(limit: float) -> Callable[[Figure], bool]:
    return lambda figure: figure.value <= limit


TARGETS: tuple[Target, ...] = (
    Target("golden_path.run_latency_p50", "ratio <= 8", _ratio_at_most(8)),
    Target("golden_path.concurrent_200.lost", "value = 0", lambda f: f.value == 0),
    Target("golden_path.concurrent_200.wall_s", "value <= 3 s", _value_at_most(3)),
    Target("store.thread_create_p50", "ratio <= 1.5", _ratio_at_most(1.5)),
    Target("store.message_batch10_p50", "ratio <= 1.5", _ratio_at_most(1.5)),
    Target("store.result_store_p50", "ratio <= 1.5", _ratio_at_most(1.5)),
    Target("store.history_read_p50", "ratio <= 1.5", _ratio_at_most(1.5)),
    Target("cache.set_get_ops_per_s", "ratio >= 0.75", _ratio_at_least(0.75)),
    Target("cache.batch_ops_per_s", "ratio >= 0.75", _ratio_at_least(0.75)),
    Target("gateway.connect_auth_p50", "ratio <= 2", _ratio_at_most(2)),
    Target("gateway.idle_conn_kib", "value <= 64 KiB", _value_at_most(64)),
)

FIGURE_NAMES: tuple[str, ...] = (
    "golden_path.run_latency_p50",
    "golden_path.run_latency_p99",
    "golden_path.runs_per_s",
    "golden_path.concurrent_200.wall_s",
    "golden_path.concurrent_200.p99_ms",
    "golden_path.concurrent_200.lost",
    "store.thread_create_p50",
    "store.message_batch10_p50",
    "store.result_store_p50",
    "store.history_read_p50",
    "cache.set_get_ops_per_s",
    "cache.batch_ops_per_s",
    "gateway.connect_auth_p50",
    "gateway.idle_conn_kib",
)


def _round(value: float) -> float | None:
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return round(value, 4)
