"""One function per check: from a cohort's two populations to draft findings (before multiplicity control)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import stats
from .buckets import Bins, aligned_latency, confidence_bins
from .model import ConfidenceHistogram, Population, Sample
from .thresholds import CheckThresholds

__all__ = ["Draft", "confidence_checks", "error_check", "latency_checks", "memory_checks"]

LOW_CONFIDENCE = 0.5  # reported share of predictions at or below this confidence


@dataclass
class Draft:
    """A finding before the family-wide adjustment: p-value, materiality and a sample-size plan.

    ``material`` is true when the confidence interval of the effect reaches the threshold;
    ``plan(alpha_per_test)`` is the per-side sample that detects a threshold-size change with the
    configured power (None when it cannot be computed).
    """

    check: str
    n_baseline: int
    n_candidate: int
    threshold: float
    effect_kind: str
    test: str
    baseline: float | None = None
    candidate: float | None = None
    effect: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    material: bool = False
    rules_out: bool = False
    plan: Callable[[float], int] | None = None
    gated: bool = True
    reason: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


def _insufficient(
    check: str,
    n_b: int,
    n_c: int,
    threshold: float,
    kind: str,
    test: str,
    reason: str,
    evidence: Mapping[str, Any] | None = None,
) -> Draft:
    return Draft(check, n_b, n_c, threshold, kind, test, reason=reason, evidence=dict(evidence or {}))


def latency_checks(
    b: Population, c: Population, th: CheckThresholds, alpha: float, power: float
) -> list[Draft]:
    """Quantile checks (p50/p95/p99 by default): exceedance test at the pooled quantile's bucket edge."""
    cfg = th.latency
    if not cfg.enabled:
        return []
    hb, hc = b.latency, c.latency
    n_b, n_c = (hb.count if hb else 0), (hc.count if hc else 0)
    names = [f"latency.p{round(q * 100):02d}" for q in cfg.quantiles]
    evidence = {"unit": "ms"}
    if hb is not None and hc is not None:
        evidence.update(baseline_histogram=hb, candidate_histogram=hc)
    test = "exceedance-hypergeometric"
    if n_b < cfg.min_calls or n_c < cfg.min_calls:
        why = f"too few calls with a duration: {n_b} baseline, {n_c} candidate (need ≥ {cfg.min_calls} each)"
        return [
            _insufficient(name, n_b, n_c, cfg.threshold, "relative", test, why, evidence) for name in names
        ]
    ab, ac = aligned_latency(hb, hc)  # same buckets on both sides (the coarser scale)
    pooled = ab.counts + ac.counts
    pooled_cum = np.cumsum(pooled)
    cum_b, cum_c = ab.cum, ac.cum
    out = []
    for q, name in zip(cfg.quantiles, names):
        events = min(n_b, n_c) * (1 - q)
        if events < cfg.min_events:
            need = math.ceil(cfg.min_events / (1 - q))
            why = (
                f"too few calls for {name}: {n_b} baseline, {n_c} candidate (need ≥ {need} each for "
                f"{cfg.min_events} calls above the quantile)"
            )
            out.append(_insufficient(name, n_b, n_c, cfg.threshold, "relative", test, why, evidence))
            continue
        k = int(np.searchsorted(pooled_cum, math.ceil(q * (n_b + n_c)), side="left"))
        edge = float(ab.upper[k])
        x_b, x_c = n_b - int(cum_b[k]), n_c - int(cum_c[k])
        p = stats.exceedance_p_value(n_b, x_b, n_c, x_c) if x_b + x_c else 1.0
        qb, qc = ab.quantile(q), ac.quantile(q)
        lo_b, hi_b = _quantile_bounds(ab, q, alpha / 2)
        lo_c, hi_c = _quantile_bounds(ac, q, alpha / 2)
        ci = (_ratio(lo_c, hi_b) - 1, _ratio(hi_c, lo_b) - 1)
        d = Draft(
            name,
            n_b,
            n_c,
            cfg.threshold,
            "relative",
            test,
            baseline=qb * 1000,
            candidate=qc * 1000,
            effect=_ratio(qc, qb) - 1,
            ci=ci,
            p_value=p,
            material=ci[1] >= cfg.threshold,
            rules_out=ci[1] < cfg.threshold,
            plan=_quantile_plan(ab, q, qb, cfg.threshold, power),
            evidence={**evidence, "edge_ms": edge * 1000, "above_baseline": x_b, "above_candidate": x_c},
        )
        out.append(d)
    return out


def _ratio(a: float, b: float) -> float:
    if b <= 0 or not math.isfinite(b):
        return math.inf if a > 0 or b <= 0 else 0.0
    return a / b


def _quantile_bounds(bins: Bins, q: float, alpha: float) -> tuple[float, float]:
    lower, upper = stats.order_statistic_ranks(bins.n, q, alpha)
    return bins.order_statistic_bounds(lower, upper)


def _quantile_plan(bins: Bins, q: float, qb: float, t: float, power: float) -> Callable[[float], int]:
    p0 = 1 - bins.cdf(qb)
    p1 = 1 - bins.cdf(qb / (1 + t))
    return lambda a: stats.required_n_proportions(p0, p1, a, power)


def error_check(b: Population, c: Population, th: CheckThresholds, alpha: float, power: float) -> list[Draft]:
    """Error rate: one-sided pooled two-proportion z (Fisher mid-p when few errors), Newcombe interval."""
    cfg = th.errors
    if not cfg.enabled:
        return []
    n_b, n_c, x_b, x_c = b.calls, c.calls, b.errors, c.errors
    evidence = {
        "errors_baseline": x_b,
        "errors_candidate": x_c,
        "calls_baseline": n_b,
        "calls_candidate": n_c,
    }
    if n_b < cfg.min_calls or n_c < cfg.min_calls:
        why = f"too few calls: {n_b} baseline, {n_c} candidate (need ≥ {cfg.min_calls} each)"
        return [
            _insufficient("errors.rate", n_b, n_c, cfg.threshold, "absolute", "two-proportion", why, evidence)
        ]
    p, method = stats.two_proportion_test(x_b, n_b, x_c, n_c)
    ci = stats.newcombe_interval(x_b, n_b, x_c, n_c, alpha)
    rate_b, rate_c = x_b / n_b, x_c / n_c
    t = cfg.threshold
    return [
        Draft(
            "errors.rate",
            n_b,
            n_c,
            t,
            "absolute",
            method,
            baseline=rate_b,
            candidate=rate_c,
            effect=rate_c - rate_b,
            ci=ci,
            p_value=p,
            material=ci[1] >= t,
            rules_out=ci[1] < t,
            plan=lambda a: stats.required_n_proportions(rate_b, min(rate_b + t, 1.0), a, power),
            evidence=evidence,
        )
    ]


def _confidence_moments(h: ConfidenceHistogram, bins: Bins) -> tuple[float, float]:
    n = bins.n
    mean = h.sum / n
    mid = (bins.lower + bins.upper) / 2
    var = float(np.sum(bins.counts * (mid - mean) ** 2)) / max(n - 1, 1) - 0.005**2 / 12  # Sheppard
    return mean, max(var, 0.0)


def confidence_checks(
    b: Population, c: Population, th: CheckThresholds, alpha: float, power: float
) -> list[Draft]:
    """Confidence: mean drop (z), low-tail p05 drop (exceedance test below the pooled p05), JS distance."""
    cfg = th.confidence
    hb, hc = b.confidence, c.confidence
    n_b, n_c = (hb.count if hb else 0), (hc.count if hc else 0)
    if not cfg.enabled or (n_b == 0 and n_c == 0):
        return []  # the model reports no confidence on either side: nothing to compare
    evidence: dict[str, Any] = {}
    if hb is not None and hc is not None:
        evidence.update(baseline_histogram=hb, candidate_histogram=hc)
    names = (
        ("confidence.mean", cfg.mean_threshold, "mean-shift-z"),
        ("confidence.p05", cfg.p05_threshold, "low-tail-exceedance-hypergeometric"),
        ("confidence.distribution", 0.0, "jensen-shannon"),
    )
    if n_b < cfg.min_count or n_c < cfg.min_count:
        why = f"too few confidence values: {n_b} baseline, {n_c} candidate (need ≥ {cfg.min_count} each)"
        drafts = [_insufficient(n, n_b, n_c, t, "absolute", test, why, evidence) for n, t, test in names]
        drafts[-1].gated = False
        return drafts
    bb, bc = confidence_bins(hb), confidence_bins(hc)
    (mb, vb), (mc, vc) = _confidence_moments(hb, bb), _confidence_moments(hc, bc)
    t = cfg.mean_threshold
    p, ci = stats.mean_shift_test(mb, vb, n_b, mc, vc, n_c, alpha)
    sd_b = math.sqrt(vb)
    mean = Draft(
        "confidence.mean",
        n_b,
        n_c,
        t,
        "absolute",
        "mean-shift-z",
        baseline=mb,
        candidate=mc,
        effect=mc - mb,
        ci=ci,
        p_value=p,
        material=ci[0] <= -t,
        rules_out=ci[0] > -t,
        plan=lambda a, sd=sd_b, t=t: stats.required_n_mean(sd, t, a, power),
        evidence=evidence,
    )
    drafts = [mean]
    t = cfg.p05_threshold
    q = 0.05
    if min(n_b, n_c) * q < cfg.min_events:
        need = math.ceil(cfg.min_events / q)
        why = f"too few confidence values for p05: {n_b} baseline, {n_c} candidate (need ≥ {need} each)"
        drafts.append(_insufficient("confidence.p05", n_b, n_c, t, "absolute", names[1][2], why, evidence))
    else:
        pooled_cum = np.cumsum(bb.counts + bc.counts)
        k = int(np.searchsorted(pooled_cum, math.ceil(q * (n_b + n_c)), side="left"))
        x_b = int(bb.cum[k - 1]) if k > 0 else 0
        x_c = int(bc.cum[k - 1]) if k > 0 else 0
        p = stats.exceedance_p_value(n_b, x_b, n_c, x_c) if x_b + x_c else 1.0
        qb, qc = bb.quantile(q), bc.quantile(q)
        lo_b, hi_b = _quantile_bounds(bb, q, alpha / 2)
        lo_c, hi_c = _quantile_bounds(bc, q, alpha / 2)
        ci = (lo_c - hi_b, hi_c - lo_b)
        p0 = bb.cdf(qb)
        p1 = bb.cdf(min(qb + t, 1.0))
        drafts.append(
            Draft(
                "confidence.p05",
                n_b,
                n_c,
                t,
                "absolute",
                names[1][2],
                baseline=qb,
                candidate=qc,
                effect=qc - qb,
                ci=ci,
                p_value=p,
                material=ci[0] <= -t,
                rules_out=ci[0] > -t,
                plan=lambda a: stats.required_n_proportions(p0, p1, a, power),
                evidence={
                    **evidence,
                    "edge": float(bb.lower[k]),
                    "below_baseline": x_b,
                    "below_candidate": x_c,
                },
            )
        )
    low_b = bb.cdf(LOW_CONFIDENCE)
    low_c = bc.cdf(LOW_CONFIDENCE)
    js = stats.jensen_shannon_distance(bb.counts, bc.counts)
    drafts.append(
        Draft(
            "confidence.distribution",
            n_b,
            n_c,
            0.0,
            "distance",
            "jensen-shannon",
            baseline=0.0,
            candidate=js,
            effect=js,
            gated=False,
            reason=f"reported, not gated; share ≤ {LOW_CONFIDENCE}: {low_b:.4f} → {low_c:.4f}",
            evidence={**evidence, "low_share_baseline": low_b, "low_share_candidate": low_c},
        )
    )
    return drafts


def memory_checks(
    b: Population, c: Population, th: CheckThresholds, alpha: float, power: float
) -> list[Draft]:
    """Average and peak RSS: Welch's t on per-window values, ratio-of-means interval (delta method)."""
    cfg = th.memory
    if not cfg.enabled or (b.memory is None and c.memory is None):
        return []
    out = []
    for name, attr, t in (
        ("memory.avg_rss", "avg_rss", cfg.avg_threshold),
        ("memory.peak_rss", "peak_rss", cfg.peak_threshold),
    ):
        sb: Sample | None = getattr(b.memory, attr) if b.memory else None
        sc: Sample | None = getattr(c.memory, attr) if c.memory else None
        n_b, n_c = (sb.n if sb else 0), (sc.n if sc else 0)
        evidence = {"unit": "bytes", "baseline_windows": sb, "candidate_windows": sc}
        if n_b < cfg.min_windows or n_c < cfg.min_windows or sb is None or sc is None:
            why = (f"too few windows with memory: {n_b} baseline, {n_c} candidate "
                   f"(need ≥ {cfg.min_windows} each)")
            out.append(_insufficient(name, n_b, n_c, t, "relative", "welch-t", why, evidence))
            continue
        p, df = stats.welch_test(sb.mean, sb.sd, n_b, sc.mean, sc.sd, n_c)
        ci = stats.ratio_of_means_interval(sb.mean, sb.sd, n_b, sc.mean, sc.sd, n_c, df, alpha)
        cv = sb.sd / sb.mean if sb.mean > 0 else math.inf
        out.append(
            Draft(
                name,
                n_b,
                n_c,
                t,
                "relative",
                "welch-t",
                baseline=sb.mean,
                candidate=sc.mean,
                effect=_ratio(sc.mean, sb.mean) - 1,
                ci=ci,
                p_value=p,
                material=ci[1] >= t,
                rules_out=ci[1] < t,
                plan=lambda a, cv=cv, t=t: stats.required_n_mean(cv, math.log1p(t), a, power),
                evidence=evidence,
            )
        )
    return out
