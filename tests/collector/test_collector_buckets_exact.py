"""Agents → collector → `regression_inputs`: every call lands in the bucket its raw value belongs to.

The regression engine's exceedance test ("calls above a bucket edge", hypergeometric) is exact only if
the stored, merged latency histograms hold each call in the canonical-scale bucket of its raw value.
These tests push lognormal latencies of the widths the benchmarks use (σ_log up to 1.5, several
devices, ok and failed calls) through real agents and a real collector, read the populations back the
way `inferwatch regressions` does, and compare bucket by bucket with the raw values binned exactly.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

import inferwatch
from inferwatch.collector.schema import CANONICAL_SCALE
from inferwatch.queries import connect
from inferwatch.regressions import build_cohorts
from inferwatch.regressions.source import fetch_populations


def exact_buckets(seconds: np.ndarray, scale: int = CANONICAL_SCALE) -> Counter:
    """Bucket i = (2^(i/2^scale), 2^((i+1)/2^scale)] of each value, checked against both edges."""
    out: Counter = Counter()
    step = 2.0**-scale
    for v in seconds.tolist():
        i = math.ceil(math.log2(v) / step) - 1
        while v <= 2.0 ** (i * step):
            i -= 1
        while v > 2.0 ** ((i + 1) * step):
            i += 1
        out[i] += 1
    return out


def stored_buckets(h) -> Counter:
    assert h.scale == CANONICAL_SCALE
    return Counter({h.offset + k: c for k, c in enumerate(h.counts) if c})


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.5])
def test_merged_latency_histograms_hold_every_call_in_its_exact_bucket(collector, tmp_path, sigma):
    rng = np.random.default_rng(int(sigma * 10))
    raw: dict[str, list[np.ndarray]] = {"1": [], "2": []}
    for d, (target, hardware) in enumerate([("edge", "pi"), ("edge", "nuc"), ("cloud", "cpu")] * 2):
        agent = inferwatch.Agent()
        agent.configure(
            service="svc",
            target=target,
            endpoint=collector.url,
            interval_s=3600.0,
            spool_dir=tmp_path / f"spool-{d}",
            device_id=f"dev-{d}",
            hardware=hardware,
        )
        for version in "12":
            n = int(rng.integers(50, 1500))
            lat = rng.lognormal(math.log(0.02), sigma, n)
            err = rng.random(n) < 0.05
            # what the agent stores: whole nanoseconds, then seconds
            raw[version].append(np.array([int(round(x * 1e9)) * 1e-9 for x in lat.tolist()]))
            for x, e in zip(lat.tolist(), err.tolist()):
                agent.record("m", version, duration_s=x, error="TimeoutError" if e else None, confidence=0.9)
        assert agent.flush(10.0)
        agent.shutdown()
    collector.collector.flush()
    source = connect(collector=collector.url)
    rows = {v: fetch_populations(source, {"version": v, "since": "-3h", "until": "now"}) for v in "12"}
    # per model, target and hardware (the named query), then merged per model (as `--split-by model`)
    assert {len(rows["1"]), len(rows["2"])} == {3}
    (cohort,) = build_cohorts(rows["1"], rows["2"], ("model",))
    for version, pop in (("1", cohort.baseline), ("2", cohort.candidate)):
        values = np.concatenate(raw[version])
        assert pop.latency.count == len(values) == pop.calls
        assert stored_buckets(pop.latency) == exact_buckets(values)
