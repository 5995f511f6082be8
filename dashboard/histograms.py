"""Merged histograms in Python: quantiles and CDF points exactly as the SQL macros compute them.

The Edge vs cloud page reads histograms already merged per version, target and hardware
(`comparison.INPUTS_SQL`). Its per-version table, latency percentiles per target, CDF and confidence
distribution are read off those here — merged once more per group, then `hist_value_quantile`'s rule —
instead of more queries that merged the same windows again (`edge_vs_cloud`, `fleet_overview`,
`latency_cdf`, `regression_inputs`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["CDF_QUANTILES", "PERCENTILES", "cdf_points", "confidence_buckets", "merge", "percentiles",
           "quantiles"]

# the grid of the `latency_cdf` named query: 0.01 … 0.99, then 0.995 and 0.999
CDF_QUANTILES = tuple([i / 100.0 for i in range(1, 100)] + [0.995, 0.999])
PERCENTILES = {"latency_ms_p50": 0.50, "latency_ms_p95": 0.95, "latency_ms_p99": 0.99}


def _usable(h: Any) -> bool:
    return isinstance(h, Mapping) and bool(h.get("count"))


def _number(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def merge(hists: Iterable[Any]) -> dict[str, Any] | None:
    """One histogram holding every count of `hists` (what `hist_merge(list(h))` gives; None if none has
    values). Exponential histograms of different scales meet at the coarser scale."""
    parts = [h for h in hists if _usable(h)]
    if not parts:
        return None
    width = float(parts[0].get("width") or 0.0)
    scale = min(int(h.get("scale") or 0) for h in parts)
    index: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for h in parts:
        c = np.asarray(h.get("counts") if h.get("counts") is not None else [], dtype=np.int64)
        j = int(h.get("idx0") or 0) + np.arange(len(c), dtype=np.int64)
        if width <= 0:
            j >>= int(h.get("scale") or 0) - scale
        index.append(j)
        counts.append(c)
    j, c = np.concatenate(index), np.concatenate(counts)
    nonzero = c > 0
    lo = int(j[nonzero].min()) if nonzero.any() else 0
    dense = np.zeros(int(j[nonzero].max()) - lo + 1 if nonzero.any() else 0, dtype=np.int64)
    np.add.at(dense, j[nonzero] - lo, c[nonzero])
    mins = [v for v in (_number(h.get("min")) for h in parts) if v is not None]
    maxs = [v for v in (_number(h.get("max")) for h in parts) if v is not None]
    return {"scale": scale, "width": width, "idx0": lo, "counts": dense,
            "zero_count": sum(int(h.get("zero_count") or 0) for h in parts),
            "count": sum(int(h["count"]) for h in parts),
            "sum": sum(float(h.get("sum") or 0.0) for h in parts),
            "min": min(mins) if mins else None, "max": max(maxs) if maxs else None,
            "unit": float(parts[0].get("unit") or 1.0)}


def quantiles(h: Mapping[str, Any] | None, qs: Iterable[float]) -> np.ndarray:
    """The q-quantiles of one histogram by `hist_value_quantile`'s rule: the bucket where the rank falls,
    log-linear (exponential) or linear inside it, clamped to [min, max], times the unit (NaN if empty)."""
    q = np.clip(np.asarray(list(qs), dtype=float), 0.0, 1.0)
    counts = np.asarray(h["counts"] if h is not None else [], dtype=np.int64)
    zero = int(h.get("zero_count") or 0) if h is not None else 0
    total = zero + int(counts.sum())
    if h is None or total == 0:
        return np.full(len(q), np.nan)
    rank = q * total
    cum = zero + np.cumsum(counts)
    filled = np.flatnonzero(counts)
    lo, hi = _number(h.get("min")), _number(h.get("max"))
    top = hi if hi is not None else np.nan
    if len(filled):
        at = np.searchsorted(cum[filled], rank, side="left")  # the first non-empty bucket reaching the rank
        k = filled[np.minimum(at, len(filled) - 1)]
        pos = int(h.get("idx0") or 0) + k + (rank - (cum[k] - counts[k])) / counts[k]
        width = float(h.get("width") or 0.0)
        value = pos * width if width > 0 else np.power(2.0, pos / 2.0 ** int(h.get("scale") or 0))
        value = np.where(at < len(filled), value, top)
    else:
        value = np.full(len(q), top)
    if hi is not None:
        value = np.minimum(value, hi)
    if lo is not None:
        value = np.maximum(value, lo)
    value = np.where((zero > 0) & (rank <= zero), 0.0, value)
    return value * float(h.get("unit") or 1.0)


def _per_target(frame: pd.DataFrame, column: str) -> list[tuple[str, int, dict[str, Any] | None]]:
    if frame.empty:
        return []
    return [(str(target), int(part["calls"].sum()), merge(part[column]))
            for target, part in frame.groupby("target", sort=True)]


def percentiles(inputs: pd.DataFrame) -> pd.DataFrame:
    """Per target: calls and latency_ms_p50/_p95/_p99 of the merged latency histograms (rows of the
    `regression_inputs` named query; the columns `fleet_overview` gives)."""
    rows = [{"target": target, "calls": calls, **dict(zip(PERCENTILES, quantiles(h, PERCENTILES.values())))}
            for target, calls, h in _per_target(inputs, "latency_hist")]
    return pd.DataFrame(rows, columns=["target", "calls", *PERCENTILES])


def cdf_points(inputs: pd.DataFrame, model: str) -> pd.DataFrame:
    """Per target: (quantile, latency_ms) on the `latency_cdf` named query's grid, from the merged latency
    histograms (rows of `regression_inputs` for `model`); the columns `latency_cdf` gives."""
    rows = [{"target": target, "model": model, "calls": calls, "quantile": q, "latency_ms": v}
            for target, calls, h in _per_target(inputs, "latency_hist") if h is not None
            for q, v in zip(CDF_QUANTILES, quantiles(h, CDF_QUANTILES))]
    return pd.DataFrame(rows, columns=["target", "model", "calls", "quantile", "latency_ms"])


def confidence_buckets(inputs: pd.DataFrame) -> pd.DataFrame:
    """Per target: each non-empty confidence bucket's lower bound, width and count, from the merged
    confidence histograms (rows with a `confidence_hist` column)."""
    rows = []
    for target, _, h in _per_target(inputs, "confidence_hist"):
        if h is None or h["width"] <= 0:
            continue
        width = h["width"]
        rows += [{"target": target, "lower": (h["idx0"] + k) * width, "width": width, "count": int(n)}
                 for k, n in enumerate(h["counts"]) if n]
    return pd.DataFrame(rows, columns=["target", "lower", "width", "count"])
