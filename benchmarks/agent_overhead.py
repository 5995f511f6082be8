"""Hot-path overhead of the inferwatch agent vs the OpenTelemetry SDK and prometheus_client.

Run: .venv/bin/python benchmarks/agent_overhead.py [--quick]

Part 1 — added latency per call. Each variant calls the same trivial function in batches of
BATCH calls timed with perf_counter_ns; the bare loop's time (same batch size, same design) is
subtracted and divided by BATCH. Two designs:
  * blocked: all batches of one variant back to back, bare batches measured in the same block;
  * interleaved: every round runs one (bare, variant) pair of batches per variant, the pairs in a
    shuffled order, so drift (frequency scaling, background folding, other processes) hits all
    variants alike; each variant is compared with the bare batch just before it.
Median and p99 are taken across batches (p99 of batch means, not of single calls).

Variants (all record the call's duration with the same two attributes):
  (a) bare function; (b) @inferwatch observe decorator; (c) `with observe(...)` context manager;
  (d) OTel SDK Histogram.record after two perf_counter_ns readings (MeterProvider with a
      PeriodicExportingMetricReader → OTLPMetricExporter to a local receiver, 60 s interval),
      explicit buckets (the SDK default) and exponential buckets (a View);
  (e) prometheus_client Histogram.labels(model, version).observe (own CollectorRegistry), and the
      same with the labelled child cached.

Part 2 — total CPU per call, background included: process CPU time (time.process_time, the whole
process, so the in-process receiver's share of the final export is included) over N calls of a
function doing a little real work, spread over 1, 4 and 16 threads, until a final flush
(inferwatch: agent.flush() → delivered to the receiver; OTel: meter_provider.force_flush() →
exported to the receiver; prometheus: one generate_latest() scrape), minus the same for the bare
function, divided by N; each figure is the median of 3 runs.

The agent is configured against a real OTLP/HTTP receiver (tests/otlp_receiver.py) on 127.0.0.1
with interval_s=60. Results: benchmarks/results/agent_overhead.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from time import perf_counter_ns

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # noqa: E402
from opentelemetry.sdk.metrics import Histogram as SdkHistogram  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader  # noqa: E402
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View  # noqa: E402
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402
from prometheus_client import Histogram as PromHistogram  # noqa: E402

import inferwatch  # noqa: E402
from tests.otlp_receiver import OtlpReceiver  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "agent_overhead.json"
MODEL, VERSION = "digits", "2.1.0"
ATTRS = {"inferwatch.model.name": MODEL, "inferwatch.model.version": VERSION}
BATCH = 1000
TARGET_MEDIAN_NS = 500.0
TARGET_RATIO_OTEL = 20.0


def bare(x):
    return x


def work(x):
    """Stand-in for a small inference call in part 2 (~5-10 µs of pure-Python work)."""
    s = 0
    for k in range(100):
        s += k * x
    return s


# ---------------------------------------------------------------------------- setup
class Instruments:
    """Everything under test, configured as a user would."""

    def __init__(self, tmp: Path) -> None:
        self.receiver = OtlpReceiver().start()
        self.agent = inferwatch.Agent()
        self.agent.configure(service="bench", target="edge", endpoint=self.receiver.endpoint,
                             device_id="bench-1", interval_s=60.0, spool_dir=tmp / "spool")
        self.observer = self.agent.observe(MODEL, VERSION)

        def provider(exponential: bool) -> tuple[MeterProvider, SdkHistogram]:
            exporter = OTLPMetricExporter(endpoint=f"{self.receiver.endpoint}/v1/metrics")
            reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
            aggregation = ExponentialBucketHistogramAggregation()
            views = [View(instrument_type=SdkHistogram, aggregation=aggregation)] if exponential else []
            mp = MeterProvider(metric_readers=[reader], views=views)
            hist = mp.get_meter("bench").create_histogram("inference.duration", unit="s")
            return mp, hist

        self.otel_provider, self.otel_hist = provider(False)
        self.otel_exp_provider, self.otel_exp_hist = provider(True)
        self.prom_registry = CollectorRegistry()
        self.prom_hist = PromHistogram("inference_duration_seconds", "Inference duration.",
                                       ["model", "version"], registry=self.prom_registry)

    def close(self) -> None:
        self.agent.shutdown(timeout_s=2.0)
        self.otel_provider.shutdown(timeout_millis=2000)
        self.otel_exp_provider.shutdown(timeout_millis=2000)
        self.receiver.stop()

    def wait_for_agent_buffer(self) -> None:
        """Let the agent's background fold (untimed) so batches measure the append, not the drop path."""
        while self.agent.stats()["buffered"] > 20_000:
            time.sleep(0.05)

    # Each maker returns fn(n) that makes n instrumented calls of `target` and returns nothing.
    def loops(self, target) -> dict[str, object]:
        wrapped = self.observer(target)
        observer = self.observer
        otel, otel_exp = self.otel_hist.record, self.otel_exp_hist.record
        prom = self.prom_hist
        child = prom.labels(MODEL, VERSION)
        attrs = ATTRS
        clock = perf_counter_ns

        def a_bare(n):
            for i in range(n):
                target(i)

        def b_decorator(n):
            for i in range(n):
                wrapped(i)

        def c_context(n):
            for i in range(n):
                with observer:
                    target(i)

        def d_otel(n):
            for i in range(n):
                t0 = clock()
                target(i)
                otel((clock() - t0) * 1e-9, attrs)

        def d_otel_exponential(n):
            for i in range(n):
                t0 = clock()
                target(i)
                otel_exp((clock() - t0) * 1e-9, attrs)

        def e_prometheus(n):
            for i in range(n):
                t0 = clock()
                target(i)
                prom.labels(MODEL, VERSION).observe((clock() - t0) * 1e-9)

        def e_prometheus_cached_child(n):
            for i in range(n):
                t0 = clock()
                target(i)
                child.observe((clock() - t0) * 1e-9)

        return {"a_bare": a_bare, "b_observe_decorator": b_decorator, "c_observe_context": c_context,
                "d_otel_sdk": d_otel, "d_otel_sdk_exponential": d_otel_exponential,
                "e_prometheus": e_prometheus, "e_prometheus_cached_child": e_prometheus_cached_child}


# ---------------------------------------------------------------------------- part 1
def timed(fn, n: int) -> int:
    t0 = perf_counter_ns()
    fn(n)
    return perf_counter_ns() - t0


def summarize(added_ns: list[float]) -> dict:
    ordered = sorted(added_ns)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"median_ns": statistics.median(ordered), "p99_ns": p99, "batches": len(ordered)}


def blocked(inst: Instruments, loops: dict, batches: int) -> dict:
    """Per variant: `batches` batches, each paired with a bare batch right before it."""
    out = {}
    for name, fn in loops.items():
        if name == "a_bare":
            continue
        added = []
        for _ in range(batches):
            inst.wait_for_agent_buffer()
            base = timed(loops["a_bare"], BATCH)
            added.append((timed(fn, BATCH) - base) / BATCH)
        out[name] = summarize(added)
    return out


def interleaved(inst: Instruments, loops: dict, rounds: int, seed: int = 1) -> dict:
    """Every round times one (bare, variant) pair of batches per variant, pairs in a shuffled order.

    Pairing each variant with the bare batch right before it keeps the subtraction fair: a bare
    batch that follows an OTel batch runs on caches the OTel code has just evicted.
    """
    rng = random.Random(seed)
    names = [n for n in loops if n != "a_bare"]
    added: dict[str, list[float]] = {n: [] for n in names}
    bare_ns: list[float] = []
    for _ in range(rounds):
        inst.wait_for_agent_buffer()
        rng.shuffle(names)
        for n in names:
            base = timed(loops["a_bare"], BATCH)
            bare_ns.append(base / BATCH)
            added[n].append((timed(loops[n], BATCH) - base) / BATCH)
    out = {n: summarize(v) for n, v in added.items()}
    out["a_bare"] = {"median_ns": statistics.median(bare_ns), "note": "absolute ns per bare call"}
    return out


# ---------------------------------------------------------------------------- part 2
def cpu_per_call(inst: Instruments, name: str, threads: int, calls: int) -> dict:
    loop = inst.loops(work)[name]
    per_thread = calls // threads
    start = threading.Barrier(threads + 1)

    def run():
        start.wait()
        loop(per_thread)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    gc.collect()
    dropped0 = inst.agent.stats()["dropped"]
    c0, w0 = time.process_time(), time.perf_counter()
    start.wait()
    for w in workers:
        w.join()
    if name.startswith(("b_", "c_")):
        delivered = inst.agent.flush(10)
    elif name == "d_otel_sdk":
        delivered = inst.otel_provider.force_flush(10_000)
    elif name == "d_otel_sdk_exponential":
        delivered = inst.otel_exp_provider.force_flush(10_000)
    elif name.startswith("e_"):
        delivered = bool(generate_latest(inst.prom_registry))
    else:
        delivered = True
    c1, w1 = time.process_time(), time.perf_counter()
    n = per_thread * threads
    return {"cpu_ns_per_call": (c1 - c0) * 1e9 / n, "wall_s": w1 - w0, "calls": n, "flushed": bool(delivered),
            "agent_dropped": inst.agent.stats()["dropped"] - dropped0}


def machine() -> dict:
    versions = {}
    for pkg in ("opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http", "prometheus_client", "numpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    versions["inferwatch"] = inferwatch.__version__
    return {"cpu_count": os.cpu_count(), "python": sys.version.split()[0],
            "implementation": platform.python_implementation(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(), "packages": versions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches and calls (a smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    batches, rounds, cpu_calls = (40, 40, 20_000) if args.quick else (300, 300, 100_000)

    started = time.perf_counter()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        inst = Instruments(Path(tmp))
        try:
            loops = inst.loops(bare)
            for fn in loops.values():  # warm up every path (lazy series, label children, SDK storage)
                fn(2000)
            inst.agent.flush(5)
            print(f"part 1: added latency per call, batches of {BATCH}, {batches} batches / {rounds} rounds")
            res_blocked = blocked(inst, loops, batches)
            res_interleaved = interleaved(inst, loops, rounds)

            print("part 2: total CPU per call (background and final flush included)")
            cpu: dict[str, dict] = {}
            for threads in (1, 4, 16):
                for name in ("a_bare", "b_observe_decorator", "d_otel_sdk", "d_otel_sdk_exponential",
                             "e_prometheus"):
                    runs = [cpu_per_call(inst, name, threads, cpu_calls) for _ in range(3)]
                    best = sorted(runs, key=lambda r: r["cpu_ns_per_call"])[1]  # the median of 3
                    best["runs_cpu_ns_per_call"] = [r["cpu_ns_per_call"] for r in runs]
                    cpu.setdefault(name, {})[str(threads)] = best
            for per in cpu.values():
                for t, r in per.items():
                    r["added_cpu_ns_per_call"] = r["cpu_ns_per_call"] - cpu["a_bare"][t]["cpu_ns_per_call"]
            agent_stats = inst.agent.stats()
        finally:
            inst.close()

    b = res_interleaved["b_observe_decorator"]["median_ns"]
    d = res_interleaved["d_otel_sdk"]["median_ns"]
    d_exp = res_interleaved["d_otel_sdk_exponential"]["median_ns"]
    e = res_interleaved["e_prometheus"]["median_ns"]
    ratios = {"d_over_b": d / b, "d_exponential_over_b": d_exp / b, "e_over_b": e / b,
              "e_cached_child_over_b": res_interleaved["e_prometheus_cached_child"]["median_ns"] / b}
    b_blocked = res_blocked["b_observe_decorator"]["median_ns"]
    targets = {
        "decorator_median_le_500ns_interleaved": b <= TARGET_MEDIAN_NS,
        "decorator_median_le_500ns_blocked": b_blocked <= TARGET_MEDIAN_NS,
        "otel_sdk_ge_20x_decorator_interleaved": ratios["d_over_b"] >= TARGET_RATIO_OTEL,
        "otel_sdk_ge_20x_decorator_blocked":
            res_blocked["d_otel_sdk"]["median_ns"] / b_blocked >= TARGET_RATIO_OTEL,
        "decorator_below_prometheus": b < e and b_blocked < res_blocked["e_prometheus"]["median_ns"],
    }

    labels = {"b_observe_decorator": "(b) inferwatch @observe",
              "c_observe_context": "(c) inferwatch with observe",
              "d_otel_sdk": "(d) OTel SDK Histogram.record",
              "d_otel_sdk_exponential": "(d') OTel SDK exponential",
              "e_prometheus": "(e) prometheus labels().observe",
              "e_prometheus_cached_child": "(e') prometheus cached child"}
    print(f"\nbare call: {res_interleaved['a_bare']['median_ns']:.0f} ns")
    print(f"{'added ns per call':<34}{'interleaved med':>16}{'p99':>9}{'blocked med':>13}{'p99':>9}"
          f"{'x (b)':>8}")
    for key, label in labels.items():
        i, bl = res_interleaved[key], res_blocked[key]
        print(f"{label:<34}{i['median_ns']:>16.0f}{i['p99_ns']:>9.0f}{bl['median_ns']:>13.0f}{bl['p99_ns']:>9.0f}"
              f"{i['median_ns'] / b:>8.1f}")
    print(f"\n{'CPU ns per call (added over bare)':<34}{'1 thread':>12}{'4 threads':>12}{'16 threads':>12}")
    for key in ("b_observe_decorator", "d_otel_sdk", "d_otel_sdk_exponential", "e_prometheus"):
        cells = "".join(f"{cpu[key][t]['added_cpu_ns_per_call']:>12.0f}" for t in ("1", "4", "16"))
        print(f"{labels[key]:<34}{cells}")
    drops = {t: cpu["b_observe_decorator"][t]["agent_dropped"] for t in ("1", "4", "16")}
    print(f"{'  agent samples dropped':<34}" + "".join(f"{drops[t]:>12}" for t in ("1", "4", "16")))
    cells = "".join(f"{cpu['a_bare'][t]['cpu_ns_per_call']:>12.0f}" for t in ("1", "4", "16"))
    print(f"{'(bare work() itself, total)':<34}{cells}")
    print(f"\nratios: OTel/inferwatch {ratios['d_over_b']:.1f}x "
          f"(exponential {ratios['d_exponential_over_b']:.1f}x), "
          f"prometheus/inferwatch {ratios['e_over_b']:.1f}x")
    print(f"targets: {targets}")
    print(f"agent: dropped={agent_stats.get('dropped')} calls={agent_stats.get('calls')} "
          f"windows_sent={agent_stats.get('windows_sent')} "
          f"self-measured overhead={agent_stats.get('overhead_ns')} ns")

    result = {
        "benchmark": "agent_overhead",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quick": args.quick,
        "batch_calls": BATCH,
        "agent_endpoint": "tests/otlp_receiver.OtlpReceiver on 127.0.0.1 (OTLP/HTTP, gzip), interval_s=60",
        "added_latency_ns": {"interleaved": res_interleaved, "blocked": res_blocked},
        "cpu_per_call": {"function": "work(): 100-iteration Python loop", "by_variant_and_threads": cpu},
        "ratios": ratios,
        "targets": {"decorator_median_ns_max": TARGET_MEDIAN_NS,
                    "otel_over_decorator_min": TARGET_RATIO_OTEL},
        "targets_met": targets,
        "agent_stats": {k: agent_stats.get(k) for k in ("calls", "dropped", "windows_sent", "bytes_sent",
                                                        "export_failures", "overhead_ns")},
        "machine": {**machine(), "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
        "runtime_s": time.perf_counter() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out} "
          f"in {result['runtime_s']:.0f} s")


if __name__ == "__main__":
    main()
