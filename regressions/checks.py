"""The checks, each run for many cohorts at once: from the two populations per cohort to draft findings.

Each function takes the baseline and candidate populations of a batch of cohorts that share one set
of thresholds and returns ``(position in the batch, Draft)`` pairs in check order. The statistics
are computed on arrays across the batch (one numpy call per step, not one per cohort); the scalar
functions in `stats` and `Bins` are the reference they are tested against.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import stats
from .buckets import BinMatrix, aligned_latency_matrix, confidence_matrix
from .model import Population
from .thresholds import CheckThresholds

__all__ = [
    "Draft",
    "LOW_CONFIDENCE",
    "confidence_checks",
    "error_check",
    "latency_checks",
    "memory_checks",
]

LOW_CONFIDENCE = 0.5  # reported share of predictions at or below this confidence
MAX_LATENCY_WIDTH = 4096  # pairs with more aligned buckets than this are computed on their own
Batch = list[tuple[int, "Draft"]]


@dataclass
class Draft:
    """A finding before the family-wide adjustment: p-value, materiality, weight and a sample plan.

    ``material`` is true when the confidence interval of the effect reaches the threshold;
    ``weight`` is the check's share of alpha (relative; see `Thresholds`); ``plan`` is
    ``("proportions", p0, p1)`` or ``("mean", sd, delta)``: what the per-side sample that detects a
    threshold-size change with the configured power is computed from (None when it cannot be).
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
    plan: tuple[str, float, float] | None = None
    gated: bool = True
    weight: float = 1.0
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
    weight: float = 1.0,
) -> Draft:
    return Draft(
        check, n_b, n_c, threshold, kind, test, reason=reason, evidence=dict(evidence or {}), weight=weight
    )


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b for positive quantities: +inf when b ≤ 0 (nothing to divide by), 0 when b = +inf."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a / b
    r = np.where(b <= 0, np.inf, r)
    return np.where(np.isinf(b) & (b > 0), np.where(np.isinf(a), np.inf, 0.0), r)


def _bounds(bins: BinMatrix, q: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Order-statistic bounds of the q-quantile per row: P(ξ_q in [low, high]) ≥ 1 − alpha."""
    n = bins.n
    lower = stats.binomial_quantiles(alpha / 2, n, q)
    upper = stats.binomial_quantiles(1 - alpha / 2, n, q) + 1
    return bins.order_statistic_bounds(lower, upper)


def _floats(a: np.ndarray) -> list[float]:
    return np.asarray(a, dtype=np.float64).tolist()


def latency_checks(
    bs: Sequence[Population], cs: Sequence[Population], th: CheckThresholds, alpha: float
) -> Batch:
    """Quantile checks (p50/p95/p99 by default): exceedance test at the pooled quantile's bucket edge."""
    cfg = th.latency
    if not cfg.enabled:
        return []
    names = [f"latency.p{round(q * 100):02d}" for q in cfg.quantiles]
    weights = cfg.quantile_weights()
    test = "exceedance-hypergeometric"
    out: Batch = []
    ready: list[int] = []
    evidence: list[dict[str, Any]] = []
    for i, (b, c) in enumerate(zip(bs, cs)):
        hb, hc = b.latency, c.latency
        n_b, n_c = (hb.count if hb else 0), (hc.count if hc else 0)
        ev: dict[str, Any] = {"unit": "ms"}
        if hb is not None and hc is not None:
            ev.update(baseline_histogram=hb, candidate_histogram=hc)
        evidence.append(ev)
        if n_b < cfg.min_calls or n_c < cfg.min_calls:
            why = (
                f"too few calls with a duration: {n_b} baseline, {n_c} candidate "
                f"(need ≥ {cfg.min_calls} each)"
            )
            out.extend(
                (i, _insufficient(name, n_b, n_c, cfg.threshold, "relative", test, why, ev, w))
                for name, w in zip(names, weights)
            )
        else:
            ready.append(i)
    if not ready:
        return out
    # a pair whose aligned histograms are very wide (fine scales far apart) is computed on its own
    wide, narrow = [], []
    for i in ready:
        hb, hc = bs[i].latency, cs[i].latency
        scale = min(hb.scale, hc.scale)
        span = [
            (h.offset >> (h.scale - scale), (h.offset + len(h.counts)) >> (h.scale - scale)) for h in (hb, hc)
        ]
        (wide if max(s[1] for s in span) - min(s[0] for s in span) > MAX_LATENCY_WIDTH else narrow).append(i)
    for group in [narrow] + [[i] for i in wide]:
        if group:
            out.extend(_latency_group(group, bs, cs, cfg, names, weights, alpha, evidence, test))
    return out


def _latency_group(group, bs, cs, cfg, names, weights, alpha, evidence, test) -> Batch:
    ab, ac = aligned_latency_matrix([bs[i].latency for i in group], [cs[i].latency for i in group])
    n_b, n_c = ab.n, ac.n
    pooled_cum = ab.cum + ac.cum
    rows = np.arange(len(group))
    per_q = []
    for q in cfg.quantiles:
        k = np.minimum((pooled_cum < np.ceil(q * (n_b + n_c))[:, None]).sum(axis=1), pooled_cum.shape[1] - 1)
        x_b, x_c = n_b - ab.cum[rows, k], n_c - ac.cum[rows, k]
        p = stats.exceedance_p_values(n_b, x_b, n_c, x_c)
        qb, qc = ab.quantile(q), ac.quantile(q)
        lo_b, hi_b = _bounds(ab, q, alpha / 2)
        lo_c, hi_c = _bounds(ac, q, alpha / 2)
        ci_lo, ci_hi = _ratio(lo_c, hi_b) - 1, _ratio(hi_c, lo_b) - 1
        t = cfg.threshold
        p0 = 1 - ab.cdf(qb)
        p1 = 1 - ab.cdf(qb / (1 + t))
        per_q.append(
            [
                _floats(v)
                for v in (
                    ab.upper[rows, k] * 1000,
                    x_b,
                    x_c,
                    p,
                    qb * 1000,
                    qc * 1000,
                    _ratio(qc, qb) - 1,
                    ci_lo,
                    ci_hi,
                    p0,
                    p1,
                )
            ]  # fmt: skip
        )
    nb_l, nc_l = n_b.tolist(), n_c.tolist()
    out: Batch = []
    t = cfg.threshold
    for j, i in enumerate(group):
        nb, nc = nb_l[j], nc_l[j]
        for q, name, w, cols in zip(cfg.quantiles, names, weights, per_q):
            ev = evidence[i]
            if min(nb, nc) * (1 - q) < cfg.min_events:
                need = math.ceil(cfg.min_events / (1 - q))
                why = (
                    f"too few calls for {name}: {nb} baseline, {nc} candidate (need ≥ {need} each for "
                    f"{cfg.min_events} calls above the quantile)"
                )
                out.append((i, _insufficient(name, nb, nc, t, "relative", test, why, ev, w)))
                continue
            edge, x_b, x_c, p, qb, qc, eff, lo, hi, p0, p1 = (col[j] for col in cols)
            out.append(
                (
                    i,
                    Draft(
                        name, nb, nc, t, "relative", test,
                        baseline=qb, candidate=qc, effect=eff, ci=(lo, hi), p_value=p,
                        material=hi >= t, rules_out=hi < t, plan=("proportions", p0, p1), weight=w,
                        evidence={
                            **ev, "edge_ms": edge, "above_baseline": int(x_b), "above_candidate": int(x_c)
                        },
                    ),
                )
            )  # fmt: skip
    return out


def error_check(
    bs: Sequence[Population], cs: Sequence[Population], th: CheckThresholds, alpha: float
) -> Batch:
    """Error rate: one-sided pooled two-proportion z (Fisher mid-p when few errors), Newcombe interval."""
    cfg = th.errors
    if not cfg.enabled or not bs:
        return []
    n_b = np.fromiter((b.calls for b in bs), np.int64, len(bs))
    n_c = np.fromiter((c.calls for c in cs), np.int64, len(cs))
    x_b = np.fromiter((b.errors for b in bs), np.int64, len(bs))
    x_c = np.fromiter((c.errors for c in cs), np.int64, len(cs))
    ok = (n_b >= cfg.min_calls) & (n_c >= cfg.min_calls) & (n_b > 0) & (n_c > 0)
    safe_b, safe_c = np.maximum(n_b, 1), np.maximum(n_c, 1)
    p, fisher = stats.two_proportion_tests(x_b, safe_b, x_c, safe_c)
    lo, hi = stats.newcombe_intervals(x_b, safe_b, x_c, safe_c, alpha)
    rate_b, rate_c = x_b / safe_b, x_c / safe_c
    t = cfg.threshold
    cols = [v.tolist() for v in (n_b, n_c, x_b, x_c, ok, p, fisher, lo, hi, rate_b, rate_c)]
    out: Batch = []
    for i, (nb, nc, xb, xc, good, pv, fi, l_, h_, rb, rc) in enumerate(zip(*cols)):
        evidence = {
            "errors_baseline": xb,
            "errors_candidate": xc,
            "calls_baseline": nb,
            "calls_candidate": nc,
        }
        if not good:
            why = f"too few calls: {nb} baseline, {nc} candidate (need ≥ {cfg.min_calls} each)"
            out.append(
                (
                    i,
                    _insufficient(
                        "errors.rate", nb, nc, t, "absolute", "two-proportion", why, evidence, cfg.weight
                    ),
                )
            )
            continue
        out.append(
            (
                i,
                Draft(
                    "errors.rate", nb, nc, t, "absolute", "fisher-mid-p" if fi else "two-proportion-z",
                    baseline=rb, candidate=rc, effect=rc - rb, ci=(l_, h_), p_value=pv,
                    material=h_ >= t, rules_out=h_ < t, plan=("proportions", rb, min(rb + t, 1.0)),
                    weight=cfg.weight, evidence=evidence,
                ),
            )
        )  # fmt: skip
    return out


def confidence_checks(
    bs: Sequence[Population], cs: Sequence[Population], th: CheckThresholds, alpha: float
) -> Batch:
    """Confidence: mean drop (z), low-tail p05 drop (exceedance test below the pooled p05), JS distance."""
    cfg = th.confidence
    if not cfg.enabled:
        return []
    names = (
        ("confidence.mean", cfg.mean_threshold, "mean-shift-z", cfg.mean_weight),
        ("confidence.p05", cfg.p05_threshold, "low-tail-exceedance-hypergeometric", cfg.p05_weight),
        ("confidence.distribution", 0.0, "jensen-shannon", 0.0),
    )
    out: Batch = []
    ready: list[int] = []
    evidence: dict[int, dict[str, Any]] = {}
    for i, (b, c) in enumerate(zip(bs, cs)):
        hb, hc = b.confidence, c.confidence
        n_b, n_c = (hb.count if hb else 0), (hc.count if hc else 0)
        if n_b == 0 and n_c == 0:
            continue  # the model reports no confidence on either side: nothing to compare
        ev: dict[str, Any] = {}
        if hb is not None and hc is not None:
            ev.update(baseline_histogram=hb, candidate_histogram=hc)
        evidence[i] = ev
        if n_b < cfg.min_count or n_c < cfg.min_count:
            why = f"too few confidence values: {n_b} baseline, {n_c} candidate (need ≥ {cfg.min_count} each)"
            drafts = [_insufficient(n, n_b, n_c, t, "absolute", test, why, ev, w) for n, t, test, w in names]
            drafts[-1].gated = False
            out.extend((i, d) for d in drafts)
        else:
            ready.append(i)
    if not ready:
        return out
    bb = confidence_matrix([bs[i].confidence for i in ready])
    bc = confidence_matrix([cs[i].confidence for i in ready])
    n_b, n_c = bb.n, bc.n
    sum_b = np.fromiter((bs[i].confidence.sum for i in ready), np.float64, len(ready))
    sum_c = np.fromiter((cs[i].confidence.sum for i in ready), np.float64, len(ready))
    mid = (bb.lower + bb.upper) / 2

    def moments(bins: BinMatrix, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = total / bins.n
        var = (bins.counts * (mid - mean[:, None]) ** 2).sum(axis=1) / np.maximum(bins.n - 1, 1)
        return mean, np.maximum(var - 0.005**2 / 12, 0.0)  # Sheppard's correction

    (mb, vb), (mc, vc) = moments(bb, sum_b), moments(bc, sum_c)
    p_mean, lo_mean, hi_mean = stats.mean_shift_tests(mb, vb, n_b, mc, vc, n_c, alpha)
    q = 0.05
    rows = np.arange(len(ready))
    pooled_cum = bb.cum + bc.cum
    k = (pooled_cum < np.ceil(q * (n_b + n_c))[:, None]).sum(axis=1)
    km1 = np.maximum(k - 1, 0)
    x_b = np.where(k > 0, bb.cum[rows, km1], 0)
    x_c = np.where(k > 0, bc.cum[rows, km1], 0)
    p05 = stats.exceedance_p_values(n_b, x_b, n_c, x_c)
    qb, qc = bb.quantile(q), bc.quantile(q)
    lo_b, hi_b = _bounds(bb, q, alpha / 2)
    lo_c, hi_c = _bounds(bc, q, alpha / 2)
    t05 = cfg.p05_threshold
    p0, p1 = bb.cdf(qb), bb.cdf(np.minimum(qb + t05, 1.0))
    edge = bb.lower[0, np.minimum(k, bb.counts.shape[1] - 1)]
    js = stats.jensen_shannon_distances(bb.counts, bc.counts)
    low_b, low_c = bb.cdf(LOW_CONFIDENCE), bc.cdf(LOW_CONFIDENCE)
    cols = [
        _floats(v)
        for v in (mb, vb, mc, p_mean, lo_mean, hi_mean, x_b, x_c, p05, qb, qc, lo_c - hi_b, hi_c - lo_b,
                  p0, p1, edge, js, low_b, low_c)
    ]  # fmt: skip
    tm = cfg.mean_threshold
    enough_p05 = (np.minimum(n_b, n_c) * q >= cfg.min_events).tolist()
    for j, i in enumerate(ready):
        (m_b, v_b, m_c, pm, lm, hm, xb, xc, pv, q_b, q_c, l5, h5, a0, a1, e5, jsd, lb, lc) = (
            c[j] for c in cols
        )
        nb, nc = int(n_b[j]), int(n_c[j])
        ev = evidence[i]
        out.append(
            (
                i,
                Draft(
                    "confidence.mean", nb, nc, tm, "absolute", "mean-shift-z",
                    baseline=m_b, candidate=m_c, effect=m_c - m_b, ci=(lm, hm), p_value=pm,
                    material=lm <= -tm, rules_out=lm > -tm, plan=("mean", math.sqrt(v_b), tm),
                    weight=cfg.mean_weight, evidence=ev,
                ),
            )
        )  # fmt: skip
        if not enough_p05[j]:
            need = math.ceil(cfg.min_events / q)
            why = f"too few confidence values for p05: {nb} baseline, {nc} candidate (need ≥ {need} each)"
            out.append(
                (
                    i,
                    _insufficient(
                        "confidence.p05", nb, nc, t05, "absolute", names[1][2], why, ev, cfg.p05_weight
                    ),
                )
            )
        else:
            out.append(
                (
                    i,
                    Draft(
                        "confidence.p05", nb, nc, t05, "absolute", names[1][2],
                        baseline=q_b, candidate=q_c, effect=q_c - q_b, ci=(l5, h5), p_value=pv,
                        material=l5 <= -t05, rules_out=l5 > -t05, plan=("proportions", a0, a1),
                        weight=cfg.p05_weight,
                        evidence={**ev, "edge": e5, "below_baseline": int(xb), "below_candidate": int(xc)},
                    ),
                )
            )  # fmt: skip
        out.append(
            (
                i,
                Draft(
                    "confidence.distribution", nb, nc, 0.0, "distance", "jensen-shannon",
                    baseline=0.0, candidate=jsd, effect=jsd, gated=False, weight=0.0,
                    reason=f"reported, not gated; share ≤ {LOW_CONFIDENCE}: {lb:.4f} → {lc:.4f}",
                    evidence={**ev, "low_share_baseline": lb, "low_share_candidate": lc},
                ),
            )
        )  # fmt: skip
    return out


def memory_checks(
    bs: Sequence[Population], cs: Sequence[Population], th: CheckThresholds, alpha: float
) -> Batch:
    """Average and peak RSS: Welch's t on per-window values with devices as the units where the source
    counts them (see source.population_from_row), ratio-of-means interval (delta method)."""
    cfg = th.memory
    if not cfg.enabled:
        return []
    out: Batch = []
    for name, attr, t, w in (
        ("memory.avg_rss", "avg_rss", cfg.avg_threshold, cfg.avg_weight),
        ("memory.peak_rss", "peak_rss", cfg.peak_threshold, cfg.peak_weight),
    ):
        ready, samples = [], []
        for i, (b, c) in enumerate(zip(bs, cs)):
            if b.memory is None and c.memory is None:
                continue
            sb = getattr(b.memory, attr) if b.memory else None
            sc = getattr(c.memory, attr) if c.memory else None
            n_b, n_c = (sb.n if sb else 0), (sc.n if sc else 0)
            evidence = {"unit": "bytes", "baseline_windows": sb, "candidate_windows": sc}
            if n_b < cfg.min_windows or n_c < cfg.min_windows or sb is None or sc is None:
                why = (f"too few devices (or windows) with memory: {n_b} baseline, {n_c} candidate "
                       f"(need ≥ {cfg.min_windows} each)")  # fmt: skip
                out.append((i, _insufficient(name, n_b, n_c, t, "relative", "welch-t", why, evidence, w)))
            else:
                ready.append((i, evidence))
                samples.append((sb.mean, sb.sd, sb.n, sc.mean, sc.sd, sc.n))
        if not ready:
            continue
        mb, sdb, nb, mc, sdc, nc = (np.array(v, dtype=np.float64) for v in zip(*samples))
        p, df = stats.welch_tests(mb, sdb, nb, mc, sdc, nc)
        lo, hi = stats.ratio_of_means_intervals(mb, sdb, nb, mc, sdc, nc, df, alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            cv = np.where(mb > 0, sdb / mb, np.inf)
        effect = _ratio(mc, mb) - 1
        for (i, evidence), smp, pv, l_, h_, e, v in zip(
            ready, samples, *(_floats(a) for a in (p, lo, hi, effect, cv))
        ):
            out.append(
                (
                    i,
                    Draft(
                        name, smp[2], smp[5], t, "relative", "welch-t",
                        baseline=smp[0], candidate=smp[3], effect=e, ci=(l_, h_), p_value=pv,
                        material=h_ >= t, rules_out=h_ < t, plan=("mean", v, math.log1p(t)), weight=w,
                        evidence=evidence,
                    ),
                )
            )  # fmt: skip
    out.sort(key=lambda x: x[0])  # stable: avg before peak within a cohort
    return out
