"""The one percentile definition of the project's reports: nearest rank.

The suite's run figures (`support.reports.figures`) and the benchmark (`tools.bench`)
both read their p50/p95/p99 here, so a p95 means the same in every report: the smallest
sample with at least 95 % of the samples at or below it, always a value really observed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

__all__ = ["percentile"]


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of non-empty `samples`, `fraction` in 0..1 (0.95 for p95):
    the sample of rank ceil(fraction * n) in ascending order, rank 1 at least.

    `fraction` is taken as the decimal it is written as (0.07 is 7/100, not the binary
    float just below it), so the rank is exact: p7 of 100 samples is the 7th."""
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= fraction <= 1:
        raise ValueError(f"percentile fraction {fraction} is outside 0..1")
    ordered = sorted(samples)
    rank = max(1, math.ceil(Fraction(str(fraction)) * len(ordered)))
    return ordered[rank - 1]
