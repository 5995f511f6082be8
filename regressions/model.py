"""Inputs and outputs of the regression engine: populations, cohorts, findings, reports."""

from __future__ import annotations

import enum
import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "CONFIDENCE_BUCKETS",
    "CONFIDENCE_WIDTH",
    "Cohort",
    "ConfidenceHistogram",
    "Finding",
    "LatencyHistogram",
    "Memory",
    "Population",
    "Report",
    "Sample",
    "Status",
    "Verdict",
]

CONFIDENCE_WIDTH = 0.005
CONFIDENCE_BUCKETS = 200  # bucket k covers (k*w, (k+1)*w]; 0.0 falls in bucket 0


def _ints(values: Sequence[int]) -> tuple[int, ...]:
    return tuple(map(int, values))


@dataclass(frozen=True)
class LatencyHistogram:
    """A base-2 exponential histogram (OTel/collector format) of durations in seconds.

    Bucket ``offset + k`` holds ``counts[k]`` values in ``(base**i, base**(i+1)]`` with
    ``base = 2**(2**-scale)``; ``zero_count`` counts values equal to 0.
    """

    scale: int
    offset: int
    counts: tuple[int, ...]
    zero_count: int = 0
    sum: float = math.nan
    min: float = math.nan
    max: float = math.nan

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", _ints(self.counts))
        if (self.counts and min(self.counts) < 0) or self.zero_count < 0:
            raise ValueError("histogram counts must be ≥ 0")

    @functools.cached_property
    def count(self) -> int:
        """Number of values behind the histogram."""
        return self.zero_count + sum(self.counts)

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> LatencyHistogram:
        """Build from a dict such as the collector's `hist` struct (`idx0` or `offset`)."""
        offset = m["idx0"] if "idx0" in m else m["offset"]
        return cls(
            scale=int(m["scale"]),
            offset=int(offset),
            counts=tuple(m.get("counts") or ()),
            zero_count=int(m.get("zero_count") or 0),
            sum=_f(m.get("sum")),
            min=_f(m.get("min")),
            max=_f(m.get("max")),
        )

    @classmethod
    def from_exponential(cls, h: Any) -> LatencyHistogram:
        """Build from an `inferwatch.histogram.ExponentialHistogram` (or anything with its attributes)."""
        offset, counts = h.dense()
        return cls(
            scale=h.scale,
            offset=offset,
            counts=tuple(counts),
            zero_count=h.zero_count,
            sum=h.sum,
            min=h.min if h.count else math.nan,
            max=h.max if h.count else math.nan,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (also the evidence attached to latency findings)."""
        return {
            "scale": self.scale,
            "offset": self.offset,
            "counts": list(self.counts),
            "zero_count": self.zero_count,
            "sum": _j(self.sum),
            "min": _j(self.min),
            "max": _j(self.max),
        }

    def merge(self, other: LatencyHistogram) -> LatencyHistogram:
        """The histogram of both populations (at the coarser of the two scales)."""
        scale = min(self.scale, other.scale)
        merged: dict[int, int] = {}
        for h in (self, other):
            shift = h.scale - scale
            for k, c in enumerate(h.counts):
                if c:
                    j = (h.offset + k) >> shift
                    merged[j] = merged.get(j, 0) + c
        lo = min(merged) if merged else 0
        hi = max(merged) if merged else -1
        return LatencyHistogram(
            scale,
            lo,
            tuple(merged.get(i, 0) for i in range(lo, hi + 1)),
            self.zero_count + other.zero_count,
            _add(self.sum, other.sum),
            _fmin(self.min, other.min),
            _fmax(self.max, other.max),
        )


@dataclass(frozen=True)
class ConfidenceHistogram:
    """Fixed-width linear buckets over [0, 1]: bucket ``offset + k`` covers ``(j*w, (j+1)*w]``."""

    counts: tuple[int, ...]
    sum: float
    offset: int = 0
    width: float = CONFIDENCE_WIDTH
    min: float = math.nan
    max: float = math.nan

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", _ints(self.counts))
        if (self.counts and min(self.counts) < 0):
            raise ValueError("histogram counts must be ≥ 0")
        if abs(self.width - CONFIDENCE_WIDTH) > 1e-12:
            raise ValueError(f"confidence buckets must be {CONFIDENCE_WIDTH} wide, got {self.width}")

    @functools.cached_property
    def count(self) -> int:
        """Number of values behind the histogram."""
        return sum(self.counts)

    def dense(self) -> np.ndarray:
        """The 200 bucket counts over [0, 1] (values past the ends fold into the end buckets)."""
        return self._dense.copy()

    @functools.cached_property
    def _dense(self) -> np.ndarray:
        out = np.zeros(CONFIDENCE_BUCKETS, dtype=np.int64)
        if self.counts:
            idx = np.clip(np.arange(len(self.counts)) + self.offset, 0, CONFIDENCE_BUCKETS - 1)
            np.add.at(out, idx, np.asarray(self.counts, dtype=np.int64))
        return out

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> ConfidenceHistogram:
        """Build from a dict such as the collector's `hist` struct (`idx0`/`offset`, `counts`, `sum`)."""
        offset = m.get("idx0", m.get("offset", 0)) or 0
        return cls(
            counts=tuple(m.get("counts") or ()),
            sum=float(m.get("sum") or 0.0),
            offset=int(offset),
            width=float(m.get("width") or CONFIDENCE_WIDTH),
            min=_f(m.get("min")),
            max=_f(m.get("max")),
        )

    @classmethod
    def from_linear(cls, h: Any) -> ConfidenceHistogram:
        """Build from an `inferwatch.histogram.LinearHistogram`."""
        return cls(
            counts=tuple(h.counts),
            sum=float(h.sum),
            min=h.min if h.count else math.nan,
            max=h.max if h.count else math.nan,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dense 200 buckets)."""
        return {
            "width": self.width,
            "offset": 0,
            "counts": self._dense.tolist(),
            "sum": self.sum,
            "min": _j(self.min),
            "max": _j(self.max),
        }

    def merge(self, other: ConfidenceHistogram) -> ConfidenceHistogram:
        """The histogram of both populations."""
        return ConfidenceHistogram(
            tuple((self._dense + other._dense).tolist()),
            self.sum + other.sum,
            min=_fmin(self.min, other.min),
            max=_fmax(self.max, other.max),
        )


@dataclass(frozen=True)
class Sample:
    """Summary of window-level values (n windows, mean, sample sd, max), mergeable."""

    n: int
    mean: float
    sd: float
    max: float

    @classmethod
    def from_values(cls, values: Sequence[float]) -> Sample:
        """Summarise raw per-window values."""
        xs = [float(v) for v in values if v is not None and math.isfinite(v)]
        n = len(xs)
        if n == 0:
            return cls(0, math.nan, math.nan, math.nan)
        mean = math.fsum(xs) / n
        sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
        return cls(n, mean, sd, max(xs))

    def merge(self, other: Sample) -> Sample:
        """The summary of both sets of windows (pooled mean and variance)."""
        if self.n == 0:
            return other
        if other.n == 0:
            return self
        n = self.n + other.n
        mean = (self.n * self.mean + other.n * other.mean) / n
        ss = (
            (self.n - 1) * self.sd**2
            + (other.n - 1) * other.sd**2
            + self.n * (self.mean - mean) ** 2
            + other.n * (other.mean - mean) ** 2
        )
        return Sample(n, mean, math.sqrt(ss / (n - 1)) if n > 1 else 0.0, max(self.max, other.max))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"n": self.n, "mean": _j(self.mean), "sd": _j(self.sd), "max": _j(self.max)}


@dataclass(frozen=True)
class Memory:
    """Process memory behind a population: per-window average RSS and per-window peak RSS (bytes)."""

    avg_rss: Sample
    peak_rss: Sample

    @classmethod
    def from_windows(cls, avg_bytes: Sequence[float], peak_bytes: Sequence[float]) -> Memory:
        """Build from one average and one peak RSS value per window."""
        return cls(Sample.from_values(avg_bytes), Sample.from_values(peak_bytes))

    def merge(self, other: Memory) -> Memory:
        """Both sets of windows."""
        return Memory(self.avg_rss.merge(other.avg_rss), self.peak_rss.merge(other.peak_rss))


@dataclass(frozen=True)
class Population:
    """One side of a comparison for one cohort: what the stored windows add up to."""

    calls: int
    errors: int
    latency: LatencyHistogram | None = None
    confidence: ConfidenceHistogram | None = None
    memory: Memory | None = None
    windows: int | None = None

    def __post_init__(self) -> None:
        if self.calls < 0 or self.errors < 0 or self.errors > self.calls:
            raise ValueError(f"need 0 ≤ errors ≤ calls, got errors={self.errors}, calls={self.calls}")

    def merge(self, other: Population) -> Population:
        """Both populations together (used when a split dimension is dropped)."""
        return Population(
            self.calls + other.calls,
            self.errors + other.errors,
            _merge_opt(self.latency, other.latency),
            _merge_opt(self.confidence, other.confidence),
            _merge_opt(self.memory, other.memory),
            None if self.windows is None or other.windows is None else self.windows + other.windows,
        )


@dataclass(frozen=True)
class Cohort:
    """A baseline and a candidate population that share a key (model, target, hardware, …)."""

    key: Mapping[str, str]
    baseline: Population | None
    candidate: Population | None

    @property
    def model(self) -> str | None:
        """The model name in the key, if any (selects per-model thresholds)."""
        return self.key.get("model")

    def label(self) -> str:
        """`model=digits target=edge …` for tables and messages."""
        return " ".join(f"{k}={v}" for k, v in self.key.items()) or "(all)"


class Status(str, enum.Enum):
    """Outcome of one check for one cohort."""

    REGRESSION = "regression"
    OK = "ok"
    INSUFFICIENT = "insufficient"


class Verdict(str, enum.Enum):
    """Outcome of a whole comparison; `exit_code` is what `inferwatch regressions` exits with."""

    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"

    @property
    def exit_code(self) -> int:
        """0 PASS, 1 FAIL, 3 INCONCLUSIVE (2 is left to usage errors)."""
        return {"PASS": 0, "FAIL": 1, "INCONCLUSIVE": 3}[self.value]


@dataclass(frozen=True)
class Finding:
    """One check on one cohort: values, effect, test, sample sizes, status and plot evidence."""

    check: str
    cohort: Mapping[str, str]
    status: Status
    baseline: float | None
    candidate: float | None
    effect: float | None
    effect_kind: str
    threshold: float
    n_baseline: int
    n_candidate: int
    test: str
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    planned_n: int | None = None
    gated: bool = True
    reason: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 1.0  # the check's relative share of the family's alpha (weighted Holm / BH)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "check": self.check,
            "cohort": dict(self.cohort),
            "status": self.status.value,
            "baseline": _j(self.baseline),
            "candidate": _j(self.candidate),
            "effect": _j(self.effect),
            "effect_kind": self.effect_kind,
            "threshold": self.threshold,
            "ci": None if self.ci is None else [_j(self.ci[0]), _j(self.ci[1])],
            "p_value": _j(self.p_value),
            "p_adjusted": _j(self.p_adjusted),
            "n_baseline": self.n_baseline,
            "n_candidate": self.n_candidate,
            "planned_n": self.planned_n,
            "test": self.test,
            "gated": self.gated,
            "weight": self.weight,
            "reason": self.reason,
            "evidence": {
                k: (v.to_dict() if hasattr(v, "to_dict") else _j(v)) for k, v in self.evidence.items()
            },
        }


@dataclass(frozen=True)
class Report:
    """All findings of one comparison and the verdict they lead to."""

    verdict: Verdict
    findings: tuple[Finding, ...]
    alpha: float
    correction: str
    comparison: str = "versions"
    observational: bool = False
    notes: tuple[str, ...] = ()

    @property
    def exit_code(self) -> int:
        """The process exit code for this verdict (see `Verdict.exit_code`)."""
        return self.verdict.exit_code

    @property
    def regressions(self) -> tuple[Finding, ...]:
        """Findings whose status is regression."""
        return tuple(f for f in self.findings if f.status is Status.REGRESSION)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        counts = {s.value: sum(f.status is s for f in self.findings if f.gated) for s in Status}
        return {
            "verdict": self.verdict.value,
            "exit_code": self.exit_code,
            "alpha": self.alpha,
            "correction": self.correction,
            "comparison": self.comparison,
            "observational": self.observational,
            "notes": list(self.notes),
            "summary": counts,
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, **kwargs: Any) -> str:
        """`to_dict()` as strict JSON (NaN and infinities become null)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)


def _f(v: Any) -> float:
    return math.nan if v is None else float(v)


def _j(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _add(a: float, b: float) -> float:
    return a + b if math.isfinite(a) and math.isfinite(b) else math.nan


def _fmin(a: float, b: float) -> float:
    return min(x for x in (a, b) if not math.isnan(x)) if not (math.isnan(a) and math.isnan(b)) else math.nan


def _fmax(a: float, b: float) -> float:
    return max(x for x in (a, b) if not math.isnan(x)) if not (math.isnan(a) and math.isnan(b)) else math.nan


def _merge_opt(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a.merge(b)
