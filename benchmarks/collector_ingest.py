"""Collector ingest throughput: points/s through HTTP (a real collector process) vs the in-process ceiling.

Requests are what our agent sends per window and device (3 models: exponential duration histograms
for successes and one error type, a 200-bucket confidence histogram, a memory histogram, 11 self-telemetry
sums, 3 gauges), gzip'ed. Two shapes: one device-window per request (an agent), and 40 device-windows
per request (a gateway such as an OTel Collector forwarding a fleet). Clients send for --seconds; the rate
counts until every acknowledged point is committed to DuckDB (the WAL acknowledges before the writer
catches up, so the acknowledged rate alone can exceed what the collector sustains). The ceiling decodes
the first ~150,000 histogram points' bodies and writes them to DuckDB in the same batch sizes without
HTTP or WAL, on one thread.

    .venv/bin/python benchmarks/collector_ingest.py [--seconds 10] [--clients 6] [--decode-workers N]
        [--batch-points N] [--max-queue-points N] [--decode-min-kb KB]

Collector options left out take the collector's defaults; the ceiling writes in the collector's batch size.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from inferwatch.histogram import CONFIDENCE_BOUNDS, ExponentialHistogram, LinearHistogram

MINUTE = 60 * 10**9
DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
RESULTS = Path(__file__).parent / "results" / "collector_ingest.json"


def kv(k, v):
    return KeyValue(key=k, value=AnyValue(string_value=v))


def _exp(m, h, attrs, start):
    p = m.exponential_histogram.data_points.add()
    p.attributes.extend([kv(k, v) for k, v in attrs.items()])
    p.start_time_unix_nano, p.time_unix_nano = start, start + MINUTE
    offset, counts = h.dense()
    p.count, p.sum, p.scale, p.zero_count = h.count, h.sum, h.scale, h.zero_count
    p.positive.offset = offset
    p.positive.bucket_counts.extend(counts)
    p.min, p.max = h.min, h.max


def device_window(req, device: str, start: int, rng: random.Random) -> int:
    """Append one agent window to req; returns its histogram point count."""
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(
        [
            kv("service.name", "bench-app"),
            kv("device.id", device),
            kv("host.name", device),
            kv("inferwatch.target", "edge"),
            kv("inferwatch.hardware", "raspberry-pi-5"),
        ]
    )
    metrics = rm.scope_metrics.add().metrics
    dur = metrics.add()
    dur.name, dur.unit = "inferwatch.inference.duration", "s"
    dur.exponential_histogram.aggregation_temporality = DELTA
    conf = metrics.add()
    conf.name, conf.unit = "inferwatch.inference.confidence", "1"
    conf.histogram.aggregation_temporality = DELTA
    hist_points = 0
    for model in ("digits", "resnet", "bert"):
        attrs = {"inferwatch.model.name": model, "inferwatch.model.version": "1.0"}
        ok = ExponentialHistogram()
        ok.add_many(rng.lognormvariate(-4, 0.6) for _ in range(600))
        _exp(dur, ok, attrs, start)
        bad = ExponentialHistogram()
        bad.add_many(rng.lognormvariate(-3, 0.3) for _ in range(6))
        _exp(dur, bad, {**attrs, "error.type": "TimeoutError"}, start)
        c = LinearHistogram()
        c.add_many(rng.betavariate(8, 2) for _ in range(600))
        p = conf.histogram.data_points.add()
        p.attributes.extend([kv(k, v) for k, v in attrs.items()])
        p.start_time_unix_nano, p.time_unix_nano = start, start + MINUTE
        p.count, p.sum, p.min, p.max = c.count, c.sum, c.min, c.max
        p.bucket_counts.extend(c.counts)
        p.explicit_bounds.extend(CONFIDENCE_BOUNDS)
        hist_points += 3
    mem = metrics.add()
    mem.name, mem.unit = "inferwatch.process.memory.usage", "By"
    mem.exponential_histogram.aggregation_temporality = DELTA
    mh = ExponentialHistogram()
    mh.add_many(rng.gauss(300e6, 5e6) for _ in range(60))
    _exp(mem, mh, {}, start)
    hist_points += 1
    for i in range(11):
        s = metrics.add()
        s.name = f"inferwatch.agent.counter{i}"
        s.sum.aggregation_temporality, s.sum.is_monotonic = DELTA, True
        p = s.sum.data_points.add()
        p.start_time_unix_nano, p.time_unix_nano, p.as_int = start, start + MINUTE, rng.randrange(1000)
    for i in range(3):
        g = metrics.add()
        g.name = f"inferwatch.agent.gauge{i}"
        p = g.gauge.data_points.add()
        p.start_time_unix_nano, p.time_unix_nano, p.as_double = start, start + MINUTE, rng.random()
    return hist_points


def _retime(rm, device: str, start: int) -> None:
    """Point a copied window at another device and minute."""
    for kv_ in rm.resource.attributes:
        if kv_.key in ("device.id", "host.name"):
            kv_.value.string_value = device
    for m in rm.scope_metrics[0].metrics:
        for p in getattr(m, m.WhichOneof("data")).data_points:
            p.start_time_unix_nano, p.time_unix_nano = start, start + MINUTE


def build_bodies(
    n_requests: int, devices_per_request: int, seed: int, pool: int = 40
) -> tuple[list[bytes], int, int]:
    """Distinct gzip'ed requests; returns (bodies, histogram points per request, all points per request).

    `pool` windows are drawn at random, then copied to every device and minute (1,000 devices, window k
    of a shape is device k % 1000 in minute k // 1000): every request is new to the collector, and
    drawing ~2,000 values per window for all of them would take longer than the run."""
    rng = random.Random(seed)
    now = time.time_ns()
    base = now - now % MINUTE - 6 * 60 * MINUTE
    templates = []
    for _ in range(pool):
        req = ExportMetricsServiceRequest()
        hist = device_window(req, "template", base, rng)
        templates.append(req.resource_metrics[0])
    per_window = sum(
        len(getattr(m, m.WhichOneof("data")).data_points) for m in templates[0].scope_metrics[0].metrics
    )
    bodies = []
    for r in range(n_requests):
        req = ExportMetricsServiceRequest()
        for d in range(devices_per_request):
            k = r * devices_per_request + d
            rm = req.resource_metrics.add()
            rm.CopyFrom(templates[rng.randrange(pool)])
            _retime(rm, f"dev-{seed}-{k % 1000}", base + (k // 1000) * MINUTE)
        # level 6, zlib's default (level 9 takes 10x longer here for 4 % fewer bytes)
        bodies.append(gzip.compress(req.SerializeToString(), compresslevel=6))
    return bodies, hist * devices_per_request, per_window * devices_per_request


def ceiling(bodies: list[bytes], hist_per_req: int, batch_points: int = 50_000) -> float:
    """Histogram points/s for decode + Arrow + DuckDB insert, no HTTP, no WAL (one thread)."""
    import gc

    from inferwatch.collector.otlp_decode import decode_request
    from inferwatch.collector.store import Store

    gc.set_threshold(200_000, 50, 1000)  # as the collector does
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(os.path.join(tmp, "ceiling.duckdb"))
        # Warm up what the first insert imports lazily (DuckDB's Arrow scan pulls in pandas, ~2 s here),
        # which a running collector has paid long before: the ceiling measures steady-state work.
        import pyarrow as pa

        store.con.register("iw_warm", pa.table({"x": [1]}))
        store.con.execute("SELECT * FROM iw_warm").fetchall()
        store.con.unregister("iw_warm")
        started = time.perf_counter()
        inference, metrics = [], []
        seq = 0
        for body in bodies:
            _, decoded = decode_request(gzip.decompress(body), False)
            inference += decoded.inference
            metrics += decoded.metrics
            seq += 1
            if len(inference) + len(metrics) >= batch_points:
                store.write(inference, metrics, seq, {}, time.time_ns())
                inference, metrics = [], []
        if inference or metrics:
            store.write(inference, metrics, seq, {}, time.time_ns())
        elapsed = time.perf_counter() - started
        store.close()
    return len(bodies) * hist_per_req / elapsed


def load(port: int, bodies: list[bytes], clients: int, seconds: float) -> tuple[int, float, list, dict]:
    """Send bodies from `clients` keep-alive connections; (requests ok, elapsed, latencies, failures by HTTP
    status or exception name)."""
    lock = threading.Lock()
    it = iter(bodies)
    latencies: list[float] = []
    ok = [0]
    kinds: dict[str, int] = {}
    deadline = time.monotonic() + seconds

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.monotonic() < deadline:
            with lock:
                body = next(it, None)
            if body is None:
                return
            t0 = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    "/v1/metrics",
                    body,
                    {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
                )
                r = conn.getresponse()
                r.read()
            except (OSError, http.client.HTTPException) as exc:  # the server closed the connection: reconnect
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                with lock:
                    kinds[type(exc).__name__] = kinds.get(type(exc).__name__, 0) + 1
                continue
            dt = time.perf_counter() - t0
            with lock:
                latencies.append(dt)
                if r.status == 200:
                    ok[0] += 1
                else:
                    kinds[str(r.status)] = kinds.get(str(r.status), 0) + 1
                    if r.status == 503:
                        time.sleep(float(r.getheader("Retry-After", "1")))

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return ok[0], time.monotonic() - started, latencies, kinds


def run_shape(
    name: str,
    devices_per_request: int,
    clients: int,
    seconds: float,
    collector_args: list[str],
    batch_points: int,
) -> dict:
    n_requests = int(seconds * 80_000 / (10 * devices_per_request))  # enough for 80,000 hist points/s
    bodies, hist_per_req, points_per_req = build_bodies(
        n_requests, devices_per_request, seed=devices_per_request
    )
    with tempfile.TemporaryDirectory() as tmp:
        port = 43000 + devices_per_request
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from inferwatch.cli import main; main()",
                "collector",
                "--db",
                os.path.join(tmp, "bench.duckdb"),
                "--port",
                str(port),
                *collector_args,
            ],
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    c.request("GET", "/healthz")
                    if c.getresponse().status == 200:
                        break
                except OSError:
                    time.sleep(0.1)
            started = time.monotonic()
            ok, elapsed, lat, failed = load(port, bodies, clients, seconds)
            # sustained = until everything acknowledged is committed to DuckDB: the WAL acknowledges
            # first and the writer may still hold up to --max-queue-points when the load stops
            stats = {}
            for _ in range(6000):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/healthz")
                stats = json.loads(c.getresponse().read())
                if stats["queue_points"] == 0:
                    break
                time.sleep(0.02)
            committed = time.monotonic() - started
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    lat.sort()
    http_rate = ok * hist_per_req / committed
    # the ceiling on the first ~150,000 histogram points sent (caches warm after the first minute's windows)
    ceil = ceiling(bodies[: max(1, min(ok, 150_000 // hist_per_req))], hist_per_req, batch_points)
    return {
        "shape": name,
        "devices_per_request": devices_per_request,
        "hist_points_per_request": hist_per_req,
        "points_per_request": points_per_req,
        "requests_ok": ok,
        "requests_failed": sum(failed.values()),
        "failures": failed,
        "seconds": round(elapsed, 2),
        "seconds_until_committed": round(committed, 2),
        "hist_points_per_s": round(http_rate),
        "all_points_per_s": round(ok * points_per_req / committed),
        "acknowledged_hist_points_per_s": round(ok * hist_per_req / elapsed),
        "ceiling_hist_points_per_s": round(ceil),
        "ratio_to_ceiling": round(http_rate / ceil, 3),
        "latency_p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else None,
        "latency_p99_ms": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 2) if lat else None,
        "clients": clients,
        "collector_args": collector_args,
        "decode_workers": stats.get("decode_workers"),
        "requests_decoded_in_workers": stats.get("requests_decoded_in_workers"),
        "points_written": stats.get("points_written"),
        "batches": stats.get("batches"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--decode-workers", type=int, default=None, help="collector default if left out")
    ap.add_argument("--batch-points", type=int, default=None, help="collector default if left out")
    ap.add_argument("--max-queue-points", type=int, default=None, help="collector default if left out")
    ap.add_argument("--decode-min-kb", type=float, default=None, help="collector default if left out")
    ap.add_argument("--shapes", default="gateway,agent", help="comma-separated: gateway, agent")
    args = ap.parse_args()
    from inferwatch.collector.service import CollectorSettings

    collector_args = []
    for flag, value in (
        ("--decode-workers", args.decode_workers),
        ("--batch-points", args.batch_points),
        ("--max-queue-points", args.max_queue_points),
        ("--decode-min-kb", args.decode_min_kb),
    ):
        if value is not None:
            collector_args += [flag, str(value)]
    batch_points = args.batch_points or CollectorSettings.batch_points
    shapes = {
        "gateway": ("gateway (40 device-windows per request)", 40),
        "agent": ("agent (1 device-window per request)", 1),
    }
    rows = [
        run_shape(*shapes[s.strip()], args.clients, args.seconds, collector_args, batch_points)
        for s in args.shapes.split(",")
    ]
    doc = {
        "machine": f"{os.cpu_count()} cores",
        "python": sys.version.split()[0],
        "collector_args": collector_args,
        "results": rows,
        "target": {"hist_points_per_s": 50_000, "ratio_to_ceiling": 0.7},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    head = f"{'shape':42} {'hist pts/s':>11} {'(acked)':>9} {'ceiling':>9} {'ratio':>6}"
    head += f" {'p50 ms':>7} {'p99 ms':>7} {'req ok':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['shape']:42} {r['hist_points_per_s']:>11,} {r['acknowledged_hist_points_per_s']:>9,} "
            f"{r['ceiling_hist_points_per_s']:>9,} "
            f"{r['ratio_to_ceiling']:>6.2f} {r['latency_p50_ms']:>7} {r['latency_p99_ms']:>7}"
            f" {r['requests_ok']:>7}"
        )
    print(f"collector: {' '.join(collector_args) or 'defaults'}; wrote {RESULTS}")


if __name__ == "__main__":
    main()
