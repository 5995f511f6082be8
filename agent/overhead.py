"""Measure the hot path's added latency per call, in this process, on this machine."""

from __future__ import annotations

import statistics
from time import perf_counter_ns

from .observe import _wrap
from .series import Series

__all__ = ["measure_overhead_ns"]


def _noop(x):
    return x


def measure_overhead_ns(batches: int = 15, calls: int = 100) -> float:
    """Median over batches of (wrapped - bare) ns per call of a no-op; a private series, not exported."""
    series = Series("_calibration", "")
    wrapped = _wrap(_noop, series, None)
    diffs = []
    for _ in range(batches):
        t0 = perf_counter_ns()
        for i in range(calls):
            _noop(i)
        t1 = perf_counter_ns()
        for i in range(calls):
            wrapped(i)
        t2 = perf_counter_ns()
        diffs.append(((t2 - t1) - (t1 - t0)) / calls)
        series.drain()
    return max(0.0, statistics.median(diffs))
