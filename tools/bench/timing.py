"""Timing the service beside its baseline, and turning the samples into figures.

Paired figures interleave their two sides sample by sample (service, raw, raw, service,
...), so a burst of load from something else on the machine lands on both.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from tools.bench.figures import Baseline, Distribution, Figure

__all__ = ["latency_figure", "ms", "paired", "rate_figure"]


def ms(seconds: list[float]) -> list[float]:
    return [s * 1000.0 for s in seconds]


async def paired(
    n: int, warmup: int,
    service: Callable[[int], Awaitable[Any]], raw: Callable[[int], Awaitable[Any]],
    *, quiet: Callable[[], Awaitable[Any]] | None = None,
) -> tuple[list[float], list[float]]:
    """Time `service(i)` and `raw(i)` n times each, alternating which goes first;
    seconds per call. `warmup` calls of each are made first and not kept. `quiet`, when
    given, is awaited (untimed) after each service call: it waits for work the service
    still does after answering, which would otherwise be billed to the next sample."""

    async def settled(i: int) -> None:
        await service(i)
        if quiet is not None:
            started = time.perf_counter()
            await quiet()
            untimed.append(time.perf_counter() - started)

    untimed: list[float] = []
    for i in range(warmup):
        await settled(-1 - i)
        await raw(-1 - i)
    service_s: list[float] = []
    raw_s: list[float] = []
    for i in range(n):
        sides = ((settled, service_s), (raw, raw_s))
        for call, samples in sides if i % 2 == 0 else reversed(sides):
            untimed.clear()
            started = time.perf_counter()
            await call(i)
            samples.append(time.perf_counter() - started - sum(untimed))
    return service_s, raw_s


def latency_figure(name: str, service_s: list[float], raw_s: list[float], q: int,
                   baseline: str, about: str, path: str) -> Figure:
    """A p50 or p99 latency (`q` 50 or 99) in ms beside the baseline's same percentile."""
    samples, raw_samples = Distribution.of(ms(service_s)), Distribution.of(ms(raw_s))
    value = samples.p50 if q == 50 else samples.p99
    raw_value = raw_samples.p50 if q == 50 else raw_samples.p99
    return Figure(name, "ms", value, samples, "ms",
                  Baseline(f"{baseline} (p{q})", raw_value, raw_samples), about, path)


def rate_figure(name: str, ops: int, service_s: list[float], raw_s: list[float],
                baseline: str, about: str, path: str) -> Figure:
    """Operations per second over rounds of `ops` operations, beside the baseline's."""
    rates = [ops / s for s in service_s]
    raw_rates = [ops / s for s in raw_s]
    return Figure(name, "ops/s", ops * len(service_s) / sum(service_s),
                  Distribution.of(rates), "ops/s per round",
                  Baseline(baseline, ops * len(raw_s) / sum(raw_s), Distribution.of(raw_rates)),
                  about, path)
