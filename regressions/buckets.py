"""Bucket arithmetic on histograms: common edges, interpolated quantiles and CDFs, order-statistic bounds."""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .model import CONFIDENCE_BUCKETS, ConfidenceHistogram, LatencyHistogram

__all__ = [
    "BinMatrix",
    "Bins",
    "aligned_latency",
    "aligned_latency_matrix",
    "confidence_bins",
    "confidence_matrix",
    "latency_bins",
]


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


# ------------------------------------------------------------------------------------------------
# Many histograms at once: one row per cohort, padded to a common width (the engine's fast path).


def _rank_index(cum: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Per row, the first column whose cumulative count is ≥ rank (`searchsorted(..., "left")`)."""
    return (cum < rank[:, None]).sum(axis=1)


@dataclass(frozen=True)
class BinMatrix:
    """Row i is a histogram as `Bins` is: ``(lower[i, k], upper[i, k]]`` with counts, min/max per row.

    Rows are padded with empty buckets (edges continue, counts 0), which changes no statistic.
    Edges may be shared by all rows (shape ``(1, width)``).
    """

    lower: np.ndarray
    upper: np.ndarray
    counts: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    log: bool

    @functools.cached_property
    def n(self) -> np.ndarray:
        """Values per row."""
        return self.counts.sum(axis=1)

    @functools.cached_property
    def cum(self) -> np.ndarray:
        """Cumulative counts per row."""
        return np.cumsum(self.counts, axis=1)

    def _at(self, m: np.ndarray, k: np.ndarray) -> np.ndarray:
        rows = np.arange(len(k)) if m.shape[0] > 1 else np.zeros(len(k), dtype=np.int64)
        return m[rows, k]

    def row(self, i: int) -> Bins:
        """Row i as `Bins` (padding included)."""
        j = i if self.lower.shape[0] > 1 else 0
        return Bins(
            self.lower[j], self.upper[j], self.counts[i], float(self.lo[i]), float(self.hi[i]), self.log
        )

    def _interpolate(self, k: np.ndarray, fraction: np.ndarray) -> np.ndarray:
        a, b = self._at(self.lower, k), self._at(self.upper, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.log:
                value = np.where(a > 0, a * (b / np.where(a > 0, a, 1.0)) ** fraction, a + (b - a) * fraction)
            else:
                value = a + (b - a) * fraction
        return np.minimum(np.maximum(value, self.lo), self.hi)

    def quantile(self, q: float) -> np.ndarray:
        """`Bins.quantile` per row (NaN for an empty row)."""
        n = self.n
        rank = q * n
        k = _rank_index(self.cum, rank)
        if q <= 0:
            k = np.argmax(self.counts > 0, axis=1)
        k = np.minimum(k, self.counts.shape[1] - 1)
        c = self._at(self.counts, k)
        before = self._at(self.cum, k) - c
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = (rank - before) / c
        return np.where(n > 0, self._interpolate(k, fraction), np.nan)

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """`Bins.cdf` per row at x[i]."""
        x = np.broadcast_to(np.asarray(x, dtype=np.float64), self.n.shape)
        upper = np.broadcast_to(self.upper, self.counts.shape)
        k = np.minimum((upper < x[:, None]).sum(axis=1), self.counts.shape[1] - 1)
        c = self._at(self.counts, k).astype(np.float64)
        below = self._at(self.cum, k) - c
        a, b = self._at(self.lower, k), self._at(self.upper, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.log:
                inside = np.where(a > 0, np.log(x / a) / np.log(b / a), (x - a) / (b - a))
            else:
                inside = (x - a) / (b - a)
        fraction = np.where((x <= a) | (b <= a), np.where(x < b, 0.0, 1.0), inside)
        n = self.n
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(x >= self.hi, 1.0, (below + c * fraction) / n)
        return np.where(n > 0, np.minimum(out, 1.0), np.nan)

    def rank_bucket(self, rank: np.ndarray) -> np.ndarray:
        """`Bins.rank_bucket` per row."""
        rank = np.clip(rank, 1, np.maximum(self.n, 1))
        return _rank_index(self.cum, rank)

    def order_statistic_bounds(self, lower_rank: np.ndarray, upper_rank: np.ndarray):
        """`Bins.order_statistic_bounds` per row: (lows, highs)."""
        low = np.maximum(self._at(self.lower, self.rank_bucket(lower_rank)), self.lo)
        high = np.minimum(self._at(self.upper, self.rank_bucket(upper_rank)), self.hi)
        return np.where(lower_rank < 1, -np.inf, low), np.where(upper_rank > self.n, np.inf, high)


def _nan_to(values: list[float], default: float) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(a), default, a)


def aligned_latency_matrix(
    baseline: Sequence[LatencyHistogram], candidate: Sequence[LatencyHistogram]
) -> tuple[BinMatrix, BinMatrix]:
    """`aligned_latency` for many pairs at once: row i holds pair i on its common buckets."""
    hs = list(baseline) + list(candidate)
    k = len(baseline)
    scale_side = np.fromiter((h.scale for h in hs), np.int64, len(hs))
    scale = np.minimum(scale_side[:k], scale_side[k:])
    shift = scale_side - np.concatenate([scale, scale])
    offset = np.fromiter((h.offset for h in hs), np.int64, len(hs))
    length = np.fromiter((len(h.counts) for h in hs), np.int64, len(hs))
    counts = np.fromiter(itertools.chain.from_iterable(h.counts for h in hs), np.int64, int(length.sum()))
    first_side = np.where(length > 0, offset >> shift, np.iinfo(np.int64).max)
    last_side = np.where(length > 0, (offset + length - 1) >> shift, np.iinfo(np.int64).min)
    first = np.minimum(first_side[:k], first_side[k:])
    last = np.maximum(last_side[:k], last_side[k:])
    empty = length[:k] + length[k:] == 0
    first, last = np.where(empty, 0, first), np.where(empty, -1, last)
    width = int((last - first).max(initial=-1)) + 2  # slot 0: exact zeros
    starts = np.cumsum(length) - length
    pos = np.arange(len(counts)) - np.repeat(starts, length)
    idx = (np.repeat(offset, length) + pos) >> np.repeat(shift, length)
    row = np.repeat(np.arange(2 * k), length)
    col = idx - np.repeat(np.concatenate([first, first]), length) + 1
    flat = np.bincount(row * width + col, weights=counts, minlength=2 * k * width)
    mat = flat.reshape(2 * k, width).astype(np.int64)
    mat[:, 0] = np.fromiter((h.zero_count for h in hs), np.int64, len(hs))
    j = first[:, None] + np.arange(width - 1)[None, :]
    step = np.exp2(-scale.astype(np.float64))[:, None]
    zeros = np.zeros((k, 1))
    lower = np.hstack([zeros, np.exp2(j * step)])
    upper = np.hstack([zeros, np.exp2((j + 1) * step)])
    lo = _nan_to([h.min for h in hs], 0.0)
    hi = _nan_to([h.max for h in hs], math.inf)
    return (
        BinMatrix(lower, upper, mat[:k], lo[:k], hi[:k], log=True),
        BinMatrix(lower, upper, mat[k:], lo[k:], hi[k:], log=True),
    )


def confidence_matrix(hs: Sequence[ConfidenceHistogram]) -> BinMatrix:
    """`confidence_bins` for many histograms: one row of 200 buckets each."""
    length = np.fromiter((len(h.counts) for h in hs), np.int64, len(hs))
    counts = np.fromiter(itertools.chain.from_iterable(h.counts for h in hs), np.int64, int(length.sum()))
    offset = np.fromiter((h.offset for h in hs), np.int64, len(hs))
    starts = np.cumsum(length) - length
    pos = np.arange(len(counts)) - np.repeat(starts, length)
    col = np.clip(np.repeat(offset, length) + pos, 0, CONFIDENCE_BUCKETS - 1)
    row = np.repeat(np.arange(len(hs)), length)
    flat = np.bincount(row * CONFIDENCE_BUCKETS + col, weights=counts, minlength=len(hs) * CONFIDENCE_BUCKETS)
    mat = flat.reshape(len(hs), CONFIDENCE_BUCKETS).astype(np.int64)
    lo = _nan_to([h.min for h in hs], 0.0)
    hi = _nan_to([h.max for h in hs], 1.0)
    return BinMatrix(_CONF_LOWER[None, :], _CONF_UPPER[None, :], mat, lo, hi, log=False)
