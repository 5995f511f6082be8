"""Are the engine's tests valid on A/A data? Share of p-values at or below small levels, by simulation.

* Latency p50/p95/p99 (exceedance test at the pooled quantile's edge) and the error rate: A/A pairs of
  lognormal latencies (σ_log 1.0) binned exactly at the collector's scale 4, 1 % errors, through
  `latency_checks` / `error_check` as `compare` runs them. A valid test has P(p ≤ t) ≤ t.
* Memory: A/A as `regression_detection.py` builds it — 20–40 devices of one hardware kind whose RSS
  levels differ by ~5 % (lognormal σ 0.05), half per version, three windows per device — tested by
  Welch's t with windows as the units (what `regression_inputs` gives the engine) and with per-device
  means as the units.

    .venv/bin/python benchmarks/aa_calibration.py [--pairs 20000] [--calls 5000]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from inferwatch.regressions import stats
from inferwatch.regressions.checks import error_check, latency_checks
from inferwatch.regressions.model import LatencyHistogram, Population
from inferwatch.regressions.thresholds import CheckThresholds

RESULTS = Path(__file__).parent / "results" / "aa_calibration.json"
LEVELS = (0.00075, 0.001, 0.004, 0.01, 0.05)


def exact_hist(v: np.ndarray) -> LatencyHistogram:
    i = np.ceil(np.log2(v) * 16).astype(np.int64) - 1
    lo = int(i.min())
    return LatencyHistogram(4, lo, np.bincount(i - lo).tolist())


def shares(ps) -> dict[str, float]:
    ps = np.asarray(ps)
    return {str(t): float(np.mean(ps <= t)) for t in LEVELS}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=20000)
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n = args.calls
    bs, cs = [], []
    for _ in range(args.pairs):
        a, b = (rng.lognormal(math.log(0.02), 1.0, n) for _ in range(2))
        bs.append(Population(calls=n, errors=int(rng.binomial(n, 0.01)), latency=exact_hist(a)))
        cs.append(Population(calls=n, errors=int(rng.binomial(n, 0.01)), latency=exact_hist(b)))
    th = CheckThresholds()
    ps: dict[str, list[float]] = {}
    for _, d in latency_checks(bs, cs, th, 0.01) + error_check(bs, cs, th, 0.01):
        if d.p_value is not None:
            ps.setdefault(d.check, []).append(d.p_value)
    out = {"pairs": args.pairs, "calls_per_side": n, "checks": {k: shares(v) for k, v in ps.items()}}
    win, dev = [], []
    for _ in range(args.pairs):
        k = int(rng.integers(20, 41))
        level = 600e6 * rng.lognormal(0, 0.05, k)
        sides = [
            np.repeat(d, 3) * (1 + 0.001 * rng.standard_normal(3 * len(d)))
            for d in (level[: k // 2], level[k // 2 :])
        ]
        b, c = sides
        win.append(stats.welch_test(b.mean(), b.std(ddof=1), len(b), c.mean(), c.std(ddof=1), len(c))[0])
        bd, cd = b.reshape(-1, 3).mean(1), c.reshape(-1, 3).mean(1)
        dev.append(
            stats.welch_test(bd.mean(), bd.std(ddof=1), len(bd), cd.mean(), cd.std(ddof=1), len(cd))[0]
        )
    out["memory_windows_as_units"] = shares(win)
    out["memory_devices_as_units"] = shares(dev)
    print(json.dumps(out, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
