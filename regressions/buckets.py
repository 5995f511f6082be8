"""Bucket arithmetic on histograms: common edges, interpolated quantiles and CDFs, order-statistic bounds."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .model import CONFIDENCE_BUCKETS, ConfidenceHistogram, LatencyHistogram

__all__ = ["Bins", "aligned_latency", "confidence_bins", "latency_bins"]


@dataclass(frozen=True)
class Bins:
    """A histogram as ordered buckets ``(lower[k], upper[k]]`` with counts, observed min/max and a scale kind.

    ``log`` selects log-linear interpolation inside buckets (exponential histograms) instead of linear.
    A first bucket with ``lower == upper == 0`` holds exact zeros.
    """

    lower: np.ndarray
    upper: np.ndarray
    counts: np.ndarray
    lo: float
    hi: float
    log: bool

    @functools.cached_property
    def n(self) -> int:
        """Number of values."""
        return int(self.counts.sum())

    @functools.cached_property
    def cum(self) -> np.ndarray:
        """Cumulative counts (``cum[k]`` = values in buckets 0..k)."""
        return np.cumsum(self.counts)

    def _interpolate(self, k: int, fraction: float) -> float:
        a, b = float(self.lower[k]), float(self.upper[k])
        if self.log and a > 0:
            value = a * (b / a) ** fraction
        else:
            value = a + (b - a) * fraction
        return min(max(value, self.lo), self.hi)

    def quantile(self, q: float) -> float:
        """The q-quantile, interpolated inside its bucket and clamped to [min, max] (as the agent does)."""
        n = self.n
        if n == 0:
            return math.nan
        cum = self.cum
        rank = q * n
        k = int(np.searchsorted(cum, rank, side="left"))
        if rank <= 0:
            k = int(np.flatnonzero(self.counts)[0])
        k = min(k, len(cum) - 1)
        before = float(cum[k] - self.counts[k])
        return self._interpolate(k, (rank - before) / float(self.counts[k]))

    def cdf(self, x: float) -> float:
        """Share of values ≤ x, interpolated inside the bucket that holds x."""
        n = self.n
        if n == 0:
            return math.nan
        if x >= self.hi:
            return 1.0
        k = int(np.searchsorted(self.upper, x, side="left"))
        if k >= len(self.upper):
            return 1.0
        below = float(self.cum[k] - self.counts[k])
        a, b = float(self.lower[k]), float(self.upper[k])
        if x <= a or b <= a:
            fraction = 0.0 if x < b else 1.0
        elif self.log and a > 0:
            fraction = math.log(x / a) / math.log(b / a)
        else:
            fraction = (x - a) / (b - a)
        return (below + float(self.counts[k]) * fraction) / n

    def rank_bucket(self, rank: int) -> int:
        """Index of the bucket holding the rank-th smallest value (1-based rank, clamped to [1, n])."""
        rank = min(max(rank, 1), self.n)
        return int(np.searchsorted(self.cum, rank, side="left"))

    def order_statistic_bounds(self, lower_rank: int, upper_rank: int) -> tuple[float, float]:
        """A value surely ≤ the lower_rank-th and one surely ≥ the upper_rank-th order statistic.

        Ranks outside [1, n] give -inf / +inf (the bound is not observed).
        """
        n = self.n
        low = -math.inf if lower_rank < 1 else max(float(self.lower[self.rank_bucket(lower_rank)]), self.lo)
        high = math.inf if upper_rank > n else min(float(self.upper[self.rank_bucket(upper_rank)]), self.hi)
        return low, high


def _clamp_range(lo: float, hi: float, default_lo: float, default_hi: float) -> tuple[float, float]:
    return (default_lo if math.isnan(lo) else lo), (default_hi if math.isnan(hi) else hi)


def latency_bins(
    h: LatencyHistogram, scale: int | None = None, index_range: tuple[int, int] | None = None
) -> Bins:
    """Buckets of an exponential histogram, optionally downscaled and spread over an inclusive index range."""
    scale = h.scale if scale is None else scale
    shift = h.scale - scale
    if shift < 0:
        raise ValueError(f"cannot upscale a histogram from scale {h.scale} to {scale}")
    idx = (np.arange(len(h.counts), dtype=np.int64) + h.offset) >> shift
    if index_range is None:
        first, last = (int(idx[0]), int(idx[-1])) if len(idx) else (0, -1)
    else:
        first, last = index_range
    size = last - first + 2  # slot 0: exact zeros
    if len(idx):
        weights = np.asarray(h.counts, dtype=np.float64)
        counts = np.bincount(idx - first + 1, weights=weights, minlength=size).astype(np.int64)
    else:
        counts = np.zeros(size, dtype=np.int64)
    counts[0] = h.zero_count
    j = np.arange(first, last + 1, dtype=np.float64)
    width = 2.0**-scale
    lower = np.concatenate(([0.0], np.exp2(j * width)))
    upper = np.concatenate(([0.0], np.exp2((j + 1) * width)))
    lo, hi = _clamp_range(h.min, h.max, 0.0, math.inf)
    return Bins(lower, upper, counts, lo, hi, log=True)


def aligned_latency(a: LatencyHistogram, b: LatencyHistogram) -> tuple[Bins, Bins]:
    """Both histograms on the same buckets: the coarser scale and the union of their index ranges."""
    scale = min(a.scale, b.scale)
    ranges = []
    for h in (a, b):
        if h.counts:
            shift = h.scale - scale
            ranges.append((h.offset >> shift, (h.offset + len(h.counts) - 1) >> shift))
    first = min((r[0] for r in ranges), default=0)
    last = max((r[1] for r in ranges), default=-1)
    return latency_bins(a, scale, (first, last)), latency_bins(b, scale, (first, last))


_CONF_LOWER = np.arange(CONFIDENCE_BUCKETS, dtype=np.float64) * 0.005
_CONF_UPPER = _CONF_LOWER + 0.005


def confidence_bins(h: ConfidenceHistogram) -> Bins:
    """The 200 linear buckets of a confidence histogram over [0, 1]."""
    lo, hi = _clamp_range(h.min, h.max, 0.0, 1.0)
    return Bins(_CONF_LOWER, _CONF_UPPER, h.dense(), lo, hi, log=False)
