"""OTLP/protobuf decode alone: µs per histogram point through upb, the Python wire walker and the C path.

The bodies are collector_ingest.py's (gzip'ed there, decompressed here before timing): gateway requests
(40 device-windows, each 10 histogram points and 14 number points) and agent requests (1 device-window).
Each decoder turns every body into its row tuples (`otlp_decode.Decoded`), with warm caches as in a
running collector:

- upb: `ExportMetricsServiceRequest.FromString` + `otlp_decode.decode_message` (the general path);
- walker: `otlp_wire._walk`, the Python wire walker (what `decode_wire` runs without the C path);
- compiled: `inferwatch.collector._wire.decode` (collector/_wire.c), checked to read every body.

Rounds interleave the decoders; the figure is the best round (the machine is shared), all rounds are
in the JSON. Target: compiled ≤ 5 µs per histogram point in both shapes.

    .venv/bin/python benchmarks/decode_speed.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import sys
import time
from pathlib import Path

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from inferwatch.collector import otlp_wire
from inferwatch.collector.otlp_decode import decode_message

sys.path.insert(0, str(Path(__file__).parent))
from collector_ingest import build_bodies

RESULTS = Path(__file__).parent / "results" / "decode_speed.json"
TARGET_US = 5.0


def _upb(body: bytes):
    return decode_message(ExportMetricsServiceRequest.FromString(body))


def decoders() -> dict:
    """Name -> function of a body; compiled only when the C path is built."""
    out = {"upb": _upb, "walker": otlp_wire._walk}
    if otlp_wire.COMPILED:
        from inferwatch.collector import _wire

        out["compiled"] = _wire.decode
    return out


def run_shape(label: str, devices: int, n_requests: int, rounds: int) -> dict:
    """Best and all rounds' µs per histogram point of each decoder for one request shape."""
    bodies, hist, allp = build_bodies(n_requests, devices, seed=1)
    raw = [gzip.decompress(b) for b in bodies]
    fns = decoders()
    for name, fn in fns.items():  # warm the caches; every decoder reads every body to the same rows
        for body in raw:
            got = fn(body)
            assert got is not None, f"{name} gave up on a benchmark body"
            assert got.points == allp and not got.rejected, name
    times: dict[str, list[float]] = {name: [] for name in fns}
    gc.collect()
    for _ in range(rounds):
        for name, fn in fns.items():
            started = time.perf_counter()
            for body in raw:
                fn(body)
            times[name].append((time.perf_counter() - started) / (len(raw) * hist) * 1e6)
    best = {name: round(min(t), 2) for name, t in times.items()}
    row = {
        "shape": label,
        "requests": len(raw),
        "hist_points_per_request": hist,
        "points_per_request": allp,
        "us_per_hist_point": best,
        "us_per_hist_point_rounds": {name: [round(x, 2) for x in t] for name, t in times.items()},
    }
    if "compiled" in best:
        row["speedup_vs_walker"] = round(best["walker"] / best["compiled"], 1)
        row["speedup_vs_upb"] = round(best["upb"] / best["compiled"], 1)
        row["target_met"] = best["compiled"] <= TARGET_US
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    rows = [
        run_shape("gateway (40 device-windows per request)", 40, 100, args.rounds),
        run_shape("agent (1 device-window per request)", 1, 2000, args.rounds),
    ]
    doc = {
        "machine": f"{os.cpu_count()} cores",
        "python": sys.version.split()[0],
        "compiled": otlp_wire.COMPILED,
        "results": rows,
        "target": {"compiled_us_per_hist_point": TARGET_US},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(doc, indent=2) + "\n")
    head = f"{'shape':42} {'upb':>7} {'walker':>7} {'compiled':>9}  (µs per histogram point, best round)"
    print(head)
    print("-" * len(head))
    for r in rows:
        us = r["us_per_hist_point"]
        print(f"{r['shape']:42} {us['upb']:>7} {us['walker']:>7} {us.get('compiled', '-'):>9}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
