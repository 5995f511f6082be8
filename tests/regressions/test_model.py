"""Input types: conversions from the agent's and the collector's histograms, merging, bucket maths."""

from __future__ import annotations

import numpy as np
import pytest

from inferwatch.histogram import ExponentialHistogram, LinearHistogram
from inferwatch.regressions import ConfidenceHistogram, LatencyHistogram, Population, Sample
from inferwatch.regressions.buckets import confidence_bins, latency_bins


def test_latency_quantiles_match_the_agent_histogram(rng):
    h = ExponentialHistogram()
    h.add_many(rng.lognormal(-4, 0.8, 10_000).tolist())
    bins = latency_bins(LatencyHistogram.from_exponential(h))
    for q in (0.0, 0.01, 0.5, 0.95, 0.99, 1.0):
        assert bins.quantile(q) == pytest.approx(h.quantile(q), rel=1e-9)


def test_confidence_quantiles_match_the_agent_histogram(rng):
    h = LinearHistogram()
    h.add_many(rng.beta(8, 2, 10_000).tolist())
    bins = confidence_bins(ConfidenceHistogram.from_linear(h))
    for q in (0.05, 0.5, 0.95):
        assert bins.quantile(q) == pytest.approx(h.quantile(q), rel=1e-9)


def test_order_statistic_bounds_bracket_the_raw_order_statistics(rng):
    raw = rng.lognormal(-4, 0.8, 3000)
    h = ExponentialHistogram()
    h.add_many(raw.tolist())
    bins = latency_bins(LatencyHistogram.from_exponential(h))
    xs = np.sort(raw)
    for lo, hi in ((1, 3000), (120, 180), (2850, 2900)):
        low, high = bins.order_statistic_bounds(lo, hi)
        assert low <= xs[lo - 1] and xs[hi - 1] <= high


def test_collector_struct_becomes_a_histogram():
    row = {
        "scale": 4,
        "width": 0.0,
        "idx0": -100,
        "counts": [1, 0, 3],
        "zero_count": 2,
        "count": 6,
        "sum": 0.1,
        "min": 0.0,
        "max": 0.02,
        "unit": 1000.0,
    }
    h = LatencyHistogram.from_mapping(row)
    assert (h.scale, h.offset, h.counts, h.zero_count, h.count) == (4, -100, (1, 0, 3), 2, 6)
    conf = ConfidenceHistogram.from_mapping({"width": 0.005, "idx0": 190, "counts": [4, 6], "sum": 9.6})
    assert conf.count == 10 and conf.dense()[190] == 4 and conf.dense()[191] == 6


def test_merging_latency_histograms_of_different_scales_keeps_every_count(rng):
    a, b = ExponentialHistogram(max_buckets=40), ExponentialHistogram()
    a.add_many(rng.lognormal(-4, 1.5, 2000).tolist())
    b.add_many(rng.lognormal(-4, 0.2, 3000).tolist())
    la, lb = LatencyHistogram.from_exponential(a), LatencyHistogram.from_exponential(b)
    assert la.scale != lb.scale
    m = la.merge(lb)
    a.merge(b)
    assert m.scale == a.scale and m.count == 5000 and (m.offset, list(m.counts)) == a.dense()


def test_population_rejects_more_errors_than_calls():
    with pytest.raises(ValueError, match="errors"):
        Population(calls=3, errors=4)


def test_sample_merge_equals_the_summary_of_all_values(rng):
    x, y = rng.normal(5, 2, 7), rng.normal(6, 1, 4)
    merged = Sample.from_values(x).merge(Sample.from_values(y))
    both = np.concatenate([x, y])
    assert merged.n == 11 and merged.mean == pytest.approx(both.mean())
    assert merged.sd == pytest.approx(both.std(ddof=1)) and merged.max == both.max()
