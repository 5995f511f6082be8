"""Event-share e-process: valid under repeated looks, quick on real regressions, exact counting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferwatch.histogram import ExponentialHistogram
from inferwatch.regressions import EventShareEProcess, LatencyHistogram
from inferwatch.regressions.sequential import count_above, edge_index


def _rollout(rng, rate_b, rate_c, looks=50, calls=400, alpha=0.05):
    e = EventShareEProcess(alpha=alpha)
    for look in range(looks):
        share = min(0.5, 0.05 * (look + 1))  # a ramp: 5% → 50% of traffic
        n_c = int(calls * share)
        n_b = calls - n_c
        e.update_calls(int(rng.binomial(n_b, rate_b)), n_b, int(rng.binomial(n_c, rate_c)), n_c)
    return e


def test_false_alarms_stay_below_alpha_however_often_we_look():
    rng = np.random.default_rng(1)
    alarms = sum(_rollout(rng, 0.02, 0.02).rejected for _ in range(400))
    assert alarms / 400 <= 0.05


def test_a_doubled_error_rate_is_caught_during_the_rollout():
    rng = np.random.default_rng(2)
    runs = [_rollout(rng, 0.02, 0.04) for _ in range(50)]
    assert np.mean([r.rejected for r in runs]) >= 0.9
    assert np.median([r.rejected_at for r in runs if r.rejected]) < 50


def test_a_window_at_once_equals_its_events_one_by_one():
    whole, single = EventShareEProcess(), EventShareEProcess()
    whole.update(7, 12, 0.3)
    for y in [1] * 12 + [0] * 7:
        single.update(1 - y, y, 0.3)
    assert whole.log_e_value == pytest.approx(single.log_e_value)


def test_e_value_is_the_mixture_of_likelihood_ratios():
    e = EventShareEProcess(thetas=(2.0,))
    e.update(3, 5, 0.25)
    assert e.e_value == pytest.approx(2.0**5 / (0.75 + 2.0 * 0.25) ** 8)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        EventShareEProcess(alpha=1.5)
    with pytest.raises(ValueError):
        EventShareEProcess().update(1, 1, 1.2)


def test_count_above_a_fixed_edge_is_exact_on_the_raw_samples():
    rng = np.random.default_rng(3)
    raw = rng.lognormal(-4, 0.7, 5000)
    h = ExponentialHistogram()
    h.add_many(raw.tolist())
    lat = LatencyHistogram.from_exponential(h)
    idx = edge_index(lat, 0.95, scale=2)
    edge = 2.0 ** ((idx + 1) / 4)
    assert count_above(lat, idx, scale=2) == int((raw > edge).sum())
    assert 0.0 < count_above(lat, idx, scale=2) / raw.size <= 0.05 + 1e-9
    with pytest.raises(ValueError, match="coarser"):
        count_above(LatencyHistogram(1, 0, (1,)), 0, scale=2)
    assert math.isfinite(edge)
