"""Bytes on the wire per 60 s window per model: the inferwatch agent vs sending each call as an event.

Run: .venv/bin/python benchmarks/agent_bandwidth.py [--realtime]

Workload per model and window: 6,000 calls (100 calls/s for 60 s), latencies and confidences
drawn with fixed seeds from realistic shapes (below), 0.5% of calls failing with TimeoutError.

How the window is produced (default): a real Agent (interval_s=60) configured against a real
OTLP/HTTP receiver (tests/otlp_receiver.py, 127.0.0.1) is fed the window's 6,000 calls per model
with `Agent.record()` as fast as it takes them, then `flush()` closes the window. The request is
therefore the one a 60 s window produces, except that the RSS histogram holds the one or two
memory samples taken while feeding instead of ~60 (it costs a few bytes more in a real window).
`--realtime` instead paces the calls at 100/s per model for a full 60 s window (takes ~65 s).

Measured: the gzip'ed body size the agent actually sent (the request's Content-Length at the
receiver; cross-checked by re-gzipping the received body at level 6 and with the agent's own
`bytes_sent`), for 1 and 3 models per window; per model = window bytes / models, and the
marginal bytes of each further model = (3-model bytes - 1-model bytes) / 2.

Baselines for the same calls:
  * per-call OTLP requests: each call exported as its own ExportMetricsServiceRequest (same
    resource; one duration histogram point of count 1 plus one confidence gauge point), gzip'ed
    one by one at level 6 — what exporting every event as it happens costs;
  * raw events batched: one request per window holding one gauge point per call (duration, and
    confidence, each with its own timestamp and the model attributes), gzip'ed — the best case
    for shipping raw events.

Also a breakdown of what the agent's bytes are made of (gzip'ed size of the request without
each metric), and a what-if over the exponential histogram's bucket budget (the agent's
ExponentialHistogram default patched in this process only: 160 / 320 / 640 bucket limits)
with the resulting p99 error, so the bytes-vs-accuracy trade-off is visible.
Results: benchmarks/results/agent_bandwidth.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (  # noqa: E402
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue  # noqa: E402
from opentelemetry.proto.metrics.v1 import metrics_pb2  # noqa: E402

import inferwatch  # noqa: E402
from inferwatch.histogram import ExponentialHistogram, exponential_quantile  # noqa: E402
from tests.otlp_receiver import OtlpReceiver  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "agent_bandwidth.json"
CALLS = 6_000  # 100 calls/s x 60 s
ERROR_RATE = 0.005
TARGET_BYTES = 2048
DURATION = "inferwatch.inference.duration"
MODELS = {  # name: (latency sampler, confidence beta shape)
    "digits": (lambda rng, n: rng.lognormal(math.log(0.008), 0.5, n), (8.0, 2.0)),
    "resnet18": (lambda rng, n: np.where(rng.random(n) < 0.9, rng.lognormal(math.log(0.030), 0.25, n),
                                         rng.lognormal(math.log(0.120), 0.4, n)), (20.0, 1.5)),
    "bert-tiny": (lambda rng, n: rng.lognormal(math.log(0.015), 1.0, n), (5.0, 2.0)),
}


def workload(model: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    latency, shape = MODELS[model]
    return latency(rng, CALLS), rng.beta(*shape, CALLS), rng.random(CALLS) < ERROR_RATE


# ---------------------------------------------------------------------------- the agent
def agent_window(models: list[str], realtime: bool, tmp: Path) -> dict:
    """Send one window of `models` through a real agent; return what the receiver got."""
    receiver = OtlpReceiver().start()
    agent = inferwatch.Agent()
    agent.configure(service="digits-app", target="edge", endpoint=receiver.endpoint, device_id="pi-0042",
                    hardware="raspberry-pi-5", interval_s=60.0, spool_dir=tmp / f"spool-{len(models)}")
    data = {m: workload(m, seed) for seed, m in enumerate(models)}
    try:
        agent.flush(10)  # close the partial window that configure() opened
        before = len(receiver.raw_bodies)
        sent_before = agent.stats()["bytes_sent"]
        t0 = time.monotonic()
        for i in range(CALLS):
            for m in models:
                durations, confidences, failed = data[m]
                agent.record(m, "1.0", duration_s=float(durations[i]), confidence=float(confidences[i]),
                             error="TimeoutError" if failed[i] else None)
            if realtime:
                time.sleep(max(0.0, t0 + (i + 1) / 100.0 - time.monotonic()))
        assert agent.flush(10), "the window was not delivered"
        bodies = receiver.raw_bodies[before:]
        lengths = [int(h["Content-Length"]) for h in receiver.headers[before:]]
        stats = agent.stats()
        assert stats["dropped"] == 0
        requests = receiver.requests[before:]
        calls = sum(p.count for r in requests for rm in r.resource_metrics for sm in rm.scope_metrics
                    for metric in sm.metrics if metric.name == DURATION
                    for p in metric.exponential_histogram.data_points)
        assert calls == CALLS * len(models), calls
        return {"requests": len(bodies), "gzip_bytes": sum(lengths),
                "regzip_level6_bytes": sum(len(gzip.compress(b, 6)) for b in bodies),
                "raw_bytes": sum(len(b) for b in bodies),
                "agent_bytes_sent": stats["bytes_sent"] - sent_before,
                "window_s": time.monotonic() - t0, "request": requests[-1], "data": data}
    finally:
        agent.shutdown(timeout_s=2.0)
        receiver.stop()


def _gz(request: ExportMetricsServiceRequest) -> int:
    return len(gzip.compress(request.SerializeToString(), 6))


def breakdown(request: ExportMetricsServiceRequest) -> list[dict]:
    """Marginal gzip'ed bytes of each metric (and of the resource): size without it, subtracted."""
    full = len(gzip.compress(request.SerializeToString(), 6))
    out = []
    names = [m.name for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics]
    for name in names:
        r = ExportMetricsServiceRequest()
        r.CopyFrom(request)
        for rm in r.resource_metrics:
            for sm in rm.scope_metrics:
                keep = [m for m in sm.metrics if m.name != name]
                del sm.metrics[:]
                sm.metrics.extend(keep)
        out.append({"part": name, "gzip_bytes": full - len(gzip.compress(r.SerializeToString(), 6))})
    r = ExportMetricsServiceRequest()
    r.CopyFrom(request)
    for rm in r.resource_metrics:
        del rm.resource.attributes[:]
    out.append({"part": "resource attributes", "gzip_bytes": full - _gz(r)})
    r = ExportMetricsServiceRequest()
    r.CopyFrom(request)
    for rm in r.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                m.description = ""
    out.append({"part": "metric descriptions", "gzip_bytes": full - _gz(r)})
    return sorted(out, key=lambda x: -x["gzip_bytes"])


# ---------------------------------------------------------------------------- baselines
def _kv(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _resource_metrics(template: ExportMetricsServiceRequest) -> metrics_pb2.ResourceMetrics:
    rm = metrics_pb2.ResourceMetrics()
    rm.resource.CopyFrom(template.resource_metrics[0].resource)
    sm = rm.scope_metrics.add()
    sm.scope.name = "inferwatch"
    return rm


def per_call_requests(template, data: dict, t0_ns: int) -> int:
    """Sum of gzip'ed sizes when every call is its own OTLP request."""
    total = 0
    for model, (durations, confidences, failed) in data.items():
        for i in range(CALLS):
            request = ExportMetricsServiceRequest()
            rm = _resource_metrics(template)
            sm = rm.scope_metrics[0]
            when = t0_ns + i * 10_000_000
            attrs = [_kv("inferwatch.model.name", model), _kv("inferwatch.model.version", "1.0")]
            if failed[i]:
                attrs.append(_kv("error.type", "TimeoutError"))
            m = sm.metrics.add(name=DURATION, unit="s")
            m.histogram.aggregation_temporality = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
            p = m.histogram.data_points.add(start_time_unix_nano=when, time_unix_nano=when, count=1,
                                            sum=float(durations[i]), min=float(durations[i]),
                                            max=float(durations[i]))
            p.attributes.extend(attrs)
            c = sm.metrics.add(name="inferwatch.inference.confidence", unit="1")
            g = c.gauge.data_points.add(time_unix_nano=when, as_double=float(confidences[i]))
            g.attributes.extend(attrs[:2])
            request.resource_metrics.append(rm)
            total += len(gzip.compress(request.SerializeToString(), 6))
    return total


def batched_events(template, data: dict, t0_ns: int) -> int:
    """Gzip'ed size of one request holding one gauge point per call (duration and confidence)."""
    request = ExportMetricsServiceRequest()
    rm = _resource_metrics(template)
    sm = rm.scope_metrics[0]
    dm = sm.metrics.add(name=DURATION, unit="s")
    cm = sm.metrics.add(name="inferwatch.inference.confidence", unit="1")
    for model, (durations, confidences, failed) in data.items():
        for i in range(CALLS):
            when = t0_ns + i * 10_000_000
            attrs = [_kv("inferwatch.model.name", model), _kv("inferwatch.model.version", "1.0")]
            p = dm.gauge.data_points.add(time_unix_nano=when, as_double=float(durations[i]))
            p.attributes.extend(attrs + ([_kv("error.type", "TimeoutError")] if failed[i] else []))
            c = cm.gauge.data_points.add(time_unix_nano=when, as_double=float(confidences[i]))
            c.attributes.extend(attrs)
    request.resource_metrics.append(rm)
    return len(gzip.compress(request.SerializeToString(), 6))


# ---------------------------------------------------------------------------- what-if
def p99_error(request, data: dict) -> float:
    """Worst relative p99 error over the models' successful-call duration points."""
    worst = 0.0
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name != DURATION:
                    continue
                for p in m.exponential_histogram.data_points:
                    attrs = {kv.key: kv.value.string_value for kv in p.attributes}
                    if "error.type" in attrs:
                        continue
                    durations, _, failed = data[attrs["inferwatch.model.name"]]
                    ok = durations[~failed]
                    est = exponential_quantile(p.scale, p.zero_count, p.positive.offset,
                                               list(p.positive.bucket_counts), 0.99, p.min, p.max)
                    worst = max(worst, abs(est / float(np.quantile(ok, 0.99)) - 1.0))
    return worst


def scales(request) -> list[tuple[str, int, int]]:
    """(model[/error.type], scale, buckets) of every duration point."""
    def label(p) -> str:
        a = {kv.key: kv.value.string_value for kv in p.attributes}
        return a.get("inferwatch.model.name", "?") + (f"/{a['error.type']}" if "error.type" in a else "")

    return [(label(p), p.scale, len(p.positive.bucket_counts))
            for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
            if m.name == DURATION for p in m.exponential_histogram.data_points]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realtime", action="store_true", help="pace 100 calls/s for a real 60 s window")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started = time.perf_counter()
    names = list(MODELS)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 3):
            w = agent_window(names[:n], args.realtime, Path(tmp))
            t0 = w["request"].resource_metrics[0].scope_metrics[0].metrics[0]
            t0_ns = (t0.exponential_histogram.data_points[0].start_time_unix_nano
                     if t0.WhichOneof("data") == "exponential_histogram" else time.time_ns())
            results[str(n)] = {
                "models": names[:n],
                "agent": {k: w[k] for k in ("requests", "gzip_bytes", "regzip_level6_bytes", "raw_bytes",
                                            "agent_bytes_sent", "window_s")},
                "agent_per_model_bytes": w["gzip_bytes"] / n,
                "duration_points": [{"model": m, "scale": s, "buckets": b}
                                    for m, s, b in scales(w["request"])],
                "per_call_requests_bytes": per_call_requests(w["request"], w["data"], t0_ns),
                "raw_events_batched_bytes": batched_events(w["request"], w["data"], t0_ns),
                "breakdown_gzip_bytes": breakdown(w["request"]),
                "p99_max_rel_error": p99_error(w["request"], w["data"]),
            }

        # What-if: the agent's histogram bucket budget (patched in this process only).
        what_if = {}
        defaults = ExponentialHistogram.__init__.__defaults__
        try:
            for budget in (160, 320, 640):
                ExponentialHistogram.__init__.__defaults__ = (budget, *defaults[1:])
                w = agent_window(names, False, Path(tmp) / f"b{budget}")
                what_if[str(budget)] = {"per_model_bytes": w["gzip_bytes"] / len(names),
                                        "duration_points": [{"model": m, "scale": s, "buckets": b}
                                                            for m, s, b in scales(w["request"])],
                                        "p99_max_rel_error": p99_error(w["request"], w["data"])}
        finally:
            ExponentialHistogram.__init__.__defaults__ = defaults

    one, three = results["1"], results["3"]
    marginal = (three["agent"]["gzip_bytes"] - one["agent"]["gzip_bytes"]) / 2
    targets = {"per_model_1_model_le_2KB": one["agent_per_model_bytes"] <= TARGET_BYTES,
               "per_model_3_models_le_2KB": three["agent_per_model_bytes"] <= TARGET_BYTES}

    print(f"one window = {CALLS} calls per model (100 calls/s x 60 s), {ERROR_RATE:.1%} errors; "
          f"{'paced in real time' if args.realtime else 'fed with record() then flush()'}")
    print(f"{'bytes per window (gzip level 6)':<44}{'1 model':>12}{'3 models':>12}")
    rows = [
        ("inferwatch agent, whole request", one["agent"]["gzip_bytes"], three["agent"]["gzip_bytes"]),
        ("inferwatch agent, per model", one["agent_per_model_bytes"], three["agent_per_model_bytes"]),
        ("  (raw protobuf, before gzip, per model)", one["agent"]["raw_bytes"],
         three["agent"]["raw_bytes"] / 3),
        ("per-call OTLP requests, per model", one["per_call_requests_bytes"],
         three["per_call_requests_bytes"] / 3),
        ("raw events in one request, per model", one["raw_events_batched_bytes"],
         three["raw_events_batched_bytes"] / 3),
    ]
    for label, a, b in rows:
        print(f"{label:<44}{a:>12,.0f}{b:>12,.0f}")
    print(f"marginal bytes per further model: {marginal:,.0f}")
    agent_bytes = one["agent"]["gzip_bytes"]
    print(f"reduction vs per-call requests: {one['per_call_requests_bytes'] / agent_bytes:,.0f}x "
          f"(1 model), vs raw events batched: "
          f"{one['raw_events_batched_bytes'] / agent_bytes:,.0f}x")
    print(f"cross-checks (1 model): re-gzip {one['agent']['regzip_level6_bytes']} B, "
          f"agent bytes_sent {one['agent']['agent_bytes_sent']} B")
    print("\nwhat the 3-model request is made of (gzip'ed bytes it would lose without each part):")
    for part in three["breakdown_gzip_bytes"]:
        print(f"  {part['part']:<42}{part['gzip_bytes']:>8}")
    print("\nwhat-if bucket budget (3 models):")
    print(f"  {'max_buckets':<12}{'bytes/model':>12}{'worst p99 err':>15}  scales (buckets)")
    for budget, r in what_if.items():
        sc = ", ".join(f"{d['model']}:{d['scale']}({d['buckets']})" for d in r["duration_points"])
        print(f"  {budget:<12}{r['per_model_bytes']:>12,.0f}{r['p99_max_rel_error']:>15.2%}  {sc}")
    print(f"\ntargets: {targets}")

    result = {
        "benchmark": "agent_bandwidth",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "method": ("realtime: 100 calls/s per model paced for 60 s" if args.realtime else
                   "record() a window's worth of calls then flush(); RSS histogram has fewer samples than a "
                   "real 60 s window"),
        "calls_per_model_per_window": CALLS,
        "error_rate": ERROR_RATE,
        "by_models_per_window": results,
        "marginal_bytes_per_further_model": marginal,
        "what_if_max_buckets": what_if,
        "target_bytes_per_model": TARGET_BYTES,
        "targets_met": targets,
        "runtime_s": time.perf_counter() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out} in {result['runtime_s']:.0f} s")


if __name__ == "__main__":
    main()
