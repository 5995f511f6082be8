"""Regression engine, in memory: recall per kind, A/A false positives, time for 1,000 cohorts.

Raw samples (lognormal latencies, Bernoulli errors, beta confidences, per-window memory) are folded
window by window into the agent's own histograms (`inferwatch.histogram.ExponentialHistogram` /
`LinearHistogram`), merged as the collector would (latency at most at its canonical scale 4), and
compared with `inferwatch.regressions.compare` under the default thresholds. No collector, no SQL.

    .venv/bin/python benchmarks/regression_engine.py [--quick] [--reps N] [--aa N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from inferwatch.histogram import ExponentialHistogram, LinearHistogram
from inferwatch.regressions import (
    Cohort,
    ConfidenceHistogram,
    LatencyHistogram,
    Memory,
    Population,
    Status,
    Thresholds,
    Verdict,
    compare,
)

RESULTS = Path(__file__).parent / "results" / "regression_engine.json"
CANONICAL_SCALE = 4
TARGETS = {"recall": 0.95, "aa_fpr": 0.01, "seconds_1000": 2.0}


@dataclass(frozen=True)
class Side:
    """How one side's raw samples are drawn."""

    calls: int = 5000
    windows: int = 10
    median_s: float = 0.020
    sigma: float = 0.5
    latency_factor: float = 1.0  # multiplies every latency (scale shift)
    tail_sigma_add: float = 0.0  # widens the log-sd: tail grows, median stays
    error_rate: float = 0.005  # as benchmarks/agent_bandwidth.py
    conf_a: float = 8.0
    conf_b: float = 2.0
    conf_mean_shift: float = 0.0  # lowers the beta mean by this much (b is solved for)
    rss_bytes: float = 400e6
    rss_cv: float = 0.03
    peak_factor: float = 1.0


def downscale(h: LatencyHistogram, scale: int) -> LatencyHistogram:
    """The histogram at a coarser scale, as the collector stores it."""
    if h.scale <= scale:
        return h
    empty = LatencyHistogram(scale, 0, (), 0, 0.0, math.nan, math.nan)
    merged = h.merge(empty)
    return replace(merged, min=h.min, max=h.max, sum=h.sum)


def population(rng: np.random.Generator, s: Side) -> Population:
    """Draw one side and fold it, window by window, into the agent's histograms."""
    sigma = s.sigma + s.tail_sigma_add
    lat = rng.lognormal(math.log(s.median_s * s.latency_factor), sigma, s.calls)
    errors = int((rng.random(s.calls) < s.error_rate).sum())
    b = s.conf_b
    if s.conf_mean_shift:
        m = s.conf_a / (s.conf_a + s.conf_b) - s.conf_mean_shift
        b = s.conf_a / m - s.conf_a
    conf = rng.beta(s.conf_a, b, s.calls)
    merged_lat = ExponentialHistogram()
    merged_conf = LinearHistogram()
    for chunk_l, chunk_c in zip(np.array_split(lat, s.windows), np.array_split(conf, s.windows)):
        h = ExponentialHistogram()
        h.add_many(chunk_l.tolist())
        merged_lat.merge(h)
        c = LinearHistogram()
        c.add_many(chunk_c.tolist())
        merged_conf.counts = [x + y for x, y in zip(merged_conf.counts, c.counts)]
        merged_conf.count += c.count
        merged_conf.sum += c.sum
        merged_conf.min = min(merged_conf.min, c.min)
        merged_conf.max = max(merged_conf.max, c.max)
    avg = s.rss_bytes * (1 + s.rss_cv * rng.standard_normal(s.windows))
    peak = avg * (1.05 + 0.02 * np.abs(rng.standard_normal(s.windows))) * s.peak_factor
    return Population(
        calls=s.calls,
        errors=errors,
        latency=downscale(LatencyHistogram.from_exponential(merged_lat), CANONICAL_SCALE),
        confidence=ConfidenceHistogram.from_linear(merged_conf),
        memory=Memory.from_windows(avg.tolist(), peak.tolist()),
        windows=s.windows,
    )


# kind -> (finding prefix that counts as detection, (base side) -> (baseline side, candidate side))
KINDS = {
    "latency_p95_+10%_scale": ("latency.", lambda s: (s, replace(s, latency_factor=1.10))),
    "latency_p95_+10%_tail": ("latency.", lambda s: (s, replace(s, tail_sigma_add=math.log(1.10) / 1.6449))),
    "errors_0.5%->1.5%": ("errors.", lambda s: (s, replace(s, error_rate=s.error_rate + 0.01))),
    "errors_1%->2%": ("errors.", lambda s: (replace(s, error_rate=0.01), replace(s, error_rate=0.02))),
    "confidence_mean_-0.03": ("confidence.", lambda s: (s, replace(s, conf_mean_shift=0.03))),
    "peak_memory_+15%": ("memory.peak", lambda s: (s, replace(s, peak_factor=1.15))),
}


def one(rng: np.random.Generator, base: Side, cand: Side, th: Thresholds, key: dict[str, str]):
    """Compare one freshly drawn pair."""
    return compare([Cohort(key, population(rng, base), population(rng, cand))], th)


def recall(rng, base: Side, reps: int, th: Thresholds) -> dict[str, dict]:
    """Share of injected regressions the engine reports (FAIL with a finding of the injected kind)."""
    out = {}
    for kind, (prefix, inject) in KINDS.items():
        hits = passed = 0
        for _ in range(reps):
            r = one(rng, *inject(base), th, {"model": "m"})
            hits += any(f.check.startswith(prefix) for f in r.regressions)
            passed += r.verdict is Verdict.PASS
        out[kind] = {"recall": hits / reps, "passed": passed / reps, "reps": reps}
    return out


def aa(rng, base: Side, reps: int, th: Thresholds) -> dict:
    """A/A: both sides from the same generator; a FAIL verdict is a false positive."""
    verdicts = {v.value: 0 for v in Verdict}
    by_check: dict[str, int] = {}
    for _ in range(reps):
        r = one(rng, base, base, th, {"model": "m"})
        verdicts[r.verdict.value] += 1
        for f in r.findings:
            if f.status is Status.INSUFFICIENT and f.gated:
                by_check[f.check] = by_check.get(f.check, 0) + 1
    return {
        "reps": reps,
        "fpr": verdicts["FAIL"] / reps,
        "verdicts": verdicts,
        "insufficient_by_check": by_check,
    }


def fleet(rng, n: int, th: Thresholds, regressed_share: float = 0.0) -> dict:
    """n cohorts (model × target × hardware) compared at once: engine time, verdict, findings."""
    cohorts, injected = [], set()
    kinds = list(KINDS.values())
    draw_start = time.perf_counter()
    for i in range(n):
        base = Side(
            sigma=(0.5, 0.75, 1.0)[i % 3], median_s=0.005 * (1 + i % 7), error_rate=0.002 * (1 + i % 5)
        )
        cand = base
        if rng.random() < regressed_share:
            base, cand = kinds[i % len(kinds)][1](base)
            injected.add(i)
        key = {"model": f"model-{i % 10}", "target": ("edge", "cloud")[i % 2], "hardware": f"hw-{i // 10}"}
        cohorts.append(Cohort(key, population(rng, base), population(rng, cand)))
    draw_s = time.perf_counter() - draw_start
    times, cpu = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        report = compare(cohorts, th)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    flagged = {i for i, c in enumerate(cohorts) if any(f.cohort == dict(c.key) for f in report.regressions)}
    return {
        "cohorts": n,
        "seconds": min(times),
        "seconds_runs": times,
        "cpu_seconds": min(cpu),
        "load_average": list(os.getloadavg()),
        "generate_seconds": draw_s,
        "verdict": report.verdict.value,
        "findings": len(report.findings),
        "regressions": len(report.regressions),
        "injected": len(injected),
        "injected_found": len(flagged & injected),
        "false_cohorts": len(flagged - injected),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--reps", type=int, default=200, help="regressions drawn per kind and sigma (default 200)"
    )
    ap.add_argument("--aa", type=int, default=500, help="A/A pairs per sigma (default 500)")
    ap.add_argument("--cohorts", type=int, default=1000, help="cohorts in the timing fleet (default 1000)")
    ap.add_argument("--quick", action="store_true", help="50 reps, 100 A/A pairs, 200 cohorts")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument(
        "--alpha", type=float, default=None, help="family-wise alpha (default: Thresholds().alpha)"
    )
    args = ap.parse_args(argv)
    if args.quick:
        args.reps, args.aa, args.cohorts = 50, 100, 200
    rng = np.random.default_rng(args.seed)
    th = Thresholds() if args.alpha is None else Thresholds(alpha=args.alpha)
    results: dict = {
        "thresholds": th.to_dict(),
        "calls_per_side": Side().calls,
        "windows_per_side": Side().windows,
        "seed": args.seed,
        "scenarios": {},
    }
    print(
        f"regression engine, in memory: {Side().calls} calls per side in {Side().windows} windows, "
        f"alpha={th.alpha} ({th.correction}), defaults from Thresholds()"
    )
    print(f"{'sigma_log':>9} {'injected regression':<24} {'recall':>7} {'PASS':>6}")
    for sigma in (0.5, 1.0):
        base = Side(sigma=sigma)
        rec = recall(rng, base, args.reps, th)
        a = aa(rng, base, args.aa, th)
        results["scenarios"][f"sigma_{sigma}"] = {"recall": rec, "aa": a}
        for kind, r in rec.items():
            print(f"{sigma:>9} {kind:<24} {r['recall']:>7.3f} {r['passed']:>6.3f}")
        print(f"{sigma:>9} {'A/A false positives':<24} {a['fpr']:>7.3f}   verdicts {a['verdicts']}")
    t0 = time.perf_counter()
    fl = fleet(rng, args.cohorts, th)
    fl_reg = fleet(rng, args.cohorts, th, regressed_share=0.05)
    results["fleet_aa"], results["fleet_5pct_regressed"] = fl, fl_reg
    print(
        f"fleet of {fl['cohorts']} cohorts (A/A): engine {fl['seconds']:.2f} s wall, "
        f"{fl['cpu_seconds']:.2f} s CPU "
        f"(load {fl['load_average'][0]:.1f}), verdict {fl['verdict']}, "
        f"{fl['regressions']} regression findings (data generation {time.perf_counter() - t0:.0f} s)"
    )
    print(
        f"fleet of {fl_reg['cohorts']} cohorts, {fl_reg['injected']} regressed: "
        f"found {fl_reg['injected_found']}, "
        f"false cohorts {fl_reg['false_cohorts']}, engine {fl_reg['seconds']:.2f} s"
    )
    sc = results["scenarios"]
    worst_recall = {k: min(sc[s]["recall"][k]["recall"] for s in sc) for k in KINDS}
    met = {
        "recall_sigma_0.5": all(r["recall"] >= TARGETS["recall"] for r in sc["sigma_0.5"]["recall"].values()),
        "recall_sigma_1.0": all(r["recall"] >= TARGETS["recall"] for r in sc["sigma_1.0"]["recall"].values()),
        "aa_fpr": all(sc[s]["aa"]["fpr"] <= TARGETS["aa_fpr"] for s in sc),
        "seconds_1000": fl["seconds"] <= TARGETS["seconds_1000"],
    }
    results.update(
        targets=TARGETS,
        worst_recall=worst_recall,
        met=met,
        machine={"python": sys.version.split()[0], "platform": platform.platform(), "numpy": np.__version__},
    )
    out = RESULTS if args.alpha is None else RESULTS.with_name(f"regression_engine_alpha_{args.alpha}.json")
    if args.quick:
        out = out.with_name(out.stem + "_quick.json")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    print(f"targets met: {met}\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
