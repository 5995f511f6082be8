"""Do the stored, merged latency histograms hold every call in the bucket its raw value belongs to?

A diagnosis harness for the A/A false-positive rate of `benchmarks/regression_detection.py`. It
plans A/A experiments exactly as that benchmark does (same fleet, same devices and traffic weights,
same draws, same real ``inferwatch.Agent`` per device and the same collector subprocess), but keeps
every raw duration the agents were given. Then, per experiment and version, it compares bucket by
bucket at the collector's canonical scale (4):

* **exact** — the raw values binned exactly: bucket i = (2^(i/16), 2^((i+1)/16)], computed from the
  duration the agent stores (``round(s * 1e9)`` ns, then ``ns * 1e-9`` s);
* **agent** — the agent's own per-window histograms (the same ``ExponentialHistogram`` code, fed the
  same values per device), at the scale the agent ended at, downscaled to 4 when finer;
* **stored points** — every ``inference_points.latency_hist`` of the experiment (per device, version,
  error type), merged in Python;
* **stored merged** — what ``regressions`` reads: the ``regression_inputs`` named query per model,
  target and hardware, merged into one population per model by ``build_cohorts`` (as the benchmark).

and it reports which stage first differs from exact (count, windows at a scale coarser than 4, the
largest bucket difference), and the engine's latency p-values on the stored and the exact
histograms. With ``--expect-exact`` it exits 1 on any mismatch (a regression test for the pipeline).

    .venv/bin/python benchmarks/histogram_fidelity.py [--aa 120] [--calls 5000 10000] [--seed S]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import regression_detection as rd

import inferwatch
from inferwatch import runtime
from inferwatch.histogram import ExponentialHistogram
from inferwatch.queries import connect
from inferwatch.regressions import Thresholds, build_cohorts, compare
from inferwatch.regressions.model import LatencyHistogram, Population
from inferwatch.regressions.source import fetch_populations

CANONICAL = 4
RESULTS = Path(__file__).parent / "results" / "histogram_fidelity.json"


def exact_index(seconds: np.ndarray, scale: int = CANONICAL) -> tuple[np.ndarray, int]:
    """Bucket index of each positive value at `scale`, checked against the bucket edges.

    Returns (indexes, ambiguous): values within 1e-12 (relative) of an edge are counted as ambiguous
    (floating point could put them either side; none is expected from continuous draws).
    """
    v = np.asarray(seconds, dtype=np.float64)
    i = np.ceil(np.log2(v) * (1 << scale)).astype(np.int64) - 1
    lo = np.exp2(i / (1 << scale))
    hi = np.exp2((i + 1) / (1 << scale))
    i = np.where(v <= lo, i - 1, np.where(v > hi, i + 1, i))  # one step of correction either way
    lo = np.exp2(i / (1 << scale))
    hi = np.exp2((i + 1) / (1 << scale))
    ambiguous = int((np.minimum(np.abs(v / lo - 1), np.abs(v / hi - 1)) < 1e-12).sum())
    return i, ambiguous


def as_counter(h: LatencyHistogram, scale: int = CANONICAL) -> Counter:
    """Bucket index → count of a histogram at `scale` (downscaled when finer; never upscaled)."""
    if h.scale < scale:
        raise ValueError(f"scale {h.scale} is coarser than {scale}")
    shift = h.scale - scale
    out: Counter = Counter()
    for k, c in enumerate(h.counts):
        if c:
            out[(h.offset + k) >> shift] += c
    if h.zero_count:
        out["zero"] += h.zero_count
    return out


def exact_counter(values: np.ndarray) -> tuple[Counter, int]:
    v = np.asarray(values, dtype=np.float64)
    out: Counter = Counter()
    zeros = int((v == 0).sum())
    idx, amb = exact_index(v[v > 0])
    out.update(dict(zip(*np.unique(idx, return_counts=True))))
    out = Counter({int(k): int(c) for k, c in out.items()})
    if zeros:
        out["zero"] = zeros
    return out, amb


def diff(a: Counter, b: Counter) -> dict:
    """Buckets whose counts differ, and the sum of absolute differences."""
    keys = set(a) | set(b)
    d = {k: a.get(k, 0) - b.get(k, 0) for k in keys if a.get(k, 0) != b.get(k, 0)}
    return {
        "buckets": len(d),
        "abs": sum(abs(x) for x in d.values()),
        "example": sorted(d.items(), key=str)[:6],
    }


class Taps:
    """Record, without changing them, what the benchmark draws and what its agents send.

    `regression_detection.draw` is wrapped to keep every side's raw latencies and error flags (the
    benchmark calls it once per experiment and version, in experiment order), and the window encoder
    the agents and the memory path use is wrapped to keep each window's latency histograms as sent.
    """

    def __init__(self) -> None:
        self.draws: list[tuple[np.ndarray, np.ndarray]] = []
        self.windows: dict[tuple[str, str], list[ExponentialHistogram]] = defaultdict(list)
        self._draw, self._enc_rt, self._enc_rd = rd.draw, runtime.encode_window, rd.encode_window

    def draw(self, rng, p, n):
        lat, conf, err = self._draw(rng, p, n)
        self.draws.append((lat, err))
        return lat, conf, err

    def _encoder(self, real):
        def encode(window, *args, **kwargs):
            for key, sw in window.series.items():
                for h in (sw.ok, *sw.failed.values()):
                    if h.count:
                        self.windows[key].append(copy.deepcopy(h))
            return real(window, *args, **kwargs)

        return encode

    def __enter__(self) -> Taps:
        rd.draw = self.draw
        runtime.encode_window = self._encoder(self._enc_rt)
        rd.encode_window = self._encoder(self._enc_rd)
        return self

    def __exit__(self, *exc) -> None:
        rd.draw, runtime.encode_window, rd.encode_window = self._draw, self._enc_rt, self._enc_rd

    def raw(self, agent_exps, memory_exps) -> dict[tuple[str, str], np.ndarray]:
        """(model, version) -> the durations as stored: agents round to ns, the memory path does not."""
        order = [(e, v, True) for e in agent_exps for v in "12"] + [
            (e, v, False) for e in memory_exps for v in "12"
        ]
        if len(order) != len(self.draws):
            raise RuntimeError(f"{len(self.draws)} draws for {len(order)} experiment sides")
        out = {}
        for (e, v, agent), (lat, _) in zip(order, self.draws):
            out[(e.model, v)] = np.round(lat * 1e9).astype(np.int64) * 1e-9 if agent else lat
        return out


def stored_points(source, page: int = 50_000) -> dict[tuple[str, str], list[LatencyHistogram]]:
    """Every stored latency point (device, version, error type), by (model, version), in pages (the
    collector caps the rows of one answer)."""
    out: dict[tuple[str, str], list[LatencyHistogram]] = defaultdict(list)
    offset = 0
    while True:
        frame = source.query(
            "SELECT model, model_version, latency_hist FROM inference_points WHERE latency_hist IS NOT NULL "
            f"ORDER BY series_id, start_ns LIMIT {page} OFFSET {offset}"
        )
        for r in frame.to_dict("records"):
            out[(r["model"], r["model_version"])].append(LatencyHistogram.from_mapping(r["latency_hist"]))
        if len(frame) < page:
            return out
        offset += page


def findings(b: Population, c: Population, th: Thresholds) -> tuple[str, dict, list[str]]:
    """(verdict, latency p-values, checks flagged) of one experiment judged alone (split by model)."""
    rep = compare(build_cohorts([({"model": "m"}, b)], [({"model": "m"}, c)], ("model",)), th)
    ps = {f.check: f.p_value for f in rep.findings if f.check.startswith("latency.")}
    return rep.verdict.value, ps, sorted(f.check for f in rep.regressions)


def exact_histogram(values: np.ndarray, like: LatencyHistogram) -> LatencyHistogram:
    """The raw values binned exactly at the canonical scale (sum/min/max taken from the stored one)."""
    ex, _ = exact_counter(values)
    keys = [k for k in ex if k != "zero"]
    lo, hi = min(keys), max(keys)
    return LatencyHistogram(CANONICAL, lo, [ex.get(j, 0) for j in range(lo, hi + 1)], ex.get("zero", 0),
                            like.sum, like.min, like.max)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=60, help="as regression_detection.py (60)")
    ap.add_argument("--aa", type=int, default=90, help="as regression_detection.py (90)")
    ap.add_argument("--calls", type=int, nargs="+", default=[5000, 10000])
    ap.add_argument("--curve-calls", type=int, nargs="*", default=[20000])
    ap.add_argument("--seed", type=int, default=20240612)
    ap.add_argument(
        "--aa-only",
        action="store_true",
        help="push only the A/A experiments of the plan (faster; draws then differ from the benchmark's)",
    )
    ap.add_argument("--expect-exact", action="store_true", help="exit 1 on any bucket mismatch")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)
    args.quick = False
    rng = np.random.default_rng(args.seed)
    devices = rd.fleet(rng)
    exps = rd.plan(args, rng)
    agent_exps = [e for e in exps if not e.memory]
    memory_exps = [e for e in exps if e.memory]
    rd.assign(rng, agent_exps, devices, 20, 60)
    rd.assign(rng, memory_exps, devices, 20, 40, one_kind=True)
    if args.aa_only:
        agent_exps = [e for e in agent_exps if e.kind.startswith("aa")]
        memory_exps = [e for e in memory_exps if e.kind.startswith("aa")]
    exps = agent_exps + memory_exps
    print(
        f"{len(exps)} experiments ({sum(e.kind.startswith('aa') for e in exps)} A/A) "
        "through agents and the collector"
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="iw-fidelity-") as tmp, Taps() as taps:
        collector = rd.Collector(os.path.join(tmp, "fleet.duckdb"))
        try:
            url = collector.url + "/v1/metrics"
            push = rd.push_agents(url, os.path.join(tmp, "spool"), devices, agent_exps, args.seed + 1)
            mem = rd.push_memory(url, devices, memory_exps, args.seed + 2)
            collector.wait_for_calls(push["calls"] + mem["calls"])
            source = connect(collector=collector.url)
            rows = {
                v: fetch_populations(source, {"version": v, "since": "-3h", "until": "now"}) for v in "12"
            }
            points = stored_points(source)
        finally:
            collector.stop()
        raw = taps.raw(agent_exps, memory_exps)
    pushed_s = time.perf_counter() - t0
    by_model = {v: defaultdict(list) for v in "12"}
    for v in "12":
        for key, pop in rows[v]:
            by_model[v][key["model"]].append((key, pop))
    th = Thresholds()
    stages = ("agent", "stored_points", "stored_merged")
    mismatches = {s: 0 for s in stages}
    coarse_agent_windows = coarse_points = ambiguous = 0
    agent_scales: Counter = Counter()
    per_exp = []
    for e in exps:
        co = build_cohorts(by_model["1"][e.model], by_model["2"][e.model], ("model",))[0]
        stored = {"1": co.baseline, "2": co.candidate}
        rec = {"model": e.model, "kind": e.kind, "cell": e.cell, "median_s": e.base.median_s,
               "devices": len(e.devices)}  # fmt: skip
        exact_pop = {}
        for v in "12":
            ex, amb = exact_counter(raw[(e.model, v)])
            ambiguous += amb
            ag: Counter = Counter()
            for h in taps.windows[(e.model, v)]:
                agent_scales[h.scale] += 1
                if h.scale < CANONICAL:
                    coarse_agent_windows += 1
                    continue  # cannot be compared at scale 4: counted above
                ag += as_counter(LatencyHistogram.from_exponential(h))
            pts = points[(e.model, v)]
            coarse_points += sum(p.scale < CANONICAL for p in pts)
            sp: Counter = Counter()
            for p in pts:
                sp += as_counter(p)
            sm = as_counter(stored[v].latency)
            side = {}
            for name, got in zip(stages, (ag, sp, sm)):
                d = diff(got, ex)
                side[name] = d
                if d["buckets"]:
                    mismatches[name] += 1
            side["calls"] = int(sum(ex.values()))
            rec[f"version_{v}"] = side
            exact_pop[v] = replace(stored[v], latency=exact_histogram(raw[(e.model, v)], stored[v].latency))
        rec["verdict_stored"], rec["p_stored"], rec["flagged_stored"] = findings(stored["1"], stored["2"], th)
        rec["verdict_exact"], rec["p_exact"], rec["flagged_exact"] = findings(
            exact_pop["1"], exact_pop["2"], th
        )
        per_exp.append(rec)
    aa = [r for r in per_exp if r["kind"].startswith("aa")]
    summary = {
        "experiments": len(exps),
        "sides": 2 * len(exps),
        "sides_mismatching_exact": mismatches,
        "agent_windows_by_scale": {str(k): v for k, v in sorted(agent_scales.items())},
        "agent_windows_coarser_than_4": coarse_agent_windows,
        "stored_points_coarser_than_4": coarse_points,
        "values_within_1e-12_of_an_edge": ambiguous,
        "latency_p_values_differ": sum(r["p_stored"] != r["p_exact"] for r in per_exp),
        "verdicts_differ": sum(r["verdict_stored"] != r["verdict_exact"] for r in per_exp),
        "aa": {
            "experiments": len(aa),
            "fail_stored": sum(r["verdict_stored"] == "FAIL" for r in aa),
            "fail_exact": sum(r["verdict_exact"] == "FAIL" for r in aa),
            "fails": [
                {k: r[k] for k in ("model", "cell", "flagged_stored", "flagged_exact", "p_stored")}
                for r in aa
                if "FAIL" in (r["verdict_stored"], r["verdict_exact"])
            ],  # fmt: skip
        },
        "push_seconds": pushed_s,
        "seconds": time.perf_counter() - t0,
        "settings": {
            "seed": args.seed,
            "aa": args.aa,
            "reps": args.reps,
            "calls": args.calls,
            "curve_calls": args.curve_calls,
            "aa_only": args.aa_only,
        },  # fmt: skip
        "inferwatch": inferwatch.__version__,
    }
    print(json.dumps(summary, indent=2))
    bad = [r for r in per_exp if any(r[f"version_{v}"][s]["buckets"] for v in "12" for s in stages)]
    for r in bad[:5]:
        print(r["model"], r["cell"], {v: {s: r[f"version_{v}"][s] for s in stages} for v in "12"})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    # the A/A experiments in full, and every experiment that differs anywhere (the file stays small)
    kept = [r for r in per_exp if r["kind"].startswith("aa") or r in bad]
    Path(args.out).write_text(json.dumps({"summary": summary, "experiments": kept}, default=str) + "\n")
    if args.expect_exact and (any(mismatches.values()) or summary["latency_p_values_differ"]):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
