"""Test statistics that work on histogram counts: exceedance, proportions, means, distances, multiplicity."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import special

__all__ = [
    "benjamini_hochberg",
    "binomial_quantile",
    "binomial_quantiles",
    "exceedance_p_value",
    "exceedance_p_values",
    "holm",
    "hypergeom_cdf",
    "hypergeom_sf",
    "hypergeom_sf_array",
    "jensen_shannon_distance",
    "jensen_shannon_distances",
    "mean_shift_test",
    "newcombe_interval",
    "normal_quantile",
    "order_statistic_ranks",
    "ratio_of_means_interval",
    "required_n_mean",
    "required_n_means",
    "required_n_proportions",
    "required_n_proportions_array",
    "two_proportion_test",
    "two_proportion_tests",
    "welch_test",
    "welch_tests",
]

_NEVER = 2**62  # "no sample size detects this" (the planned n of a change that is not a worsening)


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


def _weights(p: np.ndarray, weights: Sequence[float] | np.ndarray | None) -> np.ndarray:
    if weights is None:
        return np.ones_like(p)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != p.shape or not np.all(w > 0):
        raise ValueError("weights must be positive, one per p-value")
    return w


def holm(p_values: Sequence[float], weights: Sequence[float] | None = None) -> list[float]:
    """Holm (1979) step-down adjusted p-values: reject where adjusted ≤ alpha (controls the FWER).

    With ``weights`` the weighted Holm procedure (Holm 1979, §3): hypotheses are ordered by p/w
    and at each step the one left with the smallest p/w is rejected when p ≤ alpha · w / (the sum
    of the weights not yet rejected). Equal weights give the ordinary Holm procedure; only ratios
    of weights matter. Adjusted p̃_(j) = max over l ≤ j of p_(l) · W_l / w_(l), W_l the weight left.
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return []
    w = _weights(p, weights)
    order = np.argsort(p / w, kind="stable")
    left = np.cumsum(w[order][::-1])[::-1]  # weight of the hypotheses from this step on
    adjusted = np.maximum.accumulate(p[order] * left / w[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out.tolist()


def benjamini_hochberg(p_values: Sequence[float], weights: Sequence[float] | None = None) -> list[float]:
    """Benjamini–Hochberg (1995) step-up adjusted p-values: reject where adjusted ≤ q (controls the FDR).

    With ``weights`` the weighted procedure of Genovese, Roeder & Wasserman (2006): BH on p_i / w_i
    with the weights rescaled to average 1.
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = len(p)
    if m == 0:
        return []
    w = _weights(p, weights)
    p = p / (w * m / w.sum())
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


# ------------------------------------------------------------------------------------------------
# Vectorised forms: one call for every cohort of a report (arrays in, arrays out). The scalar
# functions above are the reference; tests check both against scipy.


def hypergeom_sf_array(x, total, successes, draws) -> np.ndarray:
    """P(X ≥ x) elementwise for X ~ Hypergeometric(total, successes, draws) (arrays broadcast).

    Sums the pmf from x upwards when x is above the mean, else 1 − the sum from x − 1 downwards, by
    the ratio recurrence in blocks of terms until the next term is below 1e-18 of the sum (or the
    support ends, where the ratio is exactly 0).
    """
    x, m, k, n = np.broadcast_arrays(*(np.asarray(a, dtype=np.int64) for a in (x, total, successes, draws)))
    shape = x.shape
    x, m, k, n = (a.ravel().astype(np.float64) for a in (x, m, k, n))
    out = np.empty(x.shape, dtype=np.float64)
    lo, hi = np.maximum(0.0, n + k - m), np.minimum(k, n)
    out[x <= lo] = 1.0
    out[x > hi] = 0.0
    todo = np.flatnonzero((x > lo) & (x <= hi))
    if todo.size:
        xs, ms, ks, ns = x[todo], m[todo], k[todo], n[todo]
        up = xs >= ns * ks / ms
        start = np.where(up, xs, xs - 1)
        log_pmf = _log_comb(ks, start) + _log_comb(ms - ks, ns - start) - _log_comb(ms, ns)
        total_sum = _ratio_sums(start, up, ms, ks, ns)
        tail = np.exp(log_pmf) * total_sum
        out[todo] = np.where(up, np.minimum(tail, 1.0), np.clip(1.0 - tail, 0.0, 1.0))
    return out.reshape(shape)


def _ratio_sums(start, up, m, k, n, block: int = 32) -> np.ndarray:
    """Σ_j pmf(start ± j) / pmf(start) (upwards where ``up``, else downwards), elementwise."""
    total = np.ones(start.shape, dtype=np.float64)
    term = np.ones(start.shape, dtype=np.float64)
    kk = start.copy()
    active = np.arange(start.size)
    steps = np.arange(block, dtype=np.float64)
    while active.size:
        a_up = up[active][:, None]
        a_k, a_m, a_s, a_n = (v[active][:, None] for v in (kk, m, k, n))
        j = a_k + np.where(a_up, steps, -steps)  # the k each ratio starts from
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(
                a_up,
                (a_s - j) * (a_n - j) / ((j + 1) * (a_m - a_s - a_n + j + 1)),
                j * (a_m - a_s - a_n + j) / ((a_s - j + 1) * (a_n - j + 1)),
            )
        ratio = np.nan_to_num(np.maximum(ratio, 0.0), nan=0.0, posinf=0.0)
        terms = term[active][:, None] * np.cumprod(ratio, axis=1)
        total[active] += terms.sum(axis=1)
        last = terms[:, -1]
        term[active] = last
        kk[active] += np.where(up[active], block, -block)
        active = active[last > 1e-18 * total[active]]
    return total


def exceedance_p_values(n_b, x_b, n_c, x_c, mid: bool = False) -> np.ndarray:
    """`exceedance_p_value` elementwise (arrays broadcast)."""
    n_b, x_b, n_c, x_c = np.broadcast_arrays(*(np.asarray(a, dtype=np.int64) for a in (n_b, x_b, n_c, x_c)))
    total, k = n_b + n_c, x_b + x_c
    p = hypergeom_sf_array(x_c, total, k, n_c)
    if mid:
        inside = (x_c >= np.maximum(0, n_c + k - total)) & (x_c <= np.minimum(k, n_c))
        logp = _log_comb(k, x_c) + _log_comb(total - k, n_c - x_c) - _log_comb(total, n_c)
        p = p - np.where(inside, 0.5 * np.exp(np.where(inside, logp, 0.0)), 0.0)
    return np.clip(p, 0.0, 1.0)


def binomial_quantiles(y, n, p) -> np.ndarray:
    """`binomial_quantile` elementwise: the smallest k with P(Binomial(n, p) ≤ k) ≥ y."""
    y, n, p = np.broadcast_arrays(np.asarray(y, float), np.asarray(n, np.int64), np.asarray(p, float))
    z = special.ndtri(y)
    mu, sd = n * p, np.sqrt(n * p * (1 - p))
    k = np.ceil(mu + z * sd + (z * z - 1) * (1 - 2 * p) / 6 - 0.5)  # Cornish–Fisher
    k = np.clip(np.nan_to_num(k, nan=0.0), 0, n).astype(np.int64)
    for _ in range(64):  # walk to the exact answer: a step or two at most
        down = (k > 0) & (special.bdtr(np.maximum(k - 1, 0), n, p) >= y)
        up = ~down & (k < n) & (special.bdtr(k, n, p) < y)
        if not (down.any() or up.any()):
            break
        k = k - down + up
    return np.where(n > 0, k, 0)


def two_proportion_tests(x_b, n_b, x_c, n_c, min_expected: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    """`two_proportion_test` elementwise: (one-sided p, True where Fisher mid-p was used)."""
    x_b, n_b, x_c, n_c = (np.asarray(a, dtype=np.float64) for a in (x_b, n_b, x_c, n_c))
    pooled = (x_b + x_c) / (n_b + n_c)
    fisher = np.minimum(n_b, n_c) * np.minimum(pooled, 1 - pooled) < min_expected
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(pooled * (1 - pooled) * (1 / n_b + 1 / n_c))
        z = (x_c / n_c - x_b / n_b) / se
    p = special.ndtr(-np.where(fisher, 0.0, z))
    if fisher.any():
        i = np.flatnonzero(fisher)
        p[i] = exceedance_p_values(n_b[i], x_b[i], n_c[i], x_c[i], mid=True)
    return p, fisher


def _wilson_arrays(x, n, z):
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def newcombe_intervals(x_b, n_b, x_c, n_c, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """`newcombe_interval` elementwise: (lower, upper) arrays."""
    x_b, n_b, x_c, n_c = (np.asarray(a, dtype=np.float64) for a in (x_b, n_b, x_c, n_c))
    z = normal_quantile(1 - alpha / 2)
    p_b, p_c = x_b / n_b, x_c / n_c
    l_b, u_b = _wilson_arrays(x_b, n_b, z)
    l_c, u_c = _wilson_arrays(x_c, n_c, z)
    d = p_c - p_b
    return d - np.sqrt((p_c - l_c) ** 2 + (u_b - p_b) ** 2), d + np.sqrt((u_c - p_c) ** 2 + (p_b - l_b) ** 2)


def mean_shift_tests(mean_b, var_b, n_b, mean_c, var_c, n_c, alpha: float):
    """`mean_shift_test` elementwise: (one-sided p that the candidate is lower, CI lower, CI upper)."""
    d = np.asarray(mean_c, float) - np.asarray(mean_b, float)
    se = np.sqrt(np.asarray(var_b, float) / n_b + np.asarray(var_c, float) / n_c)
    z = normal_quantile(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, special.ndtr(d / se), np.where(d < 0, 0.0, 1.0))
    return p, d - z * se, d + z * se


def welch_tests(mean_b, sd_b, n_b, mean_c, sd_c, n_c) -> tuple[np.ndarray, np.ndarray]:
    """`welch_test` elementwise: (one-sided p that the candidate mean is higher, Welch–Satterthwaite df)."""
    mean_b, sd_b, n_b, mean_c, sd_c, n_c = (
        np.asarray(a, dtype=np.float64) for a in (mean_b, sd_b, n_b, mean_c, sd_c, n_c)
    )
    vb, vc = sd_b**2 / n_b, sd_c**2 / n_c
    se2 = vb + vc
    d = mean_c - mean_b
    with np.errstate(divide="ignore", invalid="ignore"):
        den = np.where(n_b > 1, vb**2 / (n_b - 1), 0.0) + np.where(n_c > 1, vc**2 / (n_c - 1), 0.0)
        df = np.where(se2 > 0, se2**2 / den, np.inf)
        p = np.where(se2 > 0, special.stdtr(df, -d / np.sqrt(se2)), np.where(d > 0, 0.0, 1.0))
    return p, df


def ratio_of_means_intervals(mean_b, sd_b, n_b, mean_c, sd_c, n_c, df, alpha: float):
    """`ratio_of_means_interval` elementwise: (lower, upper) of mean_c / mean_b − 1."""
    mean_b, sd_b, n_b, mean_c, sd_c, n_c, df = (
        np.asarray(a, dtype=np.float64) for a in (mean_b, sd_b, n_b, mean_c, sd_c, n_c, df)
    )
    ok = (mean_b > 0) & (mean_c > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(sd_b**2 / (n_b * mean_b**2) + sd_c**2 / (n_c * mean_c**2))
        t = np.where(
            np.isfinite(df),
            special.stdtrit(np.where(np.isfinite(df), df, 1.0), 1 - alpha / 2),
            normal_quantile(1 - alpha / 2),
        )
        r = np.log(mean_c / mean_b)
        lo, hi = np.expm1(r - t * se), np.expm1(r + t * se)
    return np.where(ok, lo, -np.inf), np.where(ok, hi, np.inf)


def jensen_shannon_distances(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """`jensen_shannon_distance` for each row pair of two count matrices."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    p = p / p.sum(axis=1, keepdims=True)
    q = q / q.sum(axis=1, keepdims=True)
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=1)
    return np.sqrt(np.maximum(0.0, 0.5 * kl_p + 0.5 * kl_q))


def required_n_proportions_array(p0, p1, alpha, power: float) -> np.ndarray:
    """`required_n_proportions` elementwise (alpha may differ per test); 2**62 where p1 ≤ p0."""
    p0, p1, alpha = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (p0, p1, alpha)))
    z = special.ndtri(1 - alpha) + normal_quantile(power)
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.ceil(z * z * (p0 * (1 - p0) + p1 * (1 - p1)) / (p1 - p0) ** 2)
    ok = (p1 > p0) & np.isfinite(n) & (n < _NEVER)
    return np.where(ok, np.nan_to_num(n, nan=0.0, posinf=0.0), _NEVER).astype(np.int64)


def required_n_means(sd, delta, alpha, power: float) -> np.ndarray:
    """`required_n_mean` elementwise (alpha may differ per test); 2**62 where it cannot be computed."""
    sd, delta, alpha = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (sd, delta, alpha)))
    z = special.ndtri(1 - alpha) + normal_quantile(power)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        n = np.maximum(2.0, np.ceil(2 * (z * sd / delta) ** 2))
    ok = (delta > 0) & np.isfinite(n) & (n < _NEVER)
    return np.where(ok, np.nan_to_num(n, nan=0.0, posinf=0.0), _NEVER).astype(np.int64)
