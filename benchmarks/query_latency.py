"""Named-query latency on a month of a 1,000-device fleet, as the collector's default retention leaves it.

Shape (what `inferwatch collector` keeps by default after a month): 1-minute windows for the latest
48 hours (raw `inference_points` + memory `metric_points`) and hourly rollups for 30 days, for
1,000 devices (600 edge on 4 hardware kinds, 400 cloud on 3) × 3 models; each model rolls out a second
version over the last week (10 % of devices at -7 d, 25 % at -5 d, 50 % at -3 d, 80 % at -1 d); ~1.5 %
of series-minutes also carry an error latency point.

How it is generated, through the collector's own storage layer:

1. Pools of agent-shaped points in the decoder's row format (`otlp_decode.Decoded`: exponential
   duration histograms at scale 6, 200-bucket confidence histograms, exponential RSS histograms),
   4 variants per device × model × version, are turned into Arrow tables by the Store's own builders
   (`Store._inference_table`, `Store._metric_table`: canonical re-bucketing, trimming, dictionary columns).
2. Raw: each minute of the last 48 hours picks one pool row per series (random variant, the version the
   device runs then), the window timestamps are set, and one hour (~360k rows) at a time is inserted
   with `Store._insert` (the de-duplicating anti-join insert of `Store.write`) in one transaction.
   (`Store.write` itself takes Python tuples; feeding it 17 M of them would take most of an hour on this
   machine while exercising the same insert.)
3. `Store.rollup()` rolls up the newest complete hour exactly as the collector's writer does (timed,
   reported as store_rollup_one_hour_s); every other hour of the 30 days gets `inference_rollup_1h` rows
   built directly — histograms of 60 minutes' worth of samples per device × model × version
   (2 variants) through the Store's `hist_array`, memory sums of 60 windows — since rolling up 48 raw
   hours here would take ~10 minutes and older raw windows are what retention deletes anyway.

4. The fleet rollups (minutes, hours, days), error types per hour and device hours are built from what is
   stored by `rollups.build_all` — what the schema 1 → 2 migration runs on an existing database — and
   `Store.rollup_minutes()` is timed on the newest minute as the writer runs it every few seconds.

Before timing, the database is put in the state a live collector leaves between two maintenance runs:
the current hour not rolled up yet (in `rollup_dirty`) and its newest minute not in the fleet minutes
(`rollup_dirty_1m`), so the queries pay for reading fresh points (`--settled` times without that).
An existing schema-1 file given with `--reuse` is migrated when the Store opens it (timed, recorded).

Then every named query runs with since = -6h (read from fleet minutes), -24h, -7d, -30d (relative to the
generation's "now"), `--reps` times after one warm-up, through `inferwatch.queries.run(..., DuckDBSource)`.

    .venv/bin/python benchmarks/query_latency.py [--db PATH] [--reuse] [--reps 7]
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

RESULTS = Path(__file__).parent / "results" / "query_latency.json"
MIN_NS = 60 * 10**9
HOUR_NS = 3600 * 10**9
TARGET_MS = 300.0

MODELS = [  # name, base median latency (s), (old, new) version, new-version latency factor per hardware
    ("digits", 0.004, ("1.4.0", "1.5.0"), {}),
    ("detector", 0.035, ("3.2.1", "3.3.0"), {"raspberry-pi-5": 1.12}),
    ("ranker", 0.012, ("0.9.0", "1.0.0"), {}),
]
EDGE_HW = {"raspberry-pi-5": 3.0, "jetson-orin-nano": 1.0, "intel-nuc-12": 1.5, "rockchip-rk3588": 2.0}
CLOUD_HW = {"nvidia-t4": 0.4, "nvidia-a10g": 0.25, "cpu-c7i": 1.2}
ROLLOUT = [(-7 * 24, 10), (-5 * 24, 25), (-3 * 24, 50), (-24, 80)]  # (hours from now, % of devices on v2)
VARIANTS = 4
CONF_BOUNDS = tuple(round(i * 0.005, 3) for i in range(1, 200))


def sid(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest(), "little")


def fleet(n_devices: int) -> list[dict]:
    out = []
    n_edge = n_devices * 6 // 10
    for i in range(n_devices):
        edge = i < n_edge
        hws = list(EDGE_HW) if edge else list(CLOUD_HW)
        hw = hws[i % len(hws)]
        target = "edge" if edge else "cloud"
        device = f"{target}-{i:04d}"
        service = "vision-edge" if edge else "vision-api"
        attrs = {"service.name": service, "device.id": device, "inferwatch.target": target,
                 "inferwatch.hardware": hw}
        res = (service, device, target, hw, json.dumps(attrs, sort_keys=True))
        out.append({"i": i, "cohort": i % 100, "target": target, "hw": hw, "res": res,
                    "hw_factor": (EDGE_HW | CLOUD_HW)[hw], "calls": 60 if edge else 600,
                    "rss": (180e6 if edge else 900e6) * (1 + (i % 7) / 10)})
    return out


def pct_v2(hours_from_now: float) -> int:
    pct = 0
    for h, p in ROLLOUT:
        if hours_from_now >= h:
            pct = p
    return pct


def exp_hist(values: np.ndarray, scale: int) -> tuple:
    idx = np.ceil(np.log2(values) * (1 << scale)).astype(np.int64) - 1
    off = int(idx.min())
    counts = np.bincount(idx - off)
    return ("exp", scale, off, counts.tolist(), 0, len(values), float(values.sum()), float(values.min()),
            float(values.max()))


def conf_hist(values: np.ndarray) -> tuple:
    j = np.clip(np.ceil(values / 0.005 - 1e-9).astype(np.int64) - 1, 0, 199)
    counts = np.bincount(j, minlength=200)
    return ("explicit", CONF_BOUNDS, counts.tolist(), len(values), float(values.sum()), float(values.min()),
            float(values.max()))


def latencies(rng, n: int, median: float) -> np.ndarray:
    v = median * np.exp(rng.normal(0, 0.35, n))
    tail = rng.random(n) < 0.03
    v[tail] *= rng.uniform(2, 6, tail.sum())
    return v


def confidences(rng, n: int, mean: float) -> np.ndarray:
    return np.clip(rng.beta(mean * 20, (1 - mean) * 20, n), 1e-4, 1.0)


class Pools:
    """Pool rows (Arrow, built by the Store) and how to find the row of a series, version and variant."""

    def __init__(self, store, devices: list[dict], rng: np.random.Generator, minutes: int) -> None:
        inf_rows, mem_rows = [], []
        self.minutes = minutes
        nd, nm = len(devices), len(MODELS)
        # lat row of (device d, model m, version v, variant r) = ((d*nm + m)*2 + v)*(2*VARIANTS+1) + r,
        # conf row = that + VARIANTS, error row = base + 2*VARIANTS
        self.stride = 2 * VARIANTS + 1
        hourly = []
        for d in devices:
            for m, (model, base, versions, regress) in enumerate(MODELS):
                for v, version in enumerate(versions):
                    median = base * d["hw_factor"] * (regress.get(d["hw"], 1.0) if v else 1.0)
                    cmean = 0.9 - 0.02 * m + (0.005 if v else 0)
                    attrs = (model, version)
                    lat_sid = sid(*d["res"][:2], "lat", *attrs)
                    conf_sid = sid(*d["res"][:2], "conf", *attrs)
                    err_sid = sid(*d["res"][:2], "err", *attrs)
                    lats, confs = [], []
                    for _r in range(VARIANTS):
                        n = int(d["calls"] * rng.uniform(0.7, 1.3))
                        lats.append((lat_sid, 0, MIN_NS, 1, "lat", d["res"], model, version, None,
                                     exp_hist(latencies(rng, n, median), 6)))
                        confs.append((conf_sid, 0, MIN_NS, 1, "conf", d["res"], model, version, None,
                                      conf_hist(confidences(rng, n, cmean))))
                    err = (err_sid, 0, MIN_NS, 1, "lat", d["res"], model, version, "TimeoutError",
                           exp_hist(latencies(rng, 2, median * 4), 6))
                    inf_rows += lats + confs + [err]
                    for _r in range(2):
                        n = d["calls"] * 60
                        lat = latencies(rng, n, median)
                        conf = conf_hist(confidences(rng, n, cmean))
                        hourly.append((d, model, version, exp_hist(lat, 6), conf, int(n * 0.015)))
            for _r in range(2):
                rss = d["rss"] * np.exp(rng.normal(0, 0.02, 60))
                mem_rows.append((sid(*d["res"][:2], "mem"), 0, MIN_NS, 1, "inferwatch.process.memory.usage",
                                 "exponential_histogram", "By", None, d["res"], "{}", None, exp_hist(rss, 6),
                                 None))
        self.inference = store._inference_table(inf_rows, 0)
        self.memory = store._metric_table(mem_rows, 0)
        self.hourly = self._hourly_table(hourly)
        self.nd, self.nm = nd, nm

    @staticmethod
    def _hourly_table(rows: list) -> pa.Table:
        from inferwatch.collector.hist_convert import hist_array, prepare_latency, prepare_linear

        n = len(rows)
        lat = hist_array([prepare_latency(r[3]) for r in rows], linear=False, unit=1000.0)
        conf = hist_array([prepare_linear(r[4]) for r in rows], linear=True, unit=1.0)
        mem = np.array([r[0]["rss"] for r in rows])
        return pa.table({
            "window_start": pa.array(np.zeros(n, dtype="datetime64[us]")),
            "window_end": pa.array(np.zeros(n, dtype="datetime64[us]")),
            "service": pa.array([r[0]["res"][0] for r in rows]).dictionary_encode(),
            "device_id": pa.array([r[0]["res"][1] for r in rows]).dictionary_encode(),
            "target": pa.array([r[0]["res"][2] for r in rows]).dictionary_encode(),
            "hardware": pa.array([r[0]["res"][3] for r in rows]).dictionary_encode(),
            "model": pa.array([r[1] for r in rows]).dictionary_encode(),
            "model_version": pa.array([r[2] for r in rows]).dictionary_encode(),
            "calls": pa.array(np.array([r[3][5] for r in rows], dtype=np.int64)),
            "errors": pa.array(np.array([r[5] for r in rows], dtype=np.int64)),
            "latency_hist": lat,
            "confidence_hist": conf,
            "memory_rss_sum": pa.array(mem * 3600),
            "memory_rss_count": pa.array(np.full(n, 3600, dtype=np.int64)),
            "memory_rss_max": pa.array(mem * 1.08),
            "windows": pa.array(np.full(n, 60, dtype=np.int64)),
        })

    def versions(self, cohorts: np.ndarray, hours_from_now: float) -> np.ndarray:
        return (cohorts < pct_v2(hours_from_now)).astype(np.int64)


def set_col(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def generate(db: Path, n_devices: int, seed: int) -> dict:
    from inferwatch.collector.store import Store

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0, tzinfo=None)
    devices = fleet(n_devices)
    cohorts = np.array([d["cohort"] for d in devices])
    store = Store(db)
    pools = Pools(store, devices, rng, 60)
    t_pool = time.perf_counter() - t0
    con = store.con
    now_ns = int((now - datetime(1970, 1, 1)).total_seconds()) * 10**9
    raw_cut = Store.raw_cutoff(now.replace(tzinfo=timezone.utc), 48)
    cut_ns = int((raw_cut - datetime(1970, 1, 1)).total_seconds()) * 10**9
    nd, nm, stride = pools.nd, pools.nm, pools.stride
    dm = np.arange(nd * nm)
    d_of = dm // nm
    t_insert = 0.0
    raw_rows = mem_rows = 0
    # ---- raw: whole hours from the raw cutoff up to now
    hour_ns = cut_ns
    while hour_ns < now_ns:
        ta = time.perf_counter()
        minutes = [m for m in range(hour_ns, min(hour_ns + HOUR_NS, now_ns), MIN_NS)]
        idx, starts, midx, mstarts = [], [], [], []
        for start in minutes:
            v = pools.versions(cohorts[d_of], (start - now_ns) / HOUR_NS)
            base = (dm * 2 + v) * stride
            r = rng.integers(0, VARIANTS, len(dm))
            errs = base[rng.random(len(dm)) < 0.015] + 2 * VARIANTS
            rows = np.concatenate([base + r, base + VARIANTS + r, errs])
            idx.append(rows)
            starts.append(np.full(len(rows), start, dtype=np.int64))
            midx.append(np.arange(nd) * 2 + rng.integers(0, 2, nd))
            mstarts.append(np.full(nd, start, dtype=np.int64))
        for table, take, start_col, end_col, name in (
            (pools.inference, idx, "window_start", "window_end", "inference_points"),
            (pools.memory, midx, "start_time", "time", "metric_points"),
        ):
            st = np.concatenate(starts if name == "inference_points" else mstarts)
            batch = table.take(pa.array(np.concatenate(take)))
            batch = set_col(batch, "start_ns", pa.array(st))
            batch = set_col(batch, "end_ns", pa.array(st + MIN_NS))
            batch = set_col(batch, start_col, pa.array(st // 1000, type=pa.timestamp("us")))
            batch = set_col(batch, end_col, pa.array((st + MIN_NS) // 1000, type=pa.timestamp("us")))
            batch = set_col(batch, "received_at", pa.array((st + MIN_NS + 2 * 10**9) // 1000,
                                                           type=pa.timestamp("us")))
            con.execute("BEGIN")
            if len(inspect.signature(store._insert).parameters) == 3:  # (con, table, batch)
                n, dup = store._insert(con, name, batch)
            else:  # older signature: (con, table, batch, rows with (series_id, start_ns, end_ns) first)
                keys = list(zip(batch.column("series_id").to_numpy().tolist(), st.tolist(),
                                (st + MIN_NS).tolist()))
                n, dup = store._insert(con, name, batch, keys)
            assert dup == 0, dup
            con.execute("INSERT OR IGNORE INTO rollup_dirty VALUES (make_timestamp(? * 3600000000))",
                        [hour_ns // HOUR_NS])
            con.execute("COMMIT")
            if name == "inference_points":
                raw_rows += n
            else:
                mem_rows += n
        tb = time.perf_counter()
        t_insert += tb - ta
        print(f"  raw hour {datetime(1970, 1, 1) + timedelta(microseconds=hour_ns // 1000)}: "
              f"insert {tb - ta:.1f} s", flush=True)
        hour_ns += HOUR_NS
    # ---- Store.rollup() on the newest complete hour, as the collector's writer runs it (timed); the
    # other hours' rollups are built directly below (rolling up 48 h here would take ~10 min)
    last_full = (now_ns // HOUR_NS - 1) * HOUR_NS
    con.execute("DELETE FROM rollup_dirty")
    con.execute("INSERT INTO rollup_dirty VALUES (make_timestamp(? * 3600000000))", [last_full // HOUR_NS])
    tb = time.perf_counter()
    store.rollup(now)
    t_rollup = time.perf_counter() - tb
    print(f"  Store.rollup of one hour: {t_rollup:.1f} s", flush=True)
    # ---- hourly rollups of every other hour of 30 days (older ones' raw windows would be deleted)
    ta = time.perf_counter()
    first_ns = -(-(now_ns - 30 * 24 * HOUR_NS) // HOUR_NS) * HOUR_NS  # the oldest hour retention keeps
    old_rows = 0
    hour_ns = first_ns
    while hour_ns < now_ns:
        takes, sts = [], []
        for h in range(hour_ns, min(hour_ns + 24 * HOUR_NS, now_ns), HOUR_NS):
            if h == last_full:
                continue
            v = pools.versions(cohorts[d_of], (h + HOUR_NS / 2 - now_ns) / HOUR_NS)
            takes.append((dm * 2 + v) * 2 + rng.integers(0, 2, len(dm)))
            sts.append(np.full(len(dm), h, dtype=np.int64))
        st = np.concatenate(sts)
        batch = pools.hourly.take(pa.array(np.concatenate(takes)))
        batch = set_col(batch, "window_start", pa.array(st // 1000, type=pa.timestamp("us")))
        batch = set_col(batch, "window_end", pa.array((st + HOUR_NS) // 1000, type=pa.timestamp("us")))
        con.register("iw_old", batch)
        con.execute("INSERT INTO inference_rollup_1h BY NAME SELECT * FROM iw_old")
        con.unregister("iw_old")
        old_rows += len(batch)
        hour_ns += 24 * HOUR_NS
    con.execute("DELETE FROM rollup_dirty")
    t_old = time.perf_counter() - ta
    store.enforce_retention(now.replace(tzinfo=timezone.utc), 48, 30)
    # ---- fleet rollups (minutes, hours, days), error types per hour and device hours from what is stored,
    # as the schema 1 -> 2 migration builds them (the writer keeps them current from then on)
    from inferwatch.collector.rollups import build_all

    ta = time.perf_counter()
    con.execute("BEGIN")
    derived = build_all(con)
    con.execute("COMMIT")
    t_derived = time.perf_counter() - ta
    print(f"  derived tables: {t_derived:.1f} s {derived}", flush=True)
    # ---- the writer's fleet-minute rollup of one minute of the fleet (it runs every few seconds)
    con.execute("INSERT OR IGNORE INTO rollup_dirty_1m VALUES (?)", [now - timedelta(minutes=1)])
    tb = time.perf_counter()
    store.rollup_minutes()
    t_minute = time.perf_counter() - tb
    print(f"  Store.rollup_minutes of one minute: {t_minute:.2f} s", flush=True)
    store.close()
    total = time.perf_counter() - t0
    info = {
        "now": now.isoformat(), "devices": n_devices, "models": len(MODELS), "seed": seed,
        "raw_inference_points": raw_rows, "raw_memory_points": mem_rows, "old_rollup_rows": old_rows,
        "generation_s": round(total, 1), "pools_s": round(t_pool, 1), "raw_insert_s": round(t_insert, 1),
        "store_rollup_one_hour_s": round(t_rollup, 2), "direct_rollups_s": round(t_old, 1),
        "derived_tables_s": round(t_derived, 1), "derived_steps_s": derived,
        "store_rollup_minutes_one_minute_s": round(t_minute, 2),
    }
    (db.parent / (db.name + ".meta.json")).write_text(json.dumps(info, indent=1))
    return info


def live_state(store, now: datetime) -> None:
    """What a live collector leaves between two maintenance runs: the current hour not rolled up yet
    (queries read it from the fleet minutes) and the newest minute not in the fleet minutes (raw points)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    store.con.execute("INSERT OR IGNORE INTO rollup_dirty VALUES (?)", [hour])
    store.con.execute("INSERT OR IGNORE INTO rollup_dirty_1m VALUES (?)", [now - timedelta(minutes=1)])


def time_queries(db: Path, now: datetime, reps: int, only: list[str] | None) -> list[dict]:
    from inferwatch import queries

    source = queries.DuckDBSource(db)
    out = []
    for q in queries.list_queries():
        if only and q.name not in only:
            continue
        ranges = ["-6h", "-24h", "-7d", "-30d"] if q.param("since") else [None]
        for since in ranges:
            params = {"since": since} if since else {}
            times, rows = [], 0
            for k in range(reps + 1):
                t = time.perf_counter()
                frame = queries.run(q.name, params, source, now=now)
                dt = (time.perf_counter() - t) * 1000
                rows = len(frame)
                if k:
                    times.append(dt)
                if dt > 20_000 and len(times) >= 1:
                    break
            p50 = statistics.median(times)
            p95 = float(np.percentile(times, 95))
            out.append({"query": q.name, "since": since or "-", "rows": rows, "reps": len(times),
                        "p50_ms": round(p50, 1), "p95_ms": round(p95, 1), "max_ms": round(max(times), 1),
                        "ok": p95 <= TARGET_MS})
            print(f"  {q.name:20s} {since or '-':5s} p50 {p50:9.1f} ms  p95 {p95:9.1f} ms  rows {rows}",
                  flush=True)
    return out


def machine() -> dict:
    import duckdb

    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "duckdb": duckdb.__version__,
            "pyarrow": pa.__version__, "platform": platform.platform(),
            "load_avg": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_db = Path(tempfile.gettempdir()) / "inferwatch-bench" / "month.duckdb"
    ap.add_argument("--db", type=Path, default=default_db)
    ap.add_argument("--reuse", action="store_true", help="reuse --db if it was generated before")
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--only", nargs="*", help="only these named queries")
    ap.add_argument("--no-write", action="store_true", help="do not write the results JSON")
    ap.add_argument("--settled", action="store_true",
                    help="time with every hour and minute rolled up (default: as a live collector, "
                         "the current hour not rolled up yet and its newest minute not in the fleet "
                         "minute rollups)")
    args = ap.parse_args()
    db: Path = args.db
    meta = db.parent / (db.name + ".meta.json")
    if args.reuse and db.exists() and meta.exists():
        info = json.loads(meta.read_text())
        print(f"reusing {db} (generated in {info['generation_s']} s)")
    else:
        db.parent.mkdir(parents=True, exist_ok=True)
        for p in (db, Path(str(db) + ".wal"), meta):
            p.unlink(missing_ok=True)
        print(f"generating {db} ...", flush=True)
        info = generate(db, args.devices, args.seed)
    # Bring this checkout's schema (views, macros, migrations) to the file, as a collector start-up does.
    from inferwatch.collector.store import Store

    t = time.perf_counter()
    store = Store(db)
    opened_s = time.perf_counter() - t
    migration = store.meta("migration_1_2")
    if not args.settled:
        live_state(store, datetime.fromisoformat(info["now"]))
    store.close()
    if migration and opened_s > 5:
        info["migration_1_2_s"] = round(opened_s, 1)
        info["migration_1_2_steps_s"] = json.loads(migration)
        meta.write_text(json.dumps(info, indent=1))
    wal = Path(str(db) + ".wal")
    size = db.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    now = datetime.fromisoformat(info["now"])
    print(f"db {size / 2**30:.2f} GiB; timing named queries ({args.reps} reps after a warm-up)", flush=True)
    results = time_queries(db, now, args.reps, args.only)
    print()
    print(f"{'query':22s} {'range':>6s} {'p50 ms':>9s} {'p95 ms':>9s}  ≤300")
    for r in results:
        print(f"{r['query']:22s} {r['since']:>6s} {r['p50_ms']:9.1f} {r['p95_ms']:9.1f}  "
              f"{'yes' if r['ok'] else 'NO'}")
    print(f"\nDB size {size / 2**30:.2f} GiB; generation {info['generation_s']} s")
    if not args.no_write and not args.only:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({
            "target_p95_ms": TARGET_MS, "db_bytes": size, "generation": info, "machine": machine(),
            "results": results, "all_ok": all(r["ok"] for r in results),
        }, indent=1) + "\n")
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
