"""Each statistic against a known answer: scipy on the raw samples, or a published example."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from inferwatch.regressions import stats


@pytest.mark.parametrize("seed", range(5))
def test_hypergeometric_tail_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        total = int(rng.integers(2, 30_000))
        k = int(rng.integers(0, total + 1))
        n = int(rng.integers(0, total + 1))
        x = int(rng.integers(max(0, n + k - total), min(k, n) + 2))
        expected = sps.hypergeom.sf(x - 1, total, k, n)
        assert stats.hypergeom_sf(x, total, k, n) == pytest.approx(expected, rel=1e-8, abs=1e-300)
        assert stats.hypergeom_cdf(x, total, k, n) == pytest.approx(
            sps.hypergeom.cdf(x, total, k, n), rel=1e-8, abs=1e-12
        )


def test_fisher_mid_p_is_fisher_exact_minus_half_the_observed_table():
    x_b, n_b, x_c, n_c = 3, 4000, 11, 4000
    exact = sps.fisher_exact([[x_c, n_c - x_c], [x_b, n_b - x_b]], alternative="greater").pvalue
    point = sps.hypergeom.pmf(x_c, n_b + n_c, x_b + x_c, n_c)
    assert stats.exceedance_p_value(n_b, x_b, n_c, x_c) == pytest.approx(exact, rel=1e-9)
    assert stats.exceedance_p_value(n_b, x_b, n_c, x_c, mid=True) == pytest.approx(
        exact - point / 2, rel=1e-9
    )
    p, method = stats.two_proportion_test(x_b, n_b, x_c, n_c)
    assert method == "fisher-mid-p" and p == pytest.approx(exact - point / 2, rel=1e-9)


def test_two_proportion_z_matches_the_pooled_formula_on_raw_bernoulli_samples(rng):
    a = rng.random(8000) < 0.02
    b = rng.random(7000) < 0.027
    p, method = stats.two_proportion_test(int(a.sum()), a.size, int(b.sum()), b.size)
    pooled = (a.sum() + b.sum()) / (a.size + b.size)
    z = (b.mean() - a.mean()) / math.sqrt(pooled * (1 - pooled) * (1 / a.size + 1 / b.size))
    assert method == "two-proportion-z"
    assert p == pytest.approx(sps.norm.sf(z), rel=1e-9)


def test_newcombe_interval_reproduces_the_published_example():
    # Newcombe (1998), Stat Med 17:873, example (a): 56/70 vs 48/80, method 10 → 0.0524 to 0.3339
    lo, hi = stats.newcombe_interval(48, 80, 56, 70, 0.05)
    assert lo == pytest.approx(0.0524, abs=5e-5)
    assert hi == pytest.approx(0.3339, abs=5e-5)


def test_binomial_quantile_matches_scipy_ppf(rng):
    for _ in range(3000):
        n = int(rng.integers(1, 60_000))
        q = float(rng.choice([0.05, 0.5, 0.95, 0.99, 0.999]))
        y = float(rng.choice([0.0025, 0.005, 0.025, 0.975, 0.995, 0.9975]))
        assert stats.binomial_quantile(y, n, q) == sps.binom.ppf(y, n, q)


def test_order_statistic_interval_covers_the_true_quantile_at_its_level(rng):
    true_p95 = math.exp(1.6449 * 0.7)
    covered = 0
    for _ in range(400):
        x = np.sort(rng.lognormal(0.0, 0.7, 2000))
        lo, hi = stats.order_statistic_ranks(2000, 0.95, 0.05)
        covered += x[lo - 1] <= true_p95 <= x[hi - 1]
    assert covered / 400 >= 0.93


def test_welch_test_matches_scipy_on_raw_values(rng):
    a = rng.normal(100, 5, 12)
    b = rng.normal(104, 9, 9)
    p, df = stats.welch_test(a.mean(), a.std(ddof=1), a.size, b.mean(), b.std(ddof=1), b.size)
    expected = sps.ttest_ind(b, a, equal_var=False, alternative="greater")
    assert p == pytest.approx(expected.pvalue, rel=1e-9)
    assert df == pytest.approx(expected.df, rel=1e-9)


def test_ratio_of_means_interval_contains_the_observed_ratio_and_narrows_with_n():
    wide = stats.ratio_of_means_interval(100, 5, 5, 110, 5, 5, 8, 0.05)
    narrow = stats.ratio_of_means_interval(100, 5, 50, 110, 5, 50, 98, 0.05)
    assert wide[0] < 0.10 < wide[1] and narrow[0] < 0.10 < narrow[1]
    assert narrow[1] - narrow[0] < wide[1] - wide[0]


def test_mean_shift_z_matches_the_raw_sample_z(rng):
    a, b = rng.beta(8, 2, 3000), rng.beta(7, 2, 3000)
    p, (lo, hi) = stats.mean_shift_test(
        a.mean(), a.var(ddof=1), a.size, b.mean(), b.var(ddof=1), b.size, 0.05
    )
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    d = b.mean() - a.mean()
    assert p == pytest.approx(sps.norm.cdf(d / se), rel=1e-9)
    assert (lo, hi) == pytest.approx((d - 1.959964 * se, d + 1.959964 * se), rel=1e-6)


def test_jensen_shannon_distance_matches_scipy(rng):
    p, q = rng.integers(0, 50, 200), rng.integers(0, 50, 200)
    assert stats.jensen_shannon_distance(p, q) == pytest.approx(jensenshannon(p, q, base=2), rel=1e-9)
    assert stats.jensen_shannon_distance(p, p) == 0.0


def test_holm_adjusts_the_textbook_example():
    raw = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 with running max → 0.02, 0.03, 0.06, 0.06
    assert stats.holm(raw) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_benjamini_hochberg_matches_scipy(rng):
    raw = np.concatenate([rng.uniform(0, 1, 40), rng.uniform(0, 0.002, 10)])
    assert stats.benjamini_hochberg(raw) == pytest.approx(sps.false_discovery_control(raw, method="bh"))


def test_required_sample_matches_the_normal_power_formula():
    n = stats.required_n_proportions(0.01, 0.02, 0.05, 0.8)
    z = sps.norm.ppf(0.95) + sps.norm.ppf(0.8)
    assert n == math.ceil(z**2 * (0.01 * 0.99 + 0.02 * 0.98) / 0.01**2)
    assert stats.required_n_proportions(0.02, 0.01, 0.05, 0.8) >= 2**62


# ------------------------------------------------------------------ the vectorised forms (engine)
def test_vectorised_hypergeometric_tail_matches_scipy():
    rng = np.random.default_rng(3)
    total = rng.integers(2, 30_000, 3000)
    k = np.array([rng.integers(0, t + 1) for t in total])
    n = np.array([rng.integers(0, t + 1) for t in total])
    lo, hi = np.maximum(0, n + k - total), np.minimum(k, n)
    x = np.array([rng.integers(a, b + 2) for a, b in zip(lo, hi)])
    got = stats.hypergeom_sf_array(x, total, k, n)
    assert got == pytest.approx(sps.hypergeom.sf(x - 1, total, k, n), rel=1e-8, abs=1e-300)


def test_vectorised_exceedance_and_mid_p_match_fisher_exact():
    rng = np.random.default_rng(4)
    n_b, n_c = rng.integers(200, 20_000, 200), rng.integers(200, 20_000, 200)
    x_b, x_c = rng.binomial(n_b, 0.01), rng.binomial(n_c, 0.015)
    p = stats.exceedance_p_values(n_b, x_b, n_c, x_c)
    mid = stats.exceedance_p_values(n_b, x_b, n_c, x_c, mid=True)
    for i in range(0, 200, 7):
        table = [[x_c[i], n_c[i] - x_c[i]], [x_b[i], n_b[i] - x_b[i]]]
        exact = sps.fisher_exact(table, alternative="greater").pvalue
        point = sps.hypergeom.pmf(x_c[i], n_b[i] + n_c[i], x_b[i] + x_c[i], n_c[i])
        assert p[i] == pytest.approx(exact, rel=1e-9)
        assert mid[i] == pytest.approx(exact - point / 2, rel=1e-9)
    assert stats.exceedance_p_values(500, 0, 500, 0, mid=True) == pytest.approx(0.5)  # no events: mid-p ½


def test_vectorised_binomial_quantiles_match_scipy_ppf(rng):
    n = rng.integers(0, 60_000, 5000)
    q = rng.choice([0.05, 0.5, 0.95, 0.99, 0.999], 5000)
    y = rng.choice([0.0025, 0.005, 0.025, 0.975, 0.995, 0.9975], 5000)
    got = stats.binomial_quantiles(y, n, q)
    assert np.array_equal(got[n > 0], sps.binom.ppf(y, n, q)[n > 0]) and np.all(got[n == 0] == 0)


def test_vectorised_tests_and_intervals_equal_the_scalar_ones(rng):
    x_b, x_c = rng.integers(0, 120, 300), rng.integers(0, 120, 300)
    n_b, n_c = rng.integers(200, 9000, 300), rng.integers(200, 9000, 300)
    p, fisher = stats.two_proportion_tests(x_b, n_b, x_c, n_c)
    lo, hi = stats.newcombe_intervals(x_b, n_b, x_c, n_c, 0.01)
    for i in range(300):
        sp, method = stats.two_proportion_test(int(x_b[i]), int(n_b[i]), int(x_c[i]), int(n_c[i]))
        assert p[i] == pytest.approx(sp, rel=1e-9, abs=1e-300) and fisher[i] == (method == "fisher-mid-p")
        assert (lo[i], hi[i]) == pytest.approx(
            stats.newcombe_interval(int(x_b[i]), int(n_b[i]), int(x_c[i]), int(n_c[i]), 0.01), rel=1e-12
        )
    mb, sb, mc, sc = (
        rng.uniform(1e8, 2e8, 50),
        rng.uniform(0, 1e7, 50),
        rng.uniform(1e8, 2e8, 50),
        rng.uniform(0, 1e7, 50),
    )
    nb, nc = rng.integers(5, 40, 50), rng.integers(5, 40, 50)
    pw, df = stats.welch_tests(mb, sb, nb, mc, sc, nc)
    rlo, rhi = stats.ratio_of_means_intervals(mb, sb, nb, mc, sc, nc, df, 0.01)
    pm, mlo, mhi = stats.mean_shift_tests(mb / 2e8, sb / 1e8, nb, mc / 2e8, sc / 1e8, nc, 0.01)
    for i in range(50):
        args = (mb[i], sb[i], int(nb[i]), mc[i], sc[i], int(nc[i]))
        assert (pw[i], df[i]) == pytest.approx(stats.welch_test(*args), rel=1e-9)
        assert (rlo[i], rhi[i]) == pytest.approx(stats.ratio_of_means_interval(*args, df[i], 0.01), rel=1e-9)
        sp, (slo, shi) = stats.mean_shift_test(
            mb[i] / 2e8, sb[i] / 1e8, int(nb[i]), mc[i] / 2e8, sc[i] / 1e8, int(nc[i]), 0.01
        )
        assert (pm[i], mlo[i], mhi[i]) == pytest.approx((sp, slo, shi), rel=1e-9)


def test_vectorised_jensen_shannon_and_sample_plans_equal_the_scalar_ones(rng):
    p, q = rng.integers(0, 50, (20, 200)), rng.integers(0, 50, (20, 200))
    js = stats.jensen_shannon_distances(p, q)
    assert js == pytest.approx([jensenshannon(a, b, base=2) for a, b in zip(p, q)], rel=1e-9)
    p0, p1, a = rng.uniform(0.001, 0.2, 40), rng.uniform(0.001, 0.2, 40), rng.uniform(1e-4, 0.05, 40)
    got = stats.required_n_proportions_array(p0, p1, a, 0.8)
    assert got.tolist() == [stats.required_n_proportions(*v, 0.8) for v in zip(p0, p1, a)]
    sd, delta = rng.uniform(0.01, 1, 40), rng.uniform(-0.01, 0.1, 40)
    got = stats.required_n_means(sd, delta, a, 0.8)
    assert got.tolist() == [stats.required_n_mean(*v, 0.8) for v in zip(sd, delta, a)]


# ------------------------------------------------------------------ weighted multiplicity control
def _weighted_holm_by_steps(p, w, alpha):
    """The weighted Holm procedure as Holm (1979) states it: the rejected set at level alpha."""
    left, rejected = set(range(len(p))), set()
    while left:
        i = min(left, key=lambda j: p[j] / w[j])
        if p[i] > alpha * w[i] / sum(w[j] for j in left):
            break
        rejected.add(i)
        left.remove(i)
    return rejected


def test_weighted_holm_adjusted_p_values_reject_exactly_what_the_procedure_rejects(rng):
    for _ in range(300):
        m = int(rng.integers(1, 12))
        p = np.where(rng.random(m) < 0.5, rng.uniform(0, 0.02, m), rng.uniform(0, 1, m))
        w = rng.choice([0.025, 0.05, 0.1, 0.3, 0.4], m)
        adjusted = np.array(stats.holm(p, w))
        for alpha in (0.01, 0.05):
            assert set(np.flatnonzero(adjusted <= alpha)) == _weighted_holm_by_steps(p, w, alpha)


def test_weighted_holm_with_equal_weights_is_holm_and_weights_move_alpha():
    raw = [0.01, 0.04, 0.03, 0.005]
    assert stats.holm(raw, [2, 2, 2, 2]) == pytest.approx(stats.holm(raw))
    # a light test (weight 0.2) alone at the first step: its bar is alpha · 0.2, so p × 5 …
    assert stats.holm([0.5, 0.004], [0.8, 0.2]) == pytest.approx([0.5, 0.02])
    assert stats.holm([0.5, 0.004]) == pytest.approx([0.5, 0.008])  # … where equal weights give p × 2
    # … and once the heavy one is rejected the light one has all of alpha (step-down)
    assert stats.holm([0.004, 0.004], [0.8, 0.2]) == pytest.approx([0.005, 0.005])


def test_weighted_holm_controls_the_family_wise_error_under_the_null():
    rng = np.random.default_rng(8)
    w = np.array([0.1, 0.3, 0.025, 0.4, 0.05, 0.05, 0.025, 0.05])
    p = rng.uniform(0, 1, (20_000, 8))
    fwer = np.mean([min(stats.holm(row, w)) <= 0.05 for row in p])
    assert fwer == pytest.approx(0.05, abs=0.006)


def test_weighted_benjamini_hochberg_is_bh_on_p_over_normalised_weights(rng):
    raw = np.concatenate([rng.uniform(0, 1, 40), rng.uniform(0, 0.002, 10)])
    w = rng.choice([0.5, 1.0, 4.0], 50)
    expected = sps.false_discovery_control(np.minimum(raw / (w * 50 / w.sum()), 1.0), method="bh")
    assert stats.benjamini_hochberg(raw, w) == pytest.approx(np.minimum(expected, 1.0))
    assert stats.benjamini_hochberg(raw, np.ones(50)) == pytest.approx(stats.benjamini_hochberg(raw))
    with pytest.raises(ValueError):
        stats.holm([0.1, 0.2], [1.0, 0.0])
