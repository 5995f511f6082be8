"""Compare baseline and candidate cohorts: run every check, control multiplicity, decide the verdict.

Verdict rules (docs/regressions.md, "Decision rule"):

* a gated check is a **regression** when its one-sided test rejects "no worsening" at the family-wide
  level (weighted Holm by default, over every cohort and check tested together; each check carries
  its configured share of alpha) *and* its confidence interval reaches the threshold (the data do
  not rule out a change at least that large);
* it is **ok** when it is not a regression and either the interval rules out a threshold-size change
  or each side reached the planned sample (the size that detects a threshold-size change with the
  configured power at the test's own level, alpha · w / Σw);
* otherwise it is **insufficient** (too little data; the reason says how much is there and needed).

FAIL if any gated finding is a regression; PASS if every gated finding is ok; else INCONCLUSIVE.
Exit codes: PASS 0, FAIL 1, INCONCLUSIVE 3 (2 is left to usage errors).

The checks run for all cohorts at once (arrays across cohorts, see `checks`); one batch per set of
thresholds (per-model overrides make their own batch)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from . import stats
from .checks import Draft, confidence_checks, error_check, latency_checks, memory_checks
from .gcpause import gc_paused
from .model import Cohort, Finding, Population, Report, Status, Verdict
from .stats import _NEVER
from .thresholds import CheckThresholds, Thresholds

__all__ = ["COMPARISONS", "DEFAULT_SPLIT", "build_cohorts", "compare"]

DEFAULT_SPLIT = ("model", "target", "hardware")
COMPARISONS = {
    "versions": "two model versions",
    "time_ranges": "two time ranges",
    "edge_vs_cloud": "edge vs cloud",
    "device_vs_cohort": "one device vs its hardware cohort",
}
_CHECKS = (latency_checks, error_check, confidence_checks, memory_checks)


def build_cohorts(
    baseline: Iterable[tuple[Mapping[str, str], Population]],
    candidate: Iterable[tuple[Mapping[str, str], Population]],
    split_by: Sequence[str] = DEFAULT_SPLIT,
) -> list[Cohort]:
    """Group keyed populations by ``split_by`` (merging the rest) and pair baseline with candidate."""

    def group(rows: Iterable[tuple[Mapping[str, str], Population]]) -> dict[tuple[str, ...], Population]:
        out: dict[tuple[str, ...], Population] = {}
        for key, pop in rows:
            k = tuple(str(key.get(d, "unknown")) for d in split_by)
            out[k] = out[k].merge(pop) if k in out else pop
        return out

    b, c = group(baseline), group(candidate)
    keys = list(b) + [k for k in c if k not in b]
    return [Cohort(dict(zip(split_by, k)), b.get(k), c.get(k)) for k in sorted(keys)]


def compare(
    cohorts: Iterable[Cohort],
    thresholds: Thresholds | None = None,
    *,
    comparison: str = "versions",
    observational: bool | None = None,
) -> Report:
    """Run every check on every cohort, adjust p-values across all of them, and return the report."""
    with gc_paused():  # ~10 findings per cohort, none in a reference cycle (see gcpause)
        return _compare(list(cohorts), thresholds or Thresholds(), comparison, observational)


def _compare(cohorts: list[Cohort], th: Thresholds, comparison: str, observational: bool | None) -> Report:
    if comparison not in COMPARISONS:
        raise ValueError(f"unknown comparison {comparison!r} — use one of {', '.join(COMPARISONS)}")
    alpha, power = th.alpha, th.power
    per_cohort: list[list[Draft]] = [[] for _ in cohorts]
    groups: dict[int, tuple[CheckThresholds, list[int]]] = {}
    for i, cohort in enumerate(cohorts):
        if cohort.baseline is None or cohort.candidate is None:
            side = "baseline" if cohort.baseline is None else "candidate"
            pop = cohort.candidate or cohort.baseline
            n = pop.calls if pop else 0
            per_cohort[i].append(
                Draft(
                    "cohort",
                    0 if side == "baseline" else n,
                    0 if side == "candidate" else n,
                    0.0,
                    "none",
                    "none",
                    reason=f"no {side} data for this cohort",
                )
            )
            continue
        checks = th.for_model(cohort.model)
        groups.setdefault(id(checks), (checks, []))[1].append(i)
    for checks, members in groups.values():  # one batch per set of thresholds (per-model overrides)
        bs = [cohorts[i].baseline for i in members]
        cs = [cohorts[i].candidate for i in members]
        for check in _CHECKS:
            for pos, d in check(bs, cs, checks, alpha):
                per_cohort[members[pos]].append(d)
    rows = [(i, d) for i, drafts in enumerate(per_cohort) for d in drafts]

    tested = np.array(
        [k for k, (_, d) in enumerate(rows) if d.gated and d.p_value is not None], dtype=np.int64
    )
    raw = np.array([rows[k][1].p_value for k in tested], dtype=np.float64)
    weights = np.array([rows[k][1].weight for k in tested], dtype=np.float64)
    if th.correction == "holm":
        adjusted = np.asarray(stats.holm(raw, weights))
    elif th.correction == "bh":
        adjusted = np.asarray(stats.benjamini_hochberg(raw, weights))
    else:
        adjusted = raw
    # each test's own level for the sample plan: its weighted-Bonferroni share of alpha
    level = (
        alpha * weights / weights.sum()
        if th.correction != "none" and len(tested)
        else np.full(len(tested), alpha)
    )
    planned = _planned(rows, tested, level, power)
    p_adj = dict(zip(tested.tolist(), adjusted.tolist()))
    plan_of = dict(zip(tested.tolist(), planned))

    findings = [_finish(cohorts[i], d, p_adj.get(k), plan_of.get(k), alpha) for k, (i, d) in enumerate(rows)]
    gated = [f for f in findings if f.gated]
    if any(f.status is Status.REGRESSION for f in gated):
        verdict = Verdict.FAIL
    elif gated and all(f.status is Status.OK for f in gated):
        verdict = Verdict.PASS
    else:
        verdict = Verdict.INCONCLUSIVE
    if observational is None:
        observational = comparison != "versions"
    how = {"holm": "weighted Holm", "bh": "weighted Benjamini–Hochberg", "none": "no correction"}[
        th.correction
    ]
    notes = [f"{COMPARISONS[comparison]}; {len(tested)} tests, {how} at alpha={alpha}"]
    if observational:
        notes.append(
            "observational comparison (not randomised): differences may come from traffic, hardware "
            "or time, not only from what differs by design"
        )
    if not gated:
        notes.append("nothing was tested: no cohort had both a baseline and a candidate")
    return Report(verdict, tuple(findings), alpha, th.correction, comparison, observational, tuple(notes))


def _planned(
    rows: list[tuple[int, Draft]], tested: np.ndarray, level: np.ndarray, power: float
) -> list[int | None]:
    """Per tested finding, the per-side sample that detects a threshold-size change (None: cannot say)."""
    out = np.full(len(tested), _NEVER, dtype=np.int64)
    kinds: dict[str, list[int]] = {}
    for j, k in enumerate(tested.tolist()):
        plan = rows[k][1].plan
        if plan is not None:
            kinds.setdefault(plan[0], []).append(j)
    for kind, js in kinds.items():
        a = np.array([rows[tested[j]][1].plan[1] for j in js], dtype=np.float64)
        b = np.array([rows[tested[j]][1].plan[2] for j in js], dtype=np.float64)
        if kind == "proportions":
            out[js] = stats.required_n_proportions_array(a, b, level[js], power)
        else:
            out[js] = stats.required_n_means(a, b, level[js], power)
    return [None if n >= _NEVER else n for n in out.tolist()]


def _finish(cohort: Cohort, d: Draft, p_adj: float | None, planned: int | None, alpha: float) -> Finding:
    if d.p_value is None:
        status = Status.OK if not d.gated and d.effect is not None else Status.INSUFFICIENT
        reason = d.reason
        planned = None
    else:
        rejected = d.gated and p_adj is not None and p_adj <= alpha
        enough = planned is not None and min(d.n_baseline, d.n_candidate) >= planned
        if rejected and d.material:
            status, reason = (
                Status.REGRESSION,
                f"worse beyond the {_fmt(d)} threshold (adjusted p={p_adj:.2g})",
            )
        elif rejected:
            status, reason = Status.OK, f"significant change, but the interval rules out {_fmt(d)}"
        elif d.rules_out:
            status, reason = Status.OK, f"the interval rules out a change of {_fmt(d)}"
        elif enough:
            status, reason = Status.OK, f"no significant change; the sample can detect {_fmt(d)}"
        else:
            need = f"about {planned:,} per side" if planned else "more data"
            status = Status.INSUFFICIENT
            reason = (
                f"no significant change, but {d.n_baseline:,} baseline / {d.n_candidate:,} candidate "
                f"cannot yet detect {_fmt(d)} ({need} needed)"
            )
    return Finding(
        check=d.check,
        cohort=dict(cohort.key),
        status=status,
        baseline=d.baseline,
        candidate=d.candidate,
        effect=d.effect,
        effect_kind=d.effect_kind,
        threshold=d.threshold,
        n_baseline=d.n_baseline,
        n_candidate=d.n_candidate,
        test=d.test,
        ci=d.ci,
        p_value=d.p_value,
        p_adjusted=p_adj,
        planned_n=planned,
        gated=d.gated,
        reason=d.reason or reason,
        evidence=d.evidence,
        weight=d.weight,
    )


def _fmt(d: Draft) -> str:
    if d.effect_kind == "relative":
        return f"{d.threshold:+.0%}"
    if d.check.startswith("errors"):
        return f"+{d.threshold * 100:.2g} pp"
    return f"-{d.threshold:.3g}"
