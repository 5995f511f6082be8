"""Quantile accuracy of what the agent exports, decoded from a real OTLP receiver.

Exact values go in through `Agent.record`; the histograms come back over OTLP/HTTP; their
quantiles (merged over every window's points) are compared with `numpy.quantile` of the raw
values. Targets (docs: DESIGN.md, "Numbers we hold ourselves to"): latency p50/p95/p99 within
1% relative, confidence within 0.01 absolute.

Two volumes per distribution:
- `windows`: 24,000 calls delivered as 4 windows of 6,000 (one minute at 100 calls/s each), the
  histograms merged the way the collector's `hist_merge` does — what a dashboard percentile over
  a few minutes reads;
- `one window`: 6,000 calls in a single window — what one `inference_windows` row holds.

Every case also checks the bound the histogram guarantees whatever the data: the estimate is
within one bucket (a factor 2**(2**-scale)) of the exact quantile.

`python tests/test_agent_accuracy.py` prints how the error depends on the bucket budget
(`max_buckets` 160 / 320 / 640 / 1280) over 30 seeds, without the wire. The agent sends 320.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from inferwatch.histogram import (
    ExponentialHistogram,
    explicit_quantile,
    exponential_quantile,
)

DURATION = "inferwatch.inference.duration"
CONFIDENCE = "inferwatch.inference.confidence"
LATENCY_QUANTILES = (0.5, 0.95, 0.99)
CONFIDENCE_QUANTILES = (0.05, 0.5, 0.95, 0.99)
LATENCY_TOLERANCE = 0.01  # relative
CONFIDENCE_TOLERANCE = 0.01  # absolute
WINDOW_CALLS = 6_000  # one 60 s window at 100 calls/s
SEED = 20_240_611


# ---------------------------------------------------------------------------- inputs
def synthetic_latencies(name: str, n: int, seed: int = SEED) -> np.ndarray:
    """Heavy-tailed latency samples in seconds (median around 10 ms)."""
    rng = np.random.default_rng(seed)
    if name.startswith("lognormal"):
        sigma = float(name.split("-")[1])
        return rng.lognormal(math.log(0.010), sigma, n)
    if name.startswith("pareto"):
        alpha = float(name.split("-")[1])
        return 0.005 * (1.0 + rng.pareto(alpha, n))  # Pareto with x_m = 5 ms
    if name == "bimodal":  # 80% cache hits around 4 ms, 20% cold path around 250 ms
        fast = int(n * 0.8)
        values = np.concatenate([rng.lognormal(math.log(0.004), 0.2, fast),
                                 rng.lognormal(math.log(0.250), 0.3, n - fast)])
        rng.shuffle(values)
        return values
    raise ValueError(name)


SYNTHETIC = ("lognormal-0.5", "lognormal-1.0", "lognormal-1.5", "pareto-1.5", "pareto-1.1", "bimodal")


@pytest.fixture(scope="module")
def digits_model():
    """A real scikit-learn classifier on the bundled digits data, with rows to predict."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    model = LogisticRegression(max_iter=500).fit(x[::2], y[::2])
    return model, x[1::2]


@pytest.fixture(scope="module")
def digits_latencies(digits_model):
    """Real per-call latencies (s) and max-probability confidences of single-row predictions."""
    model, rows = digits_model
    durations, confidences = [], []
    for i in range(WINDOW_CALLS):
        row = rows[i % len(rows)].reshape(1, -1)
        t0 = time.perf_counter()
        proba = model.predict_proba(row)
        durations.append(time.perf_counter() - t0)
        confidences.append(float(proba.max()))
    return np.array(durations), np.array(confidences)


# ---------------------------------------------------------------------------- reading back
def merged_exponential(points) -> tuple[int, int, int, list[int], float, float]:
    """Merge OTLP exponential points (any scales) into (scale, zero_count, offset, counts, min, max)."""
    scale = min(p.scale for p in points)
    buckets: dict[int, int] = {}
    zero = 0
    for p in points:
        shift = p.scale - scale
        zero += p.zero_count
        for k, c in enumerate(p.positive.bucket_counts):
            if c:
                j = (p.positive.offset + k) >> shift
                buckets[j] = buckets.get(j, 0) + c
    lo, hi = min(buckets), max(buckets)
    counts = [buckets.get(i, 0) for i in range(lo, hi + 1)]
    return scale, zero, lo, counts, min(p.min for p in points), max(p.max for p in points)


def exported_latency(receiver, model: str):
    """(quantile function, scale, number of buckets of the widest point, number of points) of a model."""
    points = [p for _, a, p in receiver.points(DURATION)
              if a.get("inferwatch.model.name") == model and "error.type" not in a]
    assert points, f"no duration points for {model}"
    scale, zero, offset, counts, lo, hi = merged_exponential(points)
    widest = max(len(p.positive.bucket_counts) for p in points)

    def quantile(q: float) -> float:
        return exponential_quantile(scale, zero, offset, counts, q, lo, hi)

    return quantile, scale, widest, len(points), sum(p.count for p in points)


def exported_confidence(receiver, model: str):
    """(quantile function, total count) of a model's merged confidence histogram."""
    points = [p for _, a, p in receiver.points(CONFIDENCE) if a.get("inferwatch.model.name") == model]
    assert points, f"no confidence points for {model}"
    bounds = list(points[0].explicit_bounds)
    assert all(list(p.explicit_bounds) == bounds for p in points)
    counts = np.sum([list(p.bucket_counts) for p in points], axis=0).tolist()
    lo, hi = min(p.min for p in points), max(p.max for p in points)
    return (lambda q: explicit_quantile(bounds, counts, q, lo, hi)), sum(counts)


def send(agent, receiver, model: str, durations, confidences=None, windows: int = 1) -> None:
    """Record the exact values, one flushed window per chunk, and wait until all are delivered."""
    chunks = np.array_split(np.arange(len(durations)), windows)
    for chunk in chunks:
        for i in chunk:
            c = None if confidences is None else float(confidences[i])
            assert agent.record(model, "1.0", duration_s=float(durations[i]), confidence=c)
        assert agent.flush(10)
    stats = agent.stats()
    assert stats["dropped"] == 0 and stats["invalid_records"] == 0


def latency_errors(quantile, raw) -> dict[float, float]:
    return {q: quantile(q) / float(np.quantile(raw, q)) - 1.0 for q in LATENCY_QUANTILES}


def assert_within_one_bucket(errors: dict[float, float], scale: int) -> None:
    """The histogram's own guarantee: the estimate lies within a bucket's width of the exact value."""
    width = 2.0 ** (2.0 ** -scale) - 1.0
    for q, e in errors.items():
        assert abs(e) <= width, f"p{q * 100:g}: {e:+.3%} exceeds one bucket ({width:.3%}) at scale {scale}"


def assert_latency_target(errors: dict[float, float], scale: int, buckets: int) -> None:
    worst = max(errors, key=lambda q: abs(errors[q]))
    detail = ", ".join(f"p{q * 100:g} {e:+.3%}" for q, e in errors.items())
    assert abs(errors[worst]) <= LATENCY_TOLERANCE, \
        f"latency quantiles miss 1%: {detail} (scale {scale}, {buckets} buckets)"


# ---------------------------------------------------------------------------- tests
VOLUMES = {"4-windows": 4, "1-window": 1}  # windows of WINDOW_CALLS calls each

# Where the agent's 320 buckets (scale ≥ 4, buckets ≤ 4.4% wide) do not hold 1% at p99 for every
# seed. Misses over 30 seeds (`python tests/test_agent_accuracy.py`), worst error in brackets:
#   4 windows (24,000 calls): pareto α=1.5 2/30 (1.08%), α=1.1 1/30 (1.02%); everything else 0/30
#     (640 buckets: 0/30 everywhere).
#   1 window (6,000 calls): lognormal σ=1 4/30 (1.6%), σ=1.5 10/30 (2.1%), pareto α=1.5 3/30 (3.3%),
#     α=1.1 11/30 (3.5%); σ=0.5 and bimodal 0/30. Finer buckets barely help here (scale 6 still
#     misses σ=1 2/30): near p99 of 6,000 heavy-tailed samples adjacent order statistics are ~0.6%
#     apart on average and often 2%, so numpy's interpolation between them and the histogram's
#     log-linear one legitimately differ. The bound asserted for every case is one bucket width.
NOT_GUARANTEED = {
    "4-windows": {"pareto-1.5", "pareto-1.1"},
    "1-window": {"lognormal-1.0", "lognormal-1.5", "pareto-1.5", "pareto-1.1"},
}


def _cases(strict_marks: bool):
    for volume in VOLUMES:
        for d in SYNTHETIC:
            marks = ()
            if strict_marks and d in NOT_GUARANTEED[volume]:
                marks = pytest.mark.xfail(reason="p99 of a sparse heavy tail can miss 1% on some seeds "
                                                 "(see NOT_GUARANTEED)", strict=False)
            yield pytest.param(d, volume, marks=marks, id=f"{d}-{volume}")


@pytest.fixture(scope="module")
def synthetic_exports(tmp_path_factory):
    """Every synthetic distribution sent through one real agent to one real receiver.

    All models share the same windows, as models of one process do; "1-window" models are
    recorded in the first window only. Returns {(distribution, volume): (raw, exported)}.
    """
    from inferwatch import Agent
    from tests.otlp_receiver import OtlpReceiver

    receiver = OtlpReceiver().start()
    agent = Agent()
    agent.configure(service="accuracy", target="edge", endpoint=receiver.endpoint, device_id="acc-1",
                    interval_s=3600.0, spool_dir=tmp_path_factory.mktemp("spool"))
    raw = {(d, v): synthetic_latencies(d, n * WINDOW_CALLS, seed=SEED + n)
           for d in SYNTHETIC for v, n in VOLUMES.items()}
    try:
        for w in range(max(VOLUMES.values())):
            for (d, v), values in raw.items():
                if w < VOLUMES[v]:
                    for x in values[w * WINDOW_CALLS:(w + 1) * WINDOW_CALLS]:
                        assert agent.record(f"{d}/{v}", "1.0", duration_s=float(x))
            assert agent.flush(10)
        stats = agent.stats()
        assert stats["dropped"] == 0 and stats["invalid_records"] == 0
        return {key: (values, exported_latency(receiver, f"{key[0]}/{key[1]}"))
                for key, values in raw.items()}
    finally:
        agent.shutdown(timeout_s=2.0)
        receiver.stop()


@pytest.fixture(scope="module")
def digits_export(tmp_path_factory, digits_latencies):
    """The real model's latencies and confidences sent through a real agent in two windows."""
    from inferwatch import Agent
    from tests.otlp_receiver import OtlpReceiver

    durations, confidences = digits_latencies
    receiver = OtlpReceiver().start()
    agent = Agent()
    agent.configure(service="accuracy", target="edge", endpoint=receiver.endpoint, device_id="acc-1",
                    interval_s=3600.0, spool_dir=tmp_path_factory.mktemp("spool"))
    try:
        send(agent, receiver, "digits-logreg", durations, confidences, windows=2)
        return exported_latency(receiver, "digits-logreg"), exported_confidence(receiver, "digits-logreg")
    finally:
        agent.shutdown(timeout_s=2.0)
        receiver.stop()


def resolvable(raw, q: float) -> bool:
    """Whether the exact q-quantile is pinned down to the 1% target by the data themselves: the order
    statistics on either side of it are within 1% of each other. In a sparse tail they are not (real
    timings on a busy machine can put p99 between values 2% apart), and no estimator can promise 1%."""
    xs = np.sort(np.asarray(raw))
    k = q * (len(xs) - 1)
    lo, hi = xs[max(int(np.floor(k)) - 1, 0)], xs[min(int(np.ceil(k)) + 1, len(xs) - 1)]
    return hi / lo - 1.0 <= LATENCY_TOLERANCE


def test_real_model_latencies_are_exported_within_one_percent(digits_latencies, digits_export):
    """Live timings: every quantile within one bucket; within 1% wherever the data resolve it to 1%."""
    durations, _ = digits_latencies
    (quantile, scale, buckets, points, count), _ = digits_export
    assert count == len(durations) and points >= 2
    errors = latency_errors(quantile, durations)
    assert_within_one_bucket(errors, scale)
    assert resolvable(durations, 0.5) and resolvable(durations, 0.95)
    assert_latency_target({q: e for q, e in errors.items() if resolvable(durations, q)}, scale, buckets)


def test_a_sparse_tail_quantile_is_not_resolvable_to_one_percent():
    dense = np.linspace(1.0, 1.1, 6001)
    sparse = np.concatenate([np.linspace(1.0, 1.1, 5940), np.geomspace(1.2, 3.0, 61)])
    assert resolvable(dense, 0.99) and not resolvable(sparse, 0.99)


def test_real_model_confidences_are_exported_within_one_hundredth(digits_latencies, digits_export):
    _, confidences = digits_latencies
    _, (conf_quantile, conf_count) = digits_export
    assert conf_count == len(confidences)
    for q in CONFIDENCE_QUANTILES:
        assert abs(conf_quantile(q) - np.quantile(confidences, q)) <= CONFIDENCE_TOLERANCE, f"p{q * 100:g}"


@pytest.mark.parametrize(("distribution", "volume"), list(_cases(strict_marks=False)))
def test_exported_latency_quantiles_are_within_one_bucket_of_exact(synthetic_exports, distribution, volume):
    raw, (quantile, scale, _, points, count) = synthetic_exports[(distribution, volume)]
    assert count == len(raw) and points == VOLUMES[volume]
    assert_within_one_bucket(latency_errors(quantile, raw), scale)


@pytest.mark.parametrize(("distribution", "volume"), list(_cases(strict_marks=True)))
def test_exported_latency_quantiles_are_within_one_percent_of_exact(synthetic_exports, distribution, volume):
    raw, (quantile, scale, buckets, _, _) = synthetic_exports[(distribution, volume)]
    assert_latency_target(latency_errors(quantile, raw), scale, buckets)


@pytest.mark.parametrize("shape", [(8.0, 2.0), (2.0, 2.0), (0.5, 0.5), (30.0, 1.0)],
                         ids=["beta-8-2", "beta-2-2", "beta-0.5-0.5", "beta-30-1"])
def test_confidence_quantiles_are_within_one_hundredth(configured, receiver, shape):
    rng = np.random.default_rng(SEED)
    confidences = rng.beta(*shape, 2 * WINDOW_CALLS)
    durations = rng.lognormal(math.log(0.01), 0.5, len(confidences))
    agent = configured(interval_s=3600.0)
    send(agent, receiver, "beta", durations, confidences, windows=2)

    conf_quantile, conf_count = exported_confidence(receiver, "beta")
    assert conf_count == len(confidences)
    for q in CONFIDENCE_QUANTILES:
        estimate, exact = conf_quantile(q), float(np.quantile(confidences, q))
        assert abs(estimate - exact) <= CONFIDENCE_TOLERANCE, f"p{q * 100:g}: {estimate} vs {exact}"


def test_confidences_of_a_random_forest_with_point_masses_are_within_one_hundredth(configured, receiver,
                                                                                     digits_model):
    """A 20-tree forest's max probability takes values k/20 only: point masses on bucket bounds."""
    from sklearn.ensemble import RandomForestClassifier

    model, rows = digits_model
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(rows[::2], model.predict(rows[::2]))
    confidences = forest.predict_proba(rows).max(axis=1)
    confidences = np.tile(confidences, 4)
    durations = np.full(len(confidences), 0.002)
    agent = configured(interval_s=3600.0)
    send(agent, receiver, "digits-forest", durations, confidences)

    conf_quantile, _ = exported_confidence(receiver, "digits-forest")
    for q in CONFIDENCE_QUANTILES:
        assert abs(conf_quantile(q) - np.quantile(confidences, q)) <= CONFIDENCE_TOLERANCE, f"p{q * 100:g}"


# ---------------------------------------------------------------------------- bucket budget
def bucket_budget_table(seeds: int = 30, budgets=(160, 320, 640, 1280)) -> None:
    """Print worst error and misses of the 1% target per distribution and max_buckets (no wire)."""
    print(f"{'calls':>6} {'distribution':<14} " + " ".join(f"{'max_buckets=' + str(b):>34}" for b in budgets))
    for n in (WINDOW_CALLS, 4 * WINDOW_CALLS):
        for name in SYNTHETIC:
            cells = []
            for budget in budgets:
                worst, misses, scales = 0.0, 0, set()
                for seed in range(seeds):
                    raw = synthetic_latencies(name, n, seed)
                    h = ExponentialHistogram(max_buckets=budget)
                    h.add_many(raw.tolist())
                    scales.add(h.scale)
                    e = max(abs(v) for v in latency_errors(h.quantile, raw).values())
                    worst, misses = max(worst, e), misses + (e > LATENCY_TOLERANCE)
                scale = "/".join(str(s) for s in sorted(scales))
                cells.append(f"scale {scale:<4} worst {worst:6.2%} miss {misses:2d}/{seeds}")
            print(f"{n:>6} {name:<14} " + " ".join(f"{c:>34}" for c in cells))


if __name__ == "__main__":
    bucket_budget_table()
