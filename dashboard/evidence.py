"""From the regression engine's findings to evidence plots (baseline vs candidate)."""

from __future__ import annotations

import math
import re

import pandas as pd
import plotly.graph_objects as go

from inferwatch.regressions import ConfidenceHistogram, Finding, LatencyHistogram
from inferwatch.regressions.buckets import aligned_latency, confidence_bins

from . import charts

__all__ = ["evidence_figure", "version_key"]

CONFIDENCE_REBIN = 4  # 4 × 0.005 = 0.02-wide bins on the evidence plot


def version_key(version: str) -> tuple:
    """Sort versions numerically where they are numbers (`1.10.0` after `1.9.0`)."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"[.\-+]", str(version)))


def _trim(lower, upper, b, c) -> tuple[list[float], list[float], list[int], list[int]]:
    nonzero = [i for i in range(len(b)) if b[i] or c[i]]
    if not nonzero:
        return [], [], [], []
    lo, hi = nonzero[0], nonzero[-1] + 1
    return list(lower[lo:hi]), list(upper[lo:hi]), [int(x) for x in b[lo:hi]], [int(x) for x in c[lo:hi]]


def _latency(f: Finding) -> go.Figure | None:
    hb, hc = f.evidence.get("baseline_histogram"), f.evidence.get("candidate_histogram")
    if not isinstance(hb, LatencyHistogram) or not isinstance(hc, LatencyHistogram):
        return None
    bb, bc = aligned_latency(hb, hc)
    lower, upper, b, c = _trim(bb.lower * 1000, bb.upper * 1000, bb.counts, bc.counts)
    label = f.check.split(".")[-1]
    markers = {f"baseline {label}": f.baseline, f"candidate {label}": f.candidate}
    return charts.distribution_pair(lower, upper, b, c, "latency (ms, log scale)", log_x=True,
                                    markers=markers)


def _confidence(f: Finding) -> go.Figure | None:
    hb, hc = f.evidence.get("baseline_histogram"), f.evidence.get("candidate_histogram")
    if not isinstance(hb, ConfidenceHistogram) or not isinstance(hc, ConfidenceHistogram):
        return None
    bb, bc = confidence_bins(hb), confidence_bins(hc)
    n = CONFIDENCE_REBIN
    lower = list(bb.lower[::n])
    upper = [x + 0.005 * n for x in lower]
    b = [int(bb.counts[i:i + n].sum()) for i in range(0, len(bb.counts), n)]
    c = [int(bc.counts[i:i + n].sum()) for i in range(0, len(bc.counts), n)]
    lower, upper, b, c = _trim(lower, upper, b, c)
    label = f.check.split(".")[-1]
    markers = {f"baseline {label}": f.baseline, f"candidate {label}": f.candidate} \
        if label in ("mean", "p05") else None
    return charts.distribution_pair(lower, upper, b, c, "confidence (0–1)", markers=markers)


def _errors(f: Finding) -> go.Figure | None:
    e = f.evidence
    if "calls_baseline" not in e:
        return None
    rows = []
    for side in ("baseline", "candidate"):
        calls, errors = int(e[f"calls_{side}"]), int(e[f"errors_{side}"])
        rate = errors / calls if calls else math.nan
        half = 1.96 * math.sqrt(rate * (1 - rate) / calls) if calls and 0 < rate < 1 else 0.0
        rows.append({"side": side, "error_rate": rate, "ci": half, "label": f"{errors:,} / {calls:,}"})
    return charts.side_bars(pd.DataFrame(rows), "error_rate", "error rate (share of calls)", ".2%")


def _memory(f: Finding) -> go.Figure | None:
    rows = []
    for side in ("baseline", "candidate"):
        s = f.evidence.get(f"{side}_windows")
        if s is None or not s.n:
            return None
        half = 1.96 * s.sd / math.sqrt(s.n) if s.n > 1 else 0.0
        rows.append({"side": side, "memory_mb": s.mean / 1e6, "ci": half / 1e6, "label": f"{s.n:,} windows"})
    name = "average" if f.check.endswith("avg_rss") else "peak"
    return charts.side_bars(pd.DataFrame(rows), "memory_mb", f"{name} process RSS per window (MB)", ".1f")


def evidence_figure(f: Finding) -> go.Figure | None:
    """Baseline vs candidate for one finding (distributions for latency and confidence), or None."""
    kind = f.check.split(".")[0]
    builder = {"latency": _latency, "confidence": _confidence, "errors": _errors, "memory": _memory}.get(kind)
    return builder(f) if builder else None
