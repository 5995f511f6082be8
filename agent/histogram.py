"""Mergeable histograms: base-2 exponential (OTel's format) and fixed-width linear buckets."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = [
    "CONFIDENCE_BOUNDS",
    "ExponentialHistogram",
    "LinearHistogram",
    "exponential_quantile",
    "explicit_quantile",
]

MAX_SCALE = 20
# 320 keeps scale ≥ 4 (buckets ≤ 4.4% wide, the collector's canonical scale) over 20 octaves.
DEFAULT_MAX_BUCKETS = 320
CONFIDENCE_WIDTH = 0.005
# Explicit bounds of the confidence histogram: 200 buckets of width 0.005 over [0, 1].
CONFIDENCE_BOUNDS: tuple[float, ...] = tuple(round(i * CONFIDENCE_WIDTH, 3) for i in range(1, 200))


def _index(value: float, scale: int) -> int:
    """The OTel exponential bucket index of a positive value: bucket i is (base**i, base**(i+1)]."""
    mantissa, exp = math.frexp(value)  # value = mantissa * 2**exp, mantissa in [0.5, 1)
    if scale <= 0:
        return (exp - 1 - (1 if mantissa == 0.5 else 0)) >> -scale
    if mantissa == 0.5:  # exact power of two: lower-inclusive boundary belongs below
        return ((exp - 1) << scale) - 1
    return math.ceil(math.log(value) * (2.0**scale / math.log(2))) - 1


class ExponentialHistogram:
    """A base-2 exponential histogram of non-negative values that rescales to stay ≤ max_buckets."""

    __slots__ = ("buckets", "count", "max", "max_buckets", "min", "scale", "sum", "zero_count",
                 "_hi", "_lo")

    def __init__(self, max_buckets: int = DEFAULT_MAX_BUCKETS, scale: int = MAX_SCALE) -> None:
        if max_buckets < 2:
            raise ValueError("max_buckets must be ≥ 2")
        self.max_buckets = max_buckets
        self.scale = scale
        self.buckets: dict[int, int] = {}
        self.zero_count = 0
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf
        self._lo = 0
        self._hi = -1

    def add_many(self, values: Iterable[float]) -> None:
        """Fold values (finite, ≥ 0; others are ignored by the caller) into the histogram."""
        buckets = self.buckets
        scale = self.scale
        factor = 2.0**scale / math.log(2)
        log, ceil, frexp = math.log, math.ceil, math.frexp
        lo, hi = self._lo, self._hi
        empty = not buckets
        total = 0.0
        n = 0
        mn, mx = self.min, self.max
        for v in values:
            n += 1
            total += v
            if v < mn:
                mn = v
            if v > mx:
                mx = v
            if v == 0:
                self.zero_count += 1
                continue
            if scale > 0:
                m, e = frexp(v)
                i = ((e - 1) << scale) - 1 if m == 0.5 else ceil(log(v) * factor) - 1
            else:
                i = _index(v, scale)
            if empty:
                lo = hi = i
                empty = False
            elif i < lo or i > hi:
                nlo, nhi = min(lo, i), max(hi, i)
                if nhi - nlo + 1 > self.max_buckets:
                    change = 0
                    while (nhi >> change) - (nlo >> change) + 1 > self.max_buckets:
                        change += 1
                    self._downscale(change)
                    scale = self.scale
                    factor = 2.0**scale / math.log(2)
                    buckets = self.buckets
                    i >>= change
                    lo, hi = min(nlo >> change, i), max(nhi >> change, i)
                else:
                    lo, hi = nlo, nhi
            buckets[i] = buckets.get(i, 0) + 1
        self._lo, self._hi = lo, hi
        self.count += n
        self.sum += total
        self.min, self.max = mn, mx

    def _downscale(self, change: int) -> None:
        merged = _shifted(self.buckets, change)
        self.buckets = merged
        self.scale -= change
        if merged:
            self._lo, self._hi = min(merged), max(merged)

    def merge(self, other: ExponentialHistogram) -> None:
        """Add another histogram's counts into this one (rescaling as needed)."""
        if other.count == 0:
            return
        if other.scale < self.scale:
            self._downscale(self.scale - other.scale)
        shift = other.scale - self.scale
        incoming = _shifted(other.buckets, shift)
        keys = list(self.buckets) + list(incoming)
        if keys:
            lo, hi = min(keys), max(keys)
            change = 0
            while (hi >> change) - (lo >> change) + 1 > self.max_buckets:
                change += 1
            if change:
                self._downscale(change)
                incoming = _shifted(incoming, change)
            for j, c in incoming.items():
                self.buckets[j] = self.buckets.get(j, 0) + c
            self._lo, self._hi = min(self.buckets), max(self.buckets)
        self.zero_count += other.zero_count
        self.count += other.count
        self.sum += other.sum
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def dense(self) -> tuple[int, list[int]]:
        """(offset, bucket_counts) as OTLP encodes the positive range."""
        if not self.buckets:
            return 0, []
        lo, hi = min(self.buckets), max(self.buckets)
        get = self.buckets.get
        return lo, [get(i, 0) for i in range(lo, hi + 1)]

    def quantile(self, q: float) -> float:
        """The q-quantile, interpolated log-linearly inside its bucket and clamped to [min, max]."""
        offset, counts = self.dense()
        return exponential_quantile(self.scale, self.zero_count, offset, counts, q, self.min, self.max)


def _shifted(buckets: dict[int, int], change: int) -> dict[int, int]:
    out: dict[int, int] = {}
    for i, c in buckets.items():
        j = i >> change
        out[j] = out.get(j, 0) + c
    return out


def exponential_quantile(scale: int, zero_count: int, offset: int, counts: Sequence[int], q: float,
                         lo: float = 0.0, hi: float = math.inf) -> float:
    """The q-quantile of an OTLP exponential histogram (positive range only), or NaN when empty."""
    total = zero_count + sum(counts)
    if total == 0:
        return math.nan
    rank = q * total
    if rank <= zero_count and zero_count:
        return 0.0
    cumulative = zero_count
    width = 2.0**-scale  # log2 width of one bucket
    for k, c in enumerate(counts):
        if c and cumulative + c >= rank:
            fraction = (rank - cumulative) / c
            value = 2.0 ** ((offset + k + fraction) * width)  # log-linear inside the bucket
            return min(max(value, lo), hi)
        cumulative += c
    return hi if math.isfinite(hi) else 2.0 ** ((offset + len(counts)) * width)


def explicit_quantile(bounds: Sequence[float], counts: Sequence[int], q: float,
                      lo: float = 0.0, hi: float = 1.0) -> float:
    """The q-quantile of an explicit-bucket histogram, linear inside its bucket, or NaN when empty."""
    total = sum(counts)
    if total == 0:
        return math.nan
    rank = q * total
    cumulative = 0
    for k, c in enumerate(counts):
        if c and cumulative + c >= rank:
            lower = lo if k == 0 else bounds[k - 1]
            upper = hi if k >= len(bounds) else bounds[k]
            lower, upper = max(lower, lo), min(upper, hi)
            return lower + (upper - lower) * (rank - cumulative) / c
        cumulative += c
    return hi


class LinearHistogram:
    """Fixed-width buckets over [0, 1] for confidence scores (bucket k is (b[k-1], b[k]])."""

    __slots__ = ("count", "counts", "max", "min", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(CONFIDENCE_BOUNDS) + 1)
        self.count = 0
        self.sum = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add_many(self, values: Iterable[float]) -> None:
        """Fold values in [0, 1] (the caller validates) into the buckets."""
        counts = self.counts
        last = len(counts) - 1
        ceil = math.ceil
        for v in values:
            k = ceil(v / CONFIDENCE_WIDTH - 1e-9) - 1
            counts[0 if k < 0 else (last if k > last else k)] += 1
            self.count += 1
            self.sum += v
            if v < self.min:
                self.min = v
            if v > self.max:
                self.max = v

    def quantile(self, q: float) -> float:
        """The q-quantile, linear inside its bucket and clamped to the observed [min, max]."""
        return explicit_quantile(CONFIDENCE_BOUNDS, self.counts, q, self.min, self.max)
