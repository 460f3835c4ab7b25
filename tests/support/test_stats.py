"""The one percentile (support.stats): nearest rank, exact at its edges."""

from __future__ import annotations

import pytest

from support.stats import percentile

TWENTY = [float(x) for x in range(1, 21)]
TWENTY_ONE = [float(x) for x in range(1, 22)]


def test_one_sample_is_every_percentile() -> None:
    for fraction in (0.0, 0.01, 0.5, 0.95, 0.99, 1.0):
        assert percentile([7.5], fraction) == 7.5


def test_two_samples_split_at_the_median() -> None:
    assert percentile([2.0, 1.0], 0.5) == 1.0
    assert percentile([2.0, 1.0], 0.51) == 2.0
    assert percentile([2.0, 1.0], 0.95) == 2.0


def test_p0_is_the_smallest_and_p100_the_largest() -> None:
    samples = [5.0, 3.0, 9.0, 1.0]
    assert percentile(samples, 0.0) == 1.0
    assert percentile(samples, 1.0) == 9.0


def test_p95_of_20_samples_is_the_19th() -> None:
    assert percentile(TWENTY, 0.95) == 19.0
    assert percentile(TWENTY, 0.9501) == 20.0


def test_p95_of_21_samples_is_the_20th() -> None:
    assert percentile(TWENTY_ONE, 0.95) == 20.0
    assert percentile(TWENTY_ONE, 0.9) == 19.0


def test_the_rank_is_exact_where_binary_floats_are_not() -> None:
    hundred = [float(x) for x in range(1, 101)]
    assert percentile(hundred, 0.07) == 7.0
    assert percentile(hundred, 0.99) == 99.0


def test_the_order_of_the_samples_does_not_matter() -> None:
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


@pytest.mark.parametrize("fraction", [-0.01, 1.01])
def test_a_fraction_outside_0_to_1_is_refused(fraction: float) -> None:
    with pytest.raises(ValueError):
        percentile([1.0], fraction)


def test_no_samples_have_no_percentile() -> None:
    with pytest.raises(ValueError):
        percentile([], 0.5)
