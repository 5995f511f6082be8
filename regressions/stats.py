"""Test statistics that work on histogram counts: exceedance, proportions, means, distances, multiplicity."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special

__all__ = [
    "benjamini_hochberg",
    "binomial_quantile",
    "exceedance_p_value",
    "holm",
    "hypergeom_cdf",
    "hypergeom_sf",
    "jensen_shannon_distance",
    "mean_shift_test",
    "newcombe_interval",
    "normal_quantile",
    "order_statistic_ranks",
    "ratio_of_means_interval",
    "required_n_mean",
    "required_n_proportions",
    "two_proportion_test",
    "welch_test",
]


def normal_quantile(p: float) -> float:
    """The standard normal p-quantile."""
    return float(special.ndtri(p))


def _log_comb(n: np.ndarray | float, k: np.ndarray | float) -> np.ndarray:
    return (
        special.gammaln(np.add(n, 1)) - special.gammaln(np.add(k, 1)) - special.gammaln(np.subtract(n, k) + 1)
    )


def _log_pmf(k: int, total: int, successes: int, draws: int) -> float:
    def lcomb(a: int, b: int) -> float:
        return math.lgamma(a + 1) - math.lgamma(b + 1) - math.lgamma(a - b + 1)

    return lcomb(successes, k) + lcomb(total - successes, draws - k) - lcomb(total, draws)


def _hypergeom_pmf(ks: np.ndarray, total: int, successes: int, draws: int) -> np.ndarray:
    logp = _log_comb(successes, ks) + _log_comb(total - successes, draws - ks) - _log_comb(total, draws)
    return np.exp(logp)


def _tail(x: int, stop: int, step: int, total: int, successes: int, draws: int) -> float:
    """Sum of pmf(k) for k from x towards stop (inclusive), by the ratio recurrence from pmf(x)."""
    start = math.exp(_log_pmf(x, total, successes, draws))
    if start == 0.0 or x == stop:
        return start
    if step > 0:
        k = np.arange(x, stop, dtype=np.float64)  # pmf(k+1) / pmf(k)
        ratio = (successes - k) * (draws - k) / ((k + 1) * (total - successes - draws + k + 1))
    else:
        k = np.arange(x, stop, -1, dtype=np.float64)  # pmf(k-1) / pmf(k)
        ratio = k * (total - successes - draws + k) / ((successes - k + 1) * (draws - k + 1))
    return start * (1.0 + float(np.cumprod(ratio).sum()))


def hypergeom_sf(x: int, total: int, successes: int, draws: int) -> float:
    """P(X ≥ x) for X ~ Hypergeometric(total, successes, draws) (note: ≥, not scipy's >)."""
    lo, hi = max(0, draws + successes - total), min(successes, draws)
    if x <= lo:
        return 1.0
    if x > hi:
        return 0.0
    mean = draws * successes / total
    sd = math.sqrt(max(mean * (total - successes) / total * (total - draws) / max(total - 1, 1), 0.0))
    reach = int(40 * sd) + 50  # terms past 40 sd from the mean are below 1e-300 of the sum
    if x >= mean:
        return min(1.0, _tail(x, min(hi, x + reach), 1, total, successes, draws))
    return min(1.0, max(0.0, 1.0 - _tail(x - 1, max(lo, x - 1 - reach), -1, total, successes, draws)))


def hypergeom_cdf(x: int, total: int, successes: int, draws: int) -> float:
    """P(X ≤ x) for X ~ Hypergeometric(total, successes, draws)."""
    return 1.0 - hypergeom_sf(x + 1, total, successes, draws)


def exceedance_p_value(n_b: int, x_b: int, n_c: int, x_c: int, mid: bool = False) -> float:
    """One-sided p that the candidate has more events: P(X ≥ x_c), X ~ Hypergeom(n_b+n_c, x_b+x_c, n_c).

    With ``mid=True`` the Lancaster mid-p ``P(X > x_c) + P(X = x_c)/2``.
    """
    total, k = n_b + n_c, x_b + x_c
    p = hypergeom_sf(x_c, total, k, n_c)
    if mid:
        p -= (
            0.5 * float(_hypergeom_pmf(np.array([x_c]), total, k, n_c)[0]) if 0 <= x_c <= min(k, n_c) else 0.0
        )
    return min(max(p, 0.0), 1.0)


def binomial_quantile(y: float, n: int, p: float) -> int:
    """The smallest k with P(Binomial(n, p) ≤ k) ≥ y (scipy's `binom.ppf`)."""
    if n <= 0:
        return 0
    z = float(special.ndtri(y))
    mu, sd = n * p, math.sqrt(n * p * (1 - p))
    k = min(max(math.ceil(mu + z * sd + (z * z - 1) * (1 - 2 * p) / 6 - 0.5), 0), n)  # Cornish–Fisher
    bdtr = special.bdtr
    while k > 0 and bdtr(k - 1, n, p) >= y:  # walk to the exact answer: a step or two at most
        k -= 1
    while k < n and bdtr(k, n, p) < y:
        k += 1
    return k


def order_statistic_ranks(n: int, q: float, alpha: float) -> tuple[int, int]:
    """1-based ranks (l, u) with P(X_(l) ≤ ξ_q ≤ X_(u)) ≥ 1 − alpha (distribution-free)."""
    return binomial_quantile(alpha / 2, n, q), binomial_quantile(1 - alpha / 2, n, q) + 1


def two_proportion_test(
    x_b: int, n_b: int, x_c: int, n_c: int, min_expected: float = 20.0
) -> tuple[float, str]:
    """One-sided p that the candidate's rate is higher: pooled z, or Fisher mid-p when events are few."""
    pooled = (x_b + x_c) / (n_b + n_c)
    expected = min(n_b, n_c) * min(pooled, 1 - pooled)
    if expected < min_expected:
        return exceedance_p_value(n_b, x_b, n_c, x_c, mid=True), "fisher-mid-p"
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_b + 1 / n_c))
    z = (x_c / n_c - x_b / n_b) / se
    return float(special.ndtr(-z)), "two-proportion-z"


def _wilson(x: int, n: int, z: float) -> tuple[float, float]:
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(x_b: int, n_b: int, x_c: int, n_c: int, alpha: float) -> tuple[float, float]:
    """Two-sided 1 − alpha interval for p_c − p_b from Wilson score intervals (Newcombe 1998, method 10)."""
    z = normal_quantile(1 - alpha / 2)
    p_b, p_c = x_b / n_b, x_c / n_c
    l_b, u_b = _wilson(x_b, n_b, z)
    l_c, u_c = _wilson(x_c, n_c, z)
    d = p_c - p_b
    return d - math.sqrt((p_c - l_c) ** 2 + (u_b - p_b) ** 2), d + math.sqrt(
        (u_c - p_c) ** 2 + (p_b - l_b) ** 2
    )


def mean_shift_test(
    mean_b: float, var_b: float, n_b: int, mean_c: float, var_c: float, n_c: int, alpha: float
) -> tuple[float, tuple[float, float]]:
    """Large-sample z test that the candidate mean is lower: (one-sided p, two-sided CI of the shift)."""
    d = mean_c - mean_b
    se = math.sqrt(var_b / n_b + var_c / n_c)
    if se == 0:
        return (0.0 if d < 0 else 1.0), (d, d)
    z = normal_quantile(1 - alpha / 2)
    return float(special.ndtr(d / se)), (d - z * se, d + z * se)


def welch_test(
    mean_b: float, sd_b: float, n_b: int, mean_c: float, sd_c: float, n_c: int
) -> tuple[float, float]:
    """Welch's one-sided t test that the candidate mean is higher: (p, Welch–Satterthwaite df)."""
    vb, vc = sd_b**2 / n_b, sd_c**2 / n_c
    se2 = vb + vc
    d = mean_c - mean_b
    if se2 == 0:
        return (0.0 if d > 0 else 1.0), math.inf
    df = se2**2 / ((vb**2 / (n_b - 1) if n_b > 1 else 0.0) + (vc**2 / (n_c - 1) if n_c > 1 else 0.0))
    return float(special.stdtr(df, -d / math.sqrt(se2))), float(df)


def ratio_of_means_interval(
    mean_b: float, sd_b: float, n_b: int, mean_c: float, sd_c: float, n_c: int, df: float, alpha: float
) -> tuple[float, float]:
    """Two-sided 1 − alpha interval for mean_c / mean_b − 1 (delta method on the log ratio, t with df)."""
    if mean_b <= 0 or mean_c <= 0:
        return -math.inf, math.inf
    se = math.sqrt(sd_b**2 / (n_b * mean_b**2) + sd_c**2 / (n_c * mean_c**2))
    t = float(special.stdtrit(df, 1 - alpha / 2)) if math.isfinite(df) else normal_quantile(1 - alpha / 2)
    r = math.log(mean_c / mean_b)
    return math.expm1(r - t * se), math.expm1(r + t * se)


def jensen_shannon_distance(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) between two count vectors over the same buckets."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log2(a[nz] / m[nz])))

    return math.sqrt(max(0.0, 0.5 * kl(p) + 0.5 * kl(q)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values: reject where adjusted ≤ alpha (controls the FWER)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini–Hochberg (1995) step-up adjusted p-values: reject where adjusted ≤ q (controls the FDR)."""
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()


def required_n_proportions(p0: float, p1: float, alpha: float, power: float) -> int:
    """Calls per side for a one-sided two-proportion test to detect p0 → p1 with the given power."""
    if p1 <= p0:
        return 2**62
    z = normal_quantile(1 - alpha) + normal_quantile(power)
    return math.ceil(z * z * (p0 * (1 - p0) + p1 * (1 - p1)) / (p1 - p0) ** 2)


def required_n_mean(sd: float, delta: float, alpha: float, power: float) -> int:
    """Samples per side for a one-sided two-sample mean test to detect a shift delta (sd on both sides)."""
    if delta <= 0:
        return 2**62
    z = normal_quantile(1 - alpha) + normal_quantile(power)
    return max(2, math.ceil(2 * (z * sd / delta) ** 2))
