"""The engine end to end on populations built from raw samples: values, gating, multiplicity, verdicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from inferwatch.regressions import (
    Cohort,
    LatencyThresholds,
    Population,
    Status,
    Thresholds,
    Verdict,
    build_cohorts,
    compare,
)
from inferwatch.regressions import stats as rstats
from inferwatch.regressions.thresholds import CheckThresholds


def _by_check(report, check, cohort=None):
    return next(f for f in report.findings if f.check == check and (cohort is None or f.cohort == cohort))


def _pair(make_population, rng, n=5000, factor=1.0, err=(0.005, 0.005), conf_b=2.0, peak=1.0, sigma=0.5):
    def side(f, e, b, pk):
        lat = rng.lognormal(np.log(0.02 * f), sigma, n)
        avg = 4e8 * (1 + 0.03 * rng.standard_normal(10))
        return make_population(
            lat,
            errors=int((rng.random(n) < e).sum()),
            confidence=rng.beta(8, b, n),
            memory_avg=avg,
            memory_peak=avg * 1.05 * pk,
        ), lat

    (b, lat_b), (c, lat_c) = side(1.0, err[0], 2.0, 1.0), side(factor, err[1], conf_b, peak)
    return b, c, lat_b, lat_c


def test_exceedance_counts_and_p_value_equal_scipy_on_the_raw_samples(make_population, rng):
    b, c, lat_b, lat_c = _pair(make_population, rng, factor=1.04)
    report = compare([Cohort({"model": "m"}, b, c)])
    f = _by_check(report, "latency.p95")
    edge = f.evidence["edge_ms"] / 1000
    x_b, x_c = int((lat_b > edge).sum()), int((lat_c > edge).sum())
    assert (f.evidence["above_baseline"], f.evidence["above_candidate"]) == (x_b, x_c)
    assert f.p_value == pytest.approx(
        sps.hypergeom.sf(x_c - 1, lat_b.size + lat_c.size, x_b + x_c, lat_c.size)
    )


def test_quantile_values_and_interval_agree_with_the_raw_samples(make_population, rng):
    b, c, lat_b, lat_c = _pair(make_population, rng, factor=1.2)
    f = _by_check(compare([Cohort({"model": "m"}, b, c)]), "latency.p95")
    assert f.baseline == pytest.approx(np.quantile(lat_b, 0.95) * 1000, rel=0.01)
    assert f.candidate == pytest.approx(np.quantile(lat_c, 0.95) * 1000, rel=0.01)
    raw_ratio = np.quantile(lat_c, 0.95) / np.quantile(lat_b, 0.95) - 1
    assert f.ci[0] <= raw_ratio <= f.ci[1]


def test_a_clear_latency_regression_fails_with_effect_p_value_and_sample_sizes(make_population, rng):
    b, c, *_ = _pair(make_population, rng, factor=1.25)
    report = compare([Cohort({"model": "m", "target": "edge"}, b, c)])
    assert report.verdict is Verdict.FAIL and report.exit_code == 1
    f = _by_check(report, "latency.p95")
    assert f.status is Status.REGRESSION
    assert f.effect == pytest.approx(0.25, abs=0.06)
    assert f.p_adjusted < 0.01 and f.n_baseline == f.n_candidate == 5000
    assert f.cohort == {"model": "m", "target": "edge"}


def test_error_confidence_and_memory_regressions_are_each_found(make_population, rng):
    b, c, *_ = _pair(make_population, rng, n=8000, err=(0.005, 0.02), conf_b=3.0, peak=1.3)
    report = compare([Cohort({"model": "m"}, b, c)])
    found = {f.check for f in report.regressions}
    assert {"errors.rate", "confidence.mean", "memory.peak_rss"} <= found
    assert "memory.avg_rss" not in found
    err = _by_check(report, "errors.rate")
    assert err.baseline == b.errors / b.calls and err.candidate == c.errors / c.calls


def test_confidence_mean_from_buckets_matches_the_raw_mean(make_population, rng):
    raw_b, raw_c = rng.beta(8, 2, 4000), rng.beta(8, 2.2, 4000)
    b = make_population(rng.lognormal(-4, 0.5, 4000), confidence=raw_b)
    c = make_population(rng.lognormal(-4, 0.5, 4000), confidence=raw_c)
    f = _by_check(compare([Cohort({"model": "m"}, b, c)]), "confidence.mean")
    assert f.baseline == pytest.approx(raw_b.mean(), rel=1e-9)
    z = (raw_c.mean() - raw_b.mean()) / np.sqrt(raw_b.var(ddof=1) / 4000 + raw_c.var(ddof=1) / 4000)
    assert f.p_value == pytest.approx(sps.norm.cdf(z), rel=0.02)


def test_memory_check_is_welch_on_the_window_values(make_population, rng):
    avg_b, avg_c = 4e8 + 1e7 * rng.standard_normal(8), 4.6e8 + 1e7 * rng.standard_normal(7)
    b = make_population(rng.lognormal(-4, 0.5, 500), memory_avg=avg_b, memory_peak=avg_b)
    c = make_population(rng.lognormal(-4, 0.5, 500), memory_avg=avg_c, memory_peak=avg_c)
    f = _by_check(compare([Cohort({"model": "m"}, b, c)]), "memory.avg_rss")
    assert f.p_value == pytest.approx(
        sps.ttest_ind(avg_c, avg_b, equal_var=False, alternative="greater").pvalue
    )
    assert f.n_baseline == 8 and f.n_candidate == 7 and f.status is Status.REGRESSION


def test_too_little_data_is_insufficient_with_the_counts_never_pass(make_population, rng):
    b = make_population(rng.lognormal(-4, 0.5, 150), errors=1)
    c = make_population(rng.lognormal(-4, 0.5, 120), errors=0)
    report = compare([Cohort({"model": "m"}, b, c)])
    assert report.verdict is Verdict.INCONCLUSIVE and report.exit_code == 3
    f = _by_check(report, "latency.p50")
    assert f.status is Status.INSUFFICIENT and "150 baseline, 120 candidate" in f.reason
    assert f.p_value is None


def test_p99_needs_enough_calls_above_it(make_population, rng):
    b = make_population(rng.lognormal(-4, 0.5, 600))
    c = make_population(rng.lognormal(-4, 0.5, 600))
    report = compare([Cohort({"model": "m"}, b, c)])
    assert _by_check(report, "latency.p99").status is Status.INSUFFICIENT
    assert _by_check(report, "latency.p50").p_value is not None


def test_identical_large_populations_pass(make_population, rng):
    b, c, *_ = _pair(make_population, rng, n=40_000)
    th = Thresholds(defaults=CheckThresholds(latency=LatencyThresholds(quantiles=(0.5, 0.95))))
    report = compare([Cohort({"model": "m"}, b, c)], th)
    assert report.verdict is Verdict.PASS, [(f.check, f.reason) for f in report.findings]
    assert report.exit_code == 0


def test_a_significant_shift_below_the_threshold_is_ok(make_population, rng):
    b, c, *_ = _pair(make_population, rng, n=200_000, factor=1.03)
    th = Thresholds(defaults=CheckThresholds(latency=LatencyThresholds(quantiles=(0.5,))))
    f = _by_check(compare([Cohort({"model": "m"}, b, c)], th), "latency.p50")
    assert f.p_value < 1e-6 and f.status is Status.OK and "rules out" in f.reason


@pytest.mark.parametrize("correction, adjust", [("holm", rstats.holm), ("bh", rstats.benjamini_hochberg)])
def test_p_values_are_adjusted_across_all_cohorts_and_checks_together(
    make_population, rng, correction, adjust
):
    cohorts = []
    for i in range(4):
        b, c, *_ = _pair(make_population, rng, n=2000, factor=1.0 + 0.03 * i)
        cohorts.append(Cohort({"model": f"m{i}"}, b, c))
    report = compare(cohorts, Thresholds(correction=correction))
    tested = [f for f in report.findings if f.gated and f.p_value is not None]
    assert len(tested) == 4 * 8
    weights = [f.weight for f in tested]
    assert len(set(weights)) > 1  # the default weights differ per check
    assert [f.p_adjusted for f in tested] == pytest.approx(adjust([f.p_value for f in tested], weights))


def test_a_p_value_that_passes_alone_does_not_survive_many_cohorts(make_population, rng):
    b, c, *_ = _pair(make_population, rng, n=3000, factor=1.09)
    alone = _by_check(compare([Cohort({"model": "m"}, b, c)]), "latency.p50")
    crowd = [Cohort({"model": "m"}, b, c)] + [Cohort({"model": f"x{i}"}, b, b) for i in range(200)]
    crowded = _by_check(compare(crowd), "latency.p50", {"model": "m"})
    assert alone.p_value == crowded.p_value
    assert crowded.p_adjusted > alone.p_adjusted


def test_a_cohort_seen_on_one_side_only_is_insufficient(make_population, rng):
    b = make_population(rng.lognormal(-4, 0.5, 1000))
    cohorts = build_cohorts(
        [({"model": "a", "target": "edge", "hardware": "pi"}, b)],
        [({"model": "b", "target": "edge", "hardware": "pi"}, b)],
    )
    report = compare(cohorts)
    assert [f.reason for f in report.findings] == [
        "no candidate data for this cohort",
        "no baseline data for this cohort",
    ]
    assert all(f.status is Status.INSUFFICIENT for f in report.findings)
    assert report.verdict is Verdict.INCONCLUSIVE


def test_build_cohorts_splits_by_model_target_hardware_and_merges_the_rest(make_population, rng):
    p = make_population(rng.lognormal(-4, 0.5, 300), errors=3)
    rows = [({"model": "m", "target": "edge", "hardware": "pi", "device_id": d}, p) for d in "abc"]
    rows.append(({"model": "m", "target": "cloud", "hardware": "t4", "device_id": "z"}, p))
    cohorts = build_cohorts(rows, rows)
    assert [c.key for c in cohorts] == [
        {"model": "m", "target": "cloud", "hardware": "t4"},
        {"model": "m", "target": "edge", "hardware": "pi"},
    ]
    assert cohorts[1].baseline.calls == 900 and cohorts[1].baseline.errors == 9
    assert cohorts[1].baseline.latency.count == 900
    by_model = build_cohorts(rows, rows, split_by=("model",))
    assert len(by_model) == 1 and by_model[0].candidate.calls == 1200


def test_models_without_confidence_or_memory_get_no_such_findings(rng):
    b = Population(calls=1000, errors=5)
    report = compare([Cohort({"model": "m"}, b, b)])
    assert {f.check for f in report.findings} == {"latency.p50", "latency.p95", "latency.p99", "errors.rate"}


def test_per_model_thresholds_apply_to_that_model_only(make_population, rng):
    b, c, *_ = _pair(make_population, rng, factor=1.25)
    th = Thresholds.from_dict({"models": {"lenient": {"latency": {"threshold": 2.0}}}})
    report = compare([Cohort({"model": "strict"}, b, c), Cohort({"model": "lenient"}, b, c)], th)
    assert _by_check(report, "latency.p95", {"model": "strict"}).status is Status.REGRESSION
    assert _by_check(report, "latency.p95", {"model": "lenient"}).status is not Status.REGRESSION


def test_report_serialises_to_strict_json_with_histogram_evidence(make_population, rng):
    b, c, *_ = _pair(make_population, rng, factor=1.25)
    report = compare([Cohort({"model": "m"}, b, c)], comparison="edge_vs_cloud")
    data = json.loads(report.to_json())
    assert data["verdict"] == "FAIL" and data["exit_code"] == 1 and data["observational"] is True
    assert any("observational" in n for n in data["notes"])
    f = next(x for x in data["findings"] if x["check"] == "latency.p95")
    assert f["evidence"]["baseline_histogram"]["counts"] and f["status"] == "regression"
    conf = next(x for x in data["findings"] if x["check"] == "confidence.mean")
    assert len(conf["evidence"]["candidate_histogram"]["counts"]) == 200


def test_unknown_comparison_kind_is_rejected():
    with pytest.raises(ValueError, match="edge_vs_cloud"):
        compare([], comparison="sideways")


def test_many_cohorts_at_once_give_each_cohort_what_it_gets_alone(make_population, rng):
    """The checks run on arrays across cohorts: no row may leak into another."""
    cohorts = []
    for i in range(12):
        n = int(rng.choice([300, 1500, 6000]))
        b, c, *_ = _pair(make_population, rng, n=n, factor=1.0 + 0.05 * (i % 4), sigma=0.4 + 0.1 * (i % 5))
        if i % 4 == 3:
            c = Population(c.calls, c.errors, c.latency, None, None)  # no confidence or memory
        cohorts.append(Cohort({"model": f"m{i}"}, b, c))
    th = Thresholds(correction="none")
    together = compare(cohorts, th).findings
    alone = [f for c in cohorts for f in compare([c], th).findings]
    assert len(together) == len(alone)
    for f, g in zip(together, alone):
        assert (f.check, f.cohort, f.status, f.reason) == (g.check, g.cohort, g.status, g.reason)
        assert (f.p_value, f.effect, f.ci, f.planned_n) == (g.p_value, g.effect, g.ci, g.planned_n)


def test_a_pair_with_very_wide_aligned_buckets_is_computed_on_its_own(make_population, rng):
    from inferwatch.regressions import LatencyHistogram
    from inferwatch.regressions.buckets import aligned_latency

    narrow_b, narrow_c, *_ = _pair(make_population, rng, n=2000)
    # fine scale, far-apart ranges: ~10,000 aligned buckets at scale 12
    wide_b = Population(1000, 0, LatencyHistogram(12, -40_000, (500, 500), 0, 1.0, 0.001, 0.0011))
    wide_c = Population(1000, 0, LatencyHistogram(12, -30_000, (500, 500), 0, 10.0, 0.006, 0.0061))
    assert len(aligned_latency(wide_b.latency, wide_c.latency)[0].counts) > 4096
    report = compare([Cohort({"model": "a"}, narrow_b, narrow_c), Cohort({"model": "w"}, wide_b, wide_c)])
    f = _by_check(report, "latency.p50", {"model": "w"})
    assert f.status is Status.REGRESSION and f.evidence["above_baseline"] == 0
    assert f.p_value == pytest.approx(sps.hypergeom.sf(1000 - 1, 2000, 1000, 1000))


def test_alpha_weights_decide_which_check_survives(make_population, rng):
    """The same p-value is a regression under a heavy weight and not under a light one."""
    b = make_population(rng.lognormal(-4, 0.5, 6000), errors=60)
    c = make_population(rng.lognormal(-4, 0.5, 6000), errors=98)
    p = rstats.two_proportion_test(60, 6000, 98, 6000)[0]
    assert 0.0002 < p < 0.003
    heavy = Thresholds.from_dict({"errors": {"weight": 0.9}, "latency": {"weights": [0.03, 0.04, 0.03]}})
    light = Thresholds.from_dict({"errors": {"weight": 0.04}, "latency": {"weights": [0.3, 0.36, 0.3]}})
    assert (
        _by_check(compare([Cohort({"model": "m"}, b, c)], heavy), "errors.rate").status is Status.REGRESSION
    )
    assert (
        _by_check(compare([Cohort({"model": "m"}, b, c)], light), "errors.rate").status
        is not Status.REGRESSION
    )
