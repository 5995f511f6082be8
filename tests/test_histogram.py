"""The histograms: OTel's exponential bucket mapping, rescaling, merging, quantiles."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferwatch.histogram import (
    CONFIDENCE_BOUNDS,
    ExponentialHistogram,
    LinearHistogram,
    exponential_quantile,
)

positive = st.floats(min_value=1e-9, max_value=1e6, allow_nan=False, allow_infinity=False)


def _bucket_bounds(index: int, scale: int) -> tuple[float, float]:
    width = 2.0**-scale
    return 2.0 ** (index * width), 2.0 ** ((index + 1) * width)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(positive, min_size=1, max_size=200))
def test_every_value_lands_in_a_bucket_that_contains_it(values):
    h = ExponentialHistogram()
    h.add_many(values)
    assert len(h.buckets) <= h.max_buckets
    assert h.count == len(values) and sum(h.buckets.values()) == len(values)
    for v in values:
        i = next(i for i in h.buckets if _contains(i, h.scale, v))
        assert h.buckets[i] >= 1


def _contains(index: int, scale: int, v: float) -> bool:
    lo, hi = _bucket_bounds(index, scale)
    return lo * (1 - 1e-12) <= v <= hi * (1 + 1e-12)


def test_powers_of_two_sit_at_the_upper_edge_of_their_bucket():
    for scale in (-2, 0, 3, 8):
        h = ExponentialHistogram(scale=scale)
        h.add_many([1.0, 2.0, 0.5])
        # (base**i, base**(i+1)]: 1.0 is the upper edge of bucket -1.
        step = 2 ** max(h.scale, 0)  # scale 8 is lowered to fit 0.5..2 in 160 buckets
        expected = {-1, step - 1, -step - 1} if h.scale >= 0 else {-1, 0}
        assert set(h.buckets) == expected


def test_rescaling_keeps_the_bucket_count_within_the_limit():
    h = ExponentialHistogram(max_buckets=160)
    h.add_many([1e-6, 1.0, 1e3])
    assert h.scale <= 3 and len(h.buckets) == 3
    assert max(h.buckets) - min(h.buckets) + 1 <= 160


@settings(max_examples=100, deadline=None)
@given(a=st.lists(positive, max_size=100), b=st.lists(positive, max_size=100))
def test_merging_equals_adding_everything_to_one_histogram(a, b):
    one, two, both = ExponentialHistogram(), ExponentialHistogram(), ExponentialHistogram()
    one.add_many(a)
    two.add_many(b)
    both.add_many(a + b)
    one.merge(two)
    assert one.count == both.count
    # Different arrival orders may end at different scales: compare at the coarser one.
    scale = min(one.scale, both.scale)
    def at(h):
        out = {}
        for i, c in h.buckets.items():
            out[i >> (h.scale - scale)] = out.get(i >> (h.scale - scale), 0) + c
        return out
    assert at(one) == at(both)
    assert one.sum == pytest.approx(both.sum)


def test_zero_durations_are_counted_in_the_zero_bucket():
    h = ExponentialHistogram()
    h.add_many([0.0, 0.0, 1.0])
    assert h.zero_count == 2 and h.count == 3
    assert h.quantile(0.5) == 0.0


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.5])
def test_lognormal_quantiles_are_within_one_percent(sigma):
    rng = np.random.default_rng(1)
    values = rng.lognormal(mean=-4, sigma=sigma, size=20_000)
    h = ExponentialHistogram()
    h.add_many(values.tolist())
    for q in (0.5, 0.95, 0.99):
        exact = float(np.quantile(values, q))
        assert abs(h.quantile(q) - exact) / exact < 0.01, (sigma, q, h.scale)


def test_exponential_quantile_of_an_empty_histogram_is_nan():
    assert math.isnan(exponential_quantile(3, 0, 0, [], 0.5))


def test_confidence_buckets_are_005_wide_and_upper_inclusive():
    assert len(CONFIDENCE_BOUNDS) == 199
    assert CONFIDENCE_BOUNDS[0] == 0.005 and CONFIDENCE_BOUNDS[-1] == 0.995
    h = LinearHistogram()
    h.add_many([0.0, 0.005, 0.0051, 0.5, 1.0])
    assert h.counts[0] == 2  # 0.0 and the edge 0.005
    assert h.counts[1] == 1
    assert h.counts[99] == 1  # (0.495, 0.5]
    assert h.counts[199] == 1


def test_confidence_quantiles_are_within_001():
    rng = random.Random(3)
    values = [rng.betavariate(8, 2) for _ in range(10_000)]
    h = LinearHistogram()
    h.add_many(values)
    for q in (0.05, 0.5, 0.95):
        assert abs(h.quantile(q) - float(np.quantile(values, q))) < 0.01
