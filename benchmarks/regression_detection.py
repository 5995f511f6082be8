"""Regression detection through the real collector: recall per kind and size, A/A false positives, time.

A synthetic fleet of 200 devices (four hardware kinds, edge and cloud) pushes experiments into one
collector subprocess (temporary DuckDB on 127.0.0.1). Each experiment is its own model name
(``exp-latency_scale-0017``) with a baseline version "1" and a candidate version "2"; its calls per side
are spread over a random subset of the fleet with lognormal traffic weights (some devices busy, most
quiet), the same weights on both sides (a request-level split: a canary behind a load balancer).

* Latency, error and confidence experiments and the A/A pairs go through real ``inferwatch.Agent``
  instances, one per device (configured, fed with ``record()``, flushed once, shut down: one window per
  device and model version). Memory in those windows is the benchmark process's own RSS, identical
  on both sides, so it never differs.
* Memory experiments (and memory A/A pairs) cannot be produced by ``record()``: per-process memory
  differs between versions only when the versions run in different processes. Each memory
  experiment is its own service on its own devices, half running version 1 and half version 2, and
  sends three 60 s windows per device built with the agent's public encoder
  (``inferwatch.window.Window`` + ``inferwatch.encode.encode_window``), gzip'ed and POSTed as
  application/x-protobuf to ``/v1/metrics``. Their calls are drawn like the A/A pairs.

Then populations come back from the collector through the ``regression_inputs`` named query
(``inferwatch.regressions.source.fetch_populations``), one query per version for the whole fleet,
and each experiment is judged on its own (split by model only, as ``inferwatch regressions --model M
--split-by model`` does) under the default thresholds; a few experiments are cross-checked against
the CLI. Recall: share of injected experiments whose verdict is FAIL with the injected check among the
regressions. FPR: share of A/A experiments whose verdict is FAIL. The same stored data are also judged
under a few alternative threshold settings (the investigation in docs/regressions.md). Timing: the
query (both versions) and ``compare`` over 1,000 cohorts (model × target × hardware) from the DB.

    .venv/bin/python benchmarks/regression_detection.py [--quick] [--reps N] [--aa N] [--seed S]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import requests

import inferwatch
from inferwatch import queries
from inferwatch.encode import encode_window
from inferwatch.histogram import ExponentialHistogram
from inferwatch.queries import connect
from inferwatch.regressions import DEFAULT_SPLIT, Thresholds, Verdict, build_cohorts, compare
from inferwatch.regressions.source import fetch_populations, populations_from_table
from inferwatch.window import SeriesWindow, Window

RESULTS = Path(__file__).parent / "results" / "regression_detection.json"
TARGETS = {"recall": 0.95, "aa_fpr": 0.01, "seconds_1000": 2.0, "min_calls_per_side": 5000}
SERVICE = "fleet"
HARDWARE = (  # (kind, target, devices)
    ("raspberry-pi-5", "edge", 60),
    ("jetson-orin", "edge", 50),
    ("intel-nuc", "edge", 50),
    ("cloud-cpu", "cloud", 40),
)
MEMORY_WINDOWS = 3  # 60 s windows per device in the memory experiments
AA_ERROR_RATES = (0.005, 0.01, 0.02)
CONF_A, CONF_B = 8.0, 2.0  # beta confidences, mean 0.8


@dataclass(frozen=True)
class Device:
    device_id: str
    target: str
    hardware: str
    rss_bytes: float  # this device's typical process RSS (memory experiments)


@dataclass(frozen=True)
class Params:
    """How one side of an experiment is drawn."""

    calls: int
    sigma: float
    median_s: float
    error_rate: float
    latency_factor: float = 1.0
    sigma_add: float = 0.0
    conf_mean_shift: float = 0.0
    peak_factor: float = 1.0


@dataclass
class Experiment:
    model: str
    kind: str
    cell: str  # the size cell: sigma, calls per side, base error rate
    base: Params
    cand: Params
    detect: tuple[str, ...]  # finding checks that count as detecting the injection (empty for A/A)
    memory: bool = False
    devices: list[int] = field(default_factory=list)
    weights: np.ndarray | None = None


# kind -> (checks that detect it, (baseline params) -> candidate params, memory path?)
KINDS = {
    "aa": ((), lambda p: p, False),
    "latency_p95_+10%_scale": (
        ("latency.p50", "latency.p95", "latency.p99"),
        lambda p: replace(p, latency_factor=1.10),
        False,
    ),
    "latency_p95_+10%_tail": (
        ("latency.p50", "latency.p95", "latency.p99"),
        lambda p: replace(p, sigma_add=math.log(1.10) / 1.6449),
        False,
    ),
    "errors_+1pp": (("errors.rate",), lambda p: replace(p, error_rate=p.error_rate + 0.01), False),
    "confidence_mean_-0.03": (
        ("confidence.mean", "confidence.p05"),
        lambda p: replace(p, conf_mean_shift=0.03),
        False,
    ),
    "peak_memory_+15%": (("memory.peak_rss",), lambda p: replace(p, peak_factor=1.15), True),
    "aa_memory": ((), lambda p: p, True),
}


def plan(args, rng: np.random.Generator) -> list[Experiment]:
    """Every experiment with its size cell, in a shuffled order (no kind lands on one stretch of time)."""
    cells: list[tuple[str, float, int, float, int]] = []  # kind, sigma, calls, base error rate, reps
    for n in args.calls:
        for sigma in (0.5, 1.0):
            for err in AA_ERROR_RATES:  # A/A at several base error rates: the error test's null varies
                cells.append(("aa", sigma, n, err, max(args.aa // len(AA_ERROR_RATES), 1)))
            cells.append(("latency_p95_+10%_scale", sigma, n, 0.005, args.reps))
            cells.append(("latency_p95_+10%_tail", sigma, n, 0.005, args.reps))
        for err in (0.005, 0.01):
            cells.append(("errors_+1pp", 0.5, n, err, args.reps))
        cells.append(("confidence_mean_-0.03", 0.5, n, 0.005, args.reps))
        cells.append(("peak_memory_+15%", 0.5, n, 0.005, args.reps))
        cells.append(("aa_memory", 0.5, n, 0.005, max(args.aa // 2, 1)))
    for n in args.curve_calls:  # the power curve where 5,000 a side is not enough (latency at sigma 1)
        for kind in ("latency_p95_+10%_scale", "latency_p95_+10%_tail"):
            cells.append((kind, 1.0, n, 0.005, args.reps))
    out = []
    counter: dict[str, int] = defaultdict(int)
    for kind, sigma, n, err, reps in cells:
        detect, inject, memory = KINDS[kind]
        for _ in range(reps):
            i = counter[kind]
            counter[kind] += 1
            base = Params(n, sigma, float(rng.choice((0.005, 0.012, 0.025, 0.06))), err)
            cell = f"sigma={sigma} calls={n} errors={err:.3g}"
            out.append(Experiment(f"exp-{kind}-{i:04d}", kind, cell, base, inject(base), detect, memory))
    rng.shuffle(out)
    return out


def fleet(rng: np.random.Generator) -> list[Device]:
    out = []
    for kind, target, n in HARDWARE:
        base = {"raspberry-pi-5": 350e6, "jetson-orin": 900e6, "intel-nuc": 600e6, "cloud-cpu": 1200e6}[kind]
        for i in range(n):
            out.append(Device(f"{kind}-{i:03d}", target, kind, base * float(rng.lognormal(0, 0.05))))
    return out


def draw(rng: np.random.Generator, p: Params, n: int):
    """n calls of one side: latencies (s), confidences, error flags."""
    lat = rng.lognormal(math.log(p.median_s * p.latency_factor), p.sigma + p.sigma_add, n)
    b = CONF_B
    if p.conf_mean_shift:
        m = CONF_A / (CONF_A + CONF_B) - p.conf_mean_shift
        b = CONF_A / m - CONF_A
    conf = rng.beta(CONF_A, b, n)
    err = rng.random(n) < p.error_rate
    return lat, conf, err


def assign(
    rng: np.random.Generator,
    exps: list[Experiment],
    devices: list[Device],
    lo: int,
    hi: int,
    one_kind: bool = False,
) -> None:
    """Devices and traffic weights per experiment (memory experiments: devices of one hardware kind)."""
    for e in exps:
        pool = np.arange(len(devices))
        if one_kind:
            kind = HARDWARE[int(rng.integers(len(HARDWARE)))][0]
            pool = np.array([i for i, d in enumerate(devices) if d.hardware == kind])
        k = min(int(rng.integers(lo, hi + 1)), len(pool))
        e.devices = rng.choice(pool, size=k, replace=False).tolist()
        w = rng.lognormal(0.0, 1.0, k)
        e.weights = w / w.sum()


# --------------------------------------------------------------------------- the collector
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """`inferwatch collector` as a subprocess on a free loopback port."""

    def __init__(self, db: str) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.proc = subprocess.Popen(
            # no rollout watch: its scan of every model (1,500 here) would run in the writer mid-ingest
            [sys.executable, "-m", "inferwatch.cli", "collector", "--db", db, "--port", port,
             "--rollout-scan-minutes", "0"],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the collector did not start")

    def scalar(self, sql: str):
        r = requests.post(self.url + "/v1/query", json={"sql": sql}, timeout=60)
        r.raise_for_status()
        return r.json()["rows"][0][0]

    def wait_for_calls(self, expected: int, timeout: float = 900) -> float:
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if (self.scalar("SELECT coalesce(sum(calls), 0) FROM inference_points") or 0) >= expected:
                return time.monotonic() - t0
            time.sleep(0.25)
        raise RuntimeError(f"the collector did not store {expected} calls in {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)


# --------------------------------------------------------------------------- pushing the fleet
def push_agents(url: str, spool: str, devices: list[Device], exps: list[Experiment], seed: int) -> dict:
    """One real Agent per device: record() every call the device served, flush once, shut down."""
    rng = np.random.default_rng(seed)
    per_device: dict[int, list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]] = defaultdict(list)
    calls = 0
    for e in exps:
        for version, p in (("1", e.base), ("2", e.cand)):
            lat, conf, err = draw(rng, p, p.calls)
            split = rng.multinomial(p.calls, e.weights)
            bounds = np.cumsum(split)[:-1]
            for d, l_, c_, e_ in zip(
                e.devices, np.split(lat, bounds), np.split(conf, bounds), np.split(err, bounds)
            ):
                if len(l_):
                    per_device[d].append((e.model, version, l_, c_, e_))
            calls += p.calls
    t0 = time.perf_counter()
    failed = 0
    for d, work in sorted(per_device.items()):
        dev = devices[d]
        agent = inferwatch.Agent()
        agent.configure(
            service=SERVICE,
            target=dev.target,
            endpoint=url,
            device_id=dev.device_id,
            hardware=dev.hardware,
            spool_dir=os.path.join(spool, dev.device_id),
            interval_s=3600,
        )
        record = agent.record
        for model, version, lat, conf, err in work:
            for duration, confidence, is_error in zip(lat.tolist(), conf.tolist(), err.tolist()):
                if is_error:
                    record(model, version, duration_s=duration, error="TimeoutError")
                else:
                    record(model, version, duration_s=duration, confidence=confidence)
        if not agent.flush(60):
            failed += 1
        stats = agent.stats()
        if stats.get("dropped") or stats.get("windows_rejected"):
            raise RuntimeError(f"device {dev.device_id}: agent dropped data: {stats}")
        agent.shutdown()
    return {"devices": len(per_device), "calls": calls, "seconds": time.perf_counter() - t0, "failed": failed}


def push_memory(url: str, devices: list[Device], exps: list[Experiment], seed: int) -> dict:
    """Memory experiments: own service each, half the devices per version, windows built by hand."""
    rng = np.random.default_rng(seed)
    session = requests.Session()
    now = time.time_ns()
    step = 60 * 10**9
    last_end = now // step * step
    t0 = time.perf_counter()
    calls = requests_sent = windows = 0
    for e in exps:
        half = len(e.devices) // 2
        sides = (
            ("1", e.base, e.devices[:half], e.weights[:half]),
            ("2", e.cand, e.devices[half:], e.weights[half:]),
        )
        for version, p, devs, w in sides:
            lat, conf, err = draw(rng, p, p.calls)
            split = rng.multinomial(p.calls, np.repeat(w / w.sum(), MEMORY_WINDOWS) / MEMORY_WINDOWS)
            chunks = np.split(np.arange(p.calls), np.cumsum(split)[:-1])
            bodies = []
            for j, d in enumerate(devs):
                dev = devices[d]
                resource = {
                    "service.name": f"svc-{e.model}",
                    "device.id": dev.device_id,
                    "inferwatch.target": dev.target,
                    "inferwatch.hardware": dev.hardware,
                }
                for k in range(MEMORY_WINDOWS):
                    idx = chunks[j * MEMORY_WINDOWS + k]
                    end = last_end - (MEMORY_WINDOWS - 1 - k) * step
                    window = Window(end - step, end)
                    if len(idx):
                        sw = window.series[(e.model, version)] = SeriesWindow()
                        ok = ~err[idx]
                        sw.ok.add_many(lat[idx][ok].tolist())
                        if (~ok).any():
                            h = sw.failed["TimeoutError"] = ExponentialHistogram()
                            h.add_many(lat[idx][~ok].tolist())
                        sw.confidence.add_many(conf[idx][ok].tolist())
                    # one RSS sample a second: steady around the device's level, one spike (the peak)
                    rss = dev.rss_bytes * (1 + 0.01 * rng.standard_normal(60))
                    rss[int(rng.integers(60))] = dev.rss_bytes * (1.05 + 0.02 * abs(rng.standard_normal()))
                    rss[rss.argmax()] *= p.peak_factor
                    for r in rss:
                        window.add_memory(int(r))
                    bodies.append(encode_window(window, resource, {"calls": len(idx)}, {}))
            # serialized protobuf messages concatenate into one: every window of this side, one request
            r = session.post(
                url,
                data=gzip.compress(b"".join(bodies), compresslevel=6),
                headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
                timeout=60,
            )
            r.raise_for_status()
            requests_sent += 1
            windows += len(bodies)
            calls += p.calls
    return {
        "requests": requests_sent,
        "windows": windows,
        "calls": calls,
        "seconds": time.perf_counter() - t0,
    }


# --------------------------------------------------------------------------- judging
def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def judge(exps: list[Experiment], base_rows, cand_rows, th: Thresholds) -> dict:
    """Per experiment verdict (split by model); recall per kind and cell, FPR over the A/A pairs."""
    by_b: dict[str, list] = defaultdict(list)
    by_c: dict[str, list] = defaultdict(list)
    for key, pop in base_rows:
        by_b[key["model"]].append((key, pop))
    for key, pop in cand_rows:
        by_c[key["model"]].append((key, pop))
    cells: dict[tuple[str, str], dict] = {}
    flags_not_injected: dict[str, int] = defaultdict(int)
    aa_rejected: dict[str, int] = defaultdict(int)
    verdicts = {}
    t0 = time.perf_counter()
    for e in exps:
        report = compare(build_cohorts(by_b[e.model], by_c[e.model], ("model",)), th)
        verdicts[e.model] = report.verdict.value
        flagged = {f.check for f in report.regressions}
        c = cells.setdefault(
            (e.kind, e.cell),
            {
                "n": 0,
                "hits": 0,
                "hits_p95": 0,
                "fail": 0,
                "pass": 0,
                "inconclusive": 0,
                "calls_min": math.inf,
            },
        )
        c["n"] += 1
        c["fail"] += report.verdict is Verdict.FAIL
        c["pass"] += report.verdict is Verdict.PASS
        c["inconclusive"] += report.verdict is Verdict.INCONCLUSIVE
        c["hits"] += report.verdict is Verdict.FAIL and bool(flagged & set(e.detect))
        c["hits_p95"] += "latency.p95" in flagged
        for check in flagged - set(e.detect):
            flags_not_injected[f"{check} (in {e.kind})"] += 1
        if e.kind.startswith("aa"):  # rejected at the family level, whether or not the effect was material
            for f in report.findings:
                if f.gated and f.p_adjusted is not None and f.p_adjusted <= th.alpha:
                    aa_rejected[f.check] += 1
        pops = [f for f in report.findings if f.check == "errors.rate"]
        if pops:
            c["calls_min"] = min(c["calls_min"], pops[0].n_baseline, pops[0].n_candidate)
    seconds = time.perf_counter() - t0
    out: dict = {"cells": [], "compare_seconds_all_experiments": seconds}
    for (kind, cell), c in sorted(cells.items()):
        row = {"kind": kind, "cell": cell, "experiments": c["n"]}
        if kind.startswith("aa"):
            row.update(fpr=c["fail"] / c["n"], fpr_ci95=wilson(c["fail"], c["n"]))
        else:
            row.update(recall=c["hits"] / c["n"], recall_ci95=wilson(c["hits"], c["n"]))
            if kind.startswith("latency"):
                row["recall_p95_flagged"] = c["hits_p95"] / c["n"]
        row.update(
            verdicts={"FAIL": c["fail"], "PASS": c["pass"], "INCONCLUSIVE": c["inconclusive"]},
            min_calls_per_side=None if math.isinf(c["calls_min"]) else int(c["calls_min"]),
        )
        out["cells"].append(row)
    aa = [c for (k, _), c in cells.items() if k.startswith("aa")]
    n_aa, fp = sum(c["n"] for c in aa), sum(c["fail"] for c in aa)
    out["aa"] = {"experiments": n_aa, "fail": fp, "fpr": fp / max(n_aa, 1), "fpr_ci95": wilson(fp, n_aa)}
    out["flags_of_checks_not_injected"] = dict(sorted(flags_not_injected.items()))
    out["aa_significant_by_check"] = dict(sorted(aa_rejected.items()))
    out["verdicts"] = verdicts
    return out


def equal_weights(th: Thresholds) -> Thresholds:
    """The same thresholds with every check carrying the same share of alpha (plain Holm / BH)."""
    d = th.defaults
    eq = replace(
        d,
        latency=replace(d.latency, weights=(1.0,) * len(d.latency.quantiles)),
        errors=replace(d.errors, weight=1.0),
        confidence=replace(d.confidence, mean_weight=1.0, p05_weight=1.0),
        memory=replace(d.memory, avg_weight=1.0, peak_weight=1.0),
    )
    return replace(th, defaults=eq)


def variants() -> dict[str, Thresholds]:
    """The defaults and the alternatives the investigation compares on the same stored data."""
    d = Thresholds()
    return {
        "defaults": d,  # alpha 0.01, weighted Holm
        "equal_weights": equal_weights(d),  # alpha 0.01, plain Holm (the previous default)
        "alpha_0.02": replace(d, alpha=0.02),
        "alpha_0.05": replace(d, alpha=0.05),
        "alpha_0.05_equal_weights": equal_weights(replace(d, alpha=0.05)),
        "bh": replace(d, correction="bh"),
    }


def cli_crosscheck(url: str, exps: list[Experiment], verdicts: dict[str, str], k: int = 3) -> list[dict]:
    """A few experiments through `inferwatch regressions` itself: same verdict as the benchmark's?"""
    out = []
    picked = [e for e in exps if e.kind == "aa"][:1] + [e for e in exps if e.kind != "aa"][: k - 1]
    for e in picked:
        proc = subprocess.run(
            [sys.executable, "-m", "inferwatch.cli", "regressions", "--model", e.model,
             "--baseline-version", "1", "--candidate-version", "2", "--split-by", "model",
             "--collector", url, "--format", "json"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        got = json.loads(proc.stdout)["verdict"] if proc.stdout.strip().startswith("{") else proc.stderr
        out.append({"model": e.model, "cli": got, "benchmark": verdicts[e.model], "exit": proc.returncode})
    return out


def _fetch_timed(source, params) -> tuple[list, float, float]:
    """fetch_populations in two timed parts: the named query (SQL + transfer as Arrow) and the conversion
    of its rows to populations."""
    t0 = time.perf_counter()
    table = queries.run_arrow("regression_inputs", dict(params), source)
    t1 = time.perf_counter()
    rows = populations_from_table(table)
    return rows, t1 - t0, time.perf_counter() - t1


def timing(source, base_params, cand_params, n_cohorts: int, th: Thresholds) -> dict:
    """The verdict for n_cohorts model × target × hardware cohorts from the DB: query, then compare.

    The query runs for the whole fleet and for the smallest target/hardware filter that still yields
    n_cohorts cohorts (what a fleet-wide gate over that slice would fetch); compare runs on exactly
    n_cohorts of them. Each part is the best of 3 runs.
    """
    whole = [_fetch_timed(source, p) for p in (base_params, cand_params)]
    cohorts_all = build_cohorts(whole[0][0], whole[1][0], DEFAULT_SPLIT)
    slices = [{"target": "cloud"}] + [{"hardware": k} for k, _, _ in HARDWARE] + [{"target": "edge"}, {}]
    counts = defaultdict(int)
    for co in cohorts_all:
        counts[("target", co.key["target"])] += 1
        counts[("hardware", co.key["hardware"])] += 1
    chosen = next(
        (f for f in slices if f and counts[next(iter(f.items()))] >= n_cohorts), {}
    )  # smallest listed slice with enough cohorts, else the whole fleet
    sql, conv = [], []
    for _ in range(3):
        parts = [_fetch_timed(source, {**p, **chosen}) for p in (base_params, cand_params)]
        sql.append(sum(x[1] for x in parts))
        conv.append(sum(x[2] for x in parts))
    cohorts = build_cohorts(parts[0][0], parts[1][0], DEFAULT_SPLIT)
    subset = cohorts[:n_cohorts]
    t, cpu = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        report = compare(subset, th)
        t.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    one = subset[0].key["model"]
    q1 = []
    for _ in range(5):
        t0 = time.perf_counter()
        fetch_populations(source, {**base_params, "model": one})
        fetch_populations(source, {**cand_params, "model": one})
        q1.append(time.perf_counter() - t0)
    query = min(s + c for s, c in zip(sql, conv))
    return {
        "slice": chosen or "whole fleet",
        "cohorts_in_slice": len(cohorts),
        "cohorts": len(subset),
        "cohorts_in_db": len(cohorts_all),
        "query_seconds": query,
        "query_sql_seconds": min(sql),
        "query_rows_to_populations_seconds": min(conv),
        "query_seconds_whole_fleet": sum(x[1] + x[2] for x in whole),
        "rows_whole_fleet": sum(len(x[0]) for x in whole),
        "compare_seconds": min(t),
        "compare_seconds_runs": t,
        "compare_cpu_seconds": min(cpu),
        "verdict_seconds": query + min(t),
        "findings": len(report.findings),
        "tests": sum(f.p_value is not None and f.gated for f in report.findings),
        "query_seconds_one_model": min(q1),
        "load_average": list(os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=60, help="injected experiments per kind and cell (60)")
    ap.add_argument(
        "--aa", type=int, default=90,
        help="A/A experiments per sigma and traffic cell, split over base error rates 0.5/1/2 %% (90)",
    )  # fmt: skip
    ap.add_argument("--calls", type=int, nargs="+", default=[5000, 10000], help="calls per side (cells)")
    ap.add_argument(
        "--curve-calls", type=int, nargs="*", default=[20000],
        help="extra calls per side for the latency cells at sigma 1 (the power curve; default 20000)",
    )  # fmt: skip
    ap.add_argument("--cohorts", type=int, default=1000, help="cohorts in the timing run (1000)")
    ap.add_argument("--quick", action="store_true", help="15 reps, 15 A/A per cell, 5,000 calls only")
    ap.add_argument("--seed", type=int, default=20240612)
    ap.add_argument("--keep-db", help="keep the collector's DuckDB file at this path")
    args = ap.parse_args(argv)
    if args.quick:
        args.reps, args.aa, args.calls, args.curve_calls = 15, 15, [5000], []
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    devices = fleet(rng)
    exps = plan(args, rng)
    agent_exps = [e for e in exps if not e.memory]
    memory_exps = [e for e in exps if e.memory]
    assign(rng, agent_exps, devices, 20, 60)
    assign(rng, memory_exps, devices, 20, 40, one_kind=True)
    print(
        f"regression detection through the collector: {len(devices)} devices, {len(exps)} experiments "
        f"({len(agent_exps)} via agents, {len(memory_exps)} memory via the encoder), "
        f"calls per side {args.calls}"
    )
    with tempfile.TemporaryDirectory(prefix="iw-regdet-") as tmp:
        db = args.keep_db or os.path.join(tmp, "fleet.duckdb")
        collector = Collector(db)
        try:
            push = push_agents(collector.url + "/v1/metrics", os.path.join(tmp, "spool"), devices, agent_exps,
                               args.seed + 1)  # fmt: skip
            print(
                f"agents: {push['devices']} devices sent {push['calls']:,} calls in {push['seconds']:.0f} s"
            )
            mem = push_memory(collector.url + "/v1/metrics", devices, memory_exps, args.seed + 2)
            print(
                f"memory experiments: {mem['windows']:,} windows in {mem['requests']:,} requests, "
                f"{mem['calls']:,} calls in {mem['seconds']:.0f} s"
            )
            expected = push["calls"] + mem["calls"]
            stored_wait = collector.wait_for_calls(expected)
            source = connect(collector=collector.url)
            base_params = {"version": "1", "since": "-3h", "until": "now"}
            cand_params = {"version": "2", "since": "-3h", "until": "now"}
            t0 = time.perf_counter()
            base_rows = fetch_populations(source, base_params)
            cand_rows = fetch_populations(source, cand_params)
            query_s = time.perf_counter() - t0
            results_by_variant = {}
            for name, th in variants().items():
                results_by_variant[name] = judge(exps, base_rows, cand_rows, th)
            default = results_by_variant["defaults"]
            crosscheck = cli_crosscheck(collector.url, exps, default["verdicts"])
            tm = timing(source, base_params, cand_params, args.cohorts, Thresholds())
        finally:
            collector.stop()

    print(f"\n{'kind':<24} {'cell':<34} {'n':>4} {'recall / FPR':>12} {'95% CI':>14} {'p95 flagged':>11}")
    for row in default["cells"]:
        value = row.get("recall", row.get("fpr"))
        lo, hi = row.get("recall_ci95", row.get("fpr_ci95"))
        p95 = f"{row['recall_p95_flagged']:.2f}" if "recall_p95_flagged" in row else ""
        label = "recall" if "recall" in row else "FPR"
        print(
            f"{row['kind']:<24} {row['cell']:<34} {row['experiments']:>4} {label:>6} {value:>5.3f} "
            f"{f'[{lo:.2f}, {hi:.2f}]':>14} {p95:>11}"
        )
    a = default["aa"]
    print(
        f"A/A overall: {a['fail']} FAIL of {a['experiments']} = {a['fpr']:.4f} "
        f"(95% CI {a['fpr_ci95'][0]:.4f}–{a['fpr_ci95'][1]:.4f})"
    )
    print(f"checks flagged that were not injected: {default['flags_of_checks_not_injected']}")
    print(
        f"A/A checks significant (adjusted p ≤ alpha, material or not): {default['aa_significant_by_check']}"
    )
    print(
        f"verdict for {tm['cohorts']} cohorts ({tm['slice']}, {tm['cohorts_in_slice']} cohorts fetched): "
        f"query {tm['query_seconds']:.2f} s (SQL {tm['query_sql_seconds']:.2f} s + rows to populations "
        f"{tm['query_rows_to_populations_seconds']:.2f} s) + compare {tm['compare_seconds']:.2f} s "
        f"= {tm['verdict_seconds']:.2f} s"
    )
    print(
        f"whole fleet ({tm['cohorts_in_db']} cohorts, {tm['rows_whole_fleet']} rows): query "
        f"{tm['query_seconds_whole_fleet']:.2f} s; one model's query (both versions) "
        f"{tm['query_seconds_one_model'] * 1000:.0f} ms"
    )
    print(f"CLI cross-check: {crosscheck}")
    print("\nthreshold variants on the same data (worst recall per kind at 5,000 calls; A/A FPR):")
    summary = {}
    for name, res in results_by_variant.items():
        worst: dict[str, float] = {}
        for row in res["cells"]:
            if "recall" in row:
                key = f"{row['kind']} {row['cell'].split(' calls=')[1].split()[0]}"
                worst[key] = min(worst.get(key, 1.0), row["recall"])
        summary[name] = {"worst_recall": worst, "aa_fpr": res["aa"]["fpr"], "aa_fail": res["aa"]["fail"]}
        print(
            f"  {name:<20} FPR {res['aa']['fpr']:.4f}  "
            + "  ".join(f"{k}: {v:.2f}" for k, v in worst.items())
        )

    recall_rows = [r for r in default["cells"] if "recall" in r]
    met = {
        "recall_all_cells": all(r["recall"] >= TARGETS["recall"] for r in recall_rows),
        "recall_by_kind_and_calls": {
            k: v >= TARGETS["recall"] for k, v in summary["defaults"]["worst_recall"].items()
        },
        "aa_fpr": default["aa"]["fpr"] <= TARGETS["aa_fpr"],
        "aa_experiments_at_least_200": default["aa"]["experiments"] >= 200,
        "verdict_1000_cohorts_seconds": tm["verdict_seconds"] <= TARGETS["seconds_1000"]
        and tm["cohorts"] >= 1000,
        "compare_1000_cohorts_seconds": tm["compare_seconds"] <= TARGETS["seconds_1000"],
    }
    for res in results_by_variant.values():
        res.pop("verdicts")
    results = {
        "settings": {
            "devices": len(devices),
            "hardware": [{"kind": k, "target": t, "devices": n} for k, t, n in HARDWARE],
            "experiments": len(exps),
            "reps_per_injected_cell": args.reps,
            "aa_per_cell": args.aa,
            "aa_error_rates": list(AA_ERROR_RATES),
            "curve_calls_per_side": args.curve_calls,
            "calls_per_side": args.calls,
            "devices_per_experiment": (
                "20–60 of any kind (agents); 20–40 of one hardware kind, half per version (memory)"
            ),
            "traffic_weights": "lognormal(0, 1) per device, same on both sides",
            "memory_windows_per_device": MEMORY_WINDOWS,
            "split_for_verdict": ["model"],
            "seed": args.seed,
            "quick": args.quick,
            "thresholds": Thresholds().to_dict(),
        },
        "push": {
            "agents": push,
            "memory": mem,
            "stored_after_seconds": stored_wait,
            "query_seconds": query_s,
        },
        "results": results_by_variant["defaults"],
        "variants": summary,
        "variant_details": {k: v for k, v in results_by_variant.items() if k != "defaults"},
        "timing_1000_cohorts": tm,
        "cli_crosscheck": crosscheck,
        "targets": TARGETS,
        "targets_met": met,
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "inferwatch": inferwatch.__version__,
        },
        "run_seconds": time.perf_counter() - started,
    }
    out = RESULTS.with_name(RESULTS.stem + "_quick.json") if args.quick else RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")
    print(f"\ntargets met: {json.dumps(met)}\nrun time {results['run_seconds']:.0f} s; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
