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
