"""Fixtures: populations built from raw samples through the agent's own histograms."""

from __future__ import annotations

import numpy as np
import pytest

from inferwatch.histogram import ExponentialHistogram, LinearHistogram
from inferwatch.regressions import ConfidenceHistogram, LatencyHistogram, Memory, Population


def population_from_samples(
    latency_s, errors=0, confidence=None, memory_avg=None, memory_peak=None, max_buckets=160
):
    """A Population whose histograms hold exactly these raw values."""
    lat = ExponentialHistogram(max_buckets=max_buckets)
    lat.add_many(np.asarray(latency_s, dtype=float).tolist())
    conf = None
    if confidence is not None:
        c = LinearHistogram()
        c.add_many(np.asarray(confidence, dtype=float).tolist())
        conf = ConfidenceHistogram.from_linear(c)
    mem = None if memory_avg is None else Memory.from_windows(memory_avg, memory_peak)
    return Population(
        calls=len(latency_s),
        errors=int(errors),
        latency=LatencyHistogram.from_exponential(lat),
        confidence=conf,
        memory=mem,
    )


@pytest.fixture
def make_population():
    """A factory: raw samples → Population (see population_from_samples)."""
    return population_from_samples


@pytest.fixture
def rng():
    """A seeded numpy Generator."""
    return np.random.default_rng(12345)
