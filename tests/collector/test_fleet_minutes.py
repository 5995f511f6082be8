"""Fleet minute rollups merged in numpy (rollups.refresh_minutes + histmerge) store what the SQL merge stored
(merge_sql: unnest + GROUP BY), on odd data too: mixed scales, empty or NULL histograms, count 0, lone
histograms, gaps between bucket ranges, zero buckets at the ends, NULL dimensions, minutes apart."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from inferwatch.collector import histmerge, rollups
from inferwatch.collector.store import Store

# ---------------------------------------------------------------------------------------------------------
# The oracle: the fleet minute SQL as it was before the numpy merge (rollups._fleet_1m with merge_sql, main
# at f84a81e), kept verbatim here so that later edits of rollups.py or histsql.py cannot move it.
_DIMS = "service, target, hardware, model, model_version"
_MEM = ("mem_avg_n", "mem_avg_sum", "mem_avg_sumsq", "mem_avg_max",
        "mem_peak_n", "mem_peak_sum", "mem_peak_sumsq", "mem_peak_max")


def _old_merge_sql(source: str, keys: str, col: str) -> str:
    names = keys.split(", ")
    return f"""
        WITH v1 AS (SELECT dense_rank() OVER (ORDER BY {keys}) AS iw_g,
                           count(*) OVER (PARTITION BY {keys}) AS iw_n, {keys}, {col} AS h
                    FROM {source} WHERE {col} IS NOT NULL AND {col}.count > 0),
        v AS (SELECT * FROM v1 WHERE iw_n > 1),
        s AS (
            SELECT iw_g, {", ".join(f"any_value({k}) AS {k}" for k in names)},
                   any_value(h.scale) AS scale, any_value(h.width) AS width, any_value(h.unit) AS unit,
                   sum(h.zero_count)::BIGINT AS zero_count, sum(h.count)::BIGINT AS count, sum(h.sum) AS sum,
                   min(h.min) AS min, max(h.max) AS max
            FROM v GROUP BY iw_g
        ), b AS (
            SELECT iw_g, j, sum(c)::BIGINT AS c
            FROM (SELECT iw_g, h.idx0 + generate_subscripts(h.counts, 1) - 1 AS j, unnest(h.counts) AS c
                  FROM v)
            GROUP BY iw_g, j
        ), bl AS (
            SELECT iw_g, min(j) AS j0, max(j) AS j1, count(*) AS n,
                   min(j) FILTER (WHERE c > 0) AS lo, max(j) FILTER (WHERE c > 0) AS hi,
                   list(j ORDER BY j) AS js, list(c ORDER BY j) AS cs
            FROM b GROUP BY iw_g
        )
        SELECT {", ".join("s." + k for k in names)},
               {{scale: s.scale, width: s.width, idx0: coalesce(bl.lo, 0)::INTEGER,
                 counts: CASE WHEN bl.lo IS NULL THEN []::BIGINT[] ELSE list_slice(
                     CASE WHEN bl.j1 - bl.j0 + 1 = bl.n THEN bl.cs ELSE hist__from_buckets(bl.js, bl.cs) END,
                     bl.lo - bl.j0 + 1, bl.hi - bl.j0 + 1) END,
                 zero_count: s.zero_count, count: s.count, sum: s.sum, min: s.min, max: s.max,
                 unit: s.unit}}::hist AS h
        FROM s LEFT JOIN bl USING (iw_g)
        UNION ALL
        SELECT {", ".join(names)}, h FROM v1 WHERE iw_n = 1
    """


def _old_mem_of(avg: str, peak: str) -> str:
    return (f"({avg} IS NOT NULL)::BIGINT AS mem_avg_n, {avg} AS mem_avg_sum, "
            f"{avg} * {avg} AS mem_avg_sumsq, {avg} AS mem_avg_max, "
            f"({peak} IS NOT NULL)::BIGINT AS mem_peak_n, {peak} AS mem_peak_sum, "
            f"{peak} * {peak} AS mem_peak_sumsq, {peak} AS mem_peak_max")


def _old_raw_rows_sql(points_where: str, memory_where: str) -> str:
    return f"""
        SELECT window_start, window_end, {_DIMS}, calls, errors, latency_hist, confidence_hist,
               0::BIGINT AS rows, {", ".join(f"NULL::{'BIGINT' if c.endswith('_n') else 'DOUBLE'} AS {c}"
                                             for c in _MEM)}
        FROM inference_points WHERE {points_where}
        UNION ALL
        SELECT w.window_start, w.window_end, {", ".join("w." + d for d in _DIMS.split(", "))},
               0::BIGINT, 0::BIGINT, NULL::hist, NULL::hist, 1::BIGINT, {_old_mem_of('m.a', 'm.x')}
        FROM (SELECT DISTINCT window_start, window_end, service, device_id, {_DIMS.split(", ", 1)[1]}
              FROM inference_points WHERE {points_where}) w
        LEFT JOIN (SELECT service, device_id, start_time, time, sum(sum) / nullif(sum(count), 0) AS a,
                          max(max) AS x
                   FROM metric_points WHERE metric = 'inferwatch.process.memory.usage' AND {memory_where}
                   GROUP BY ALL) m
            ON m.service IS NOT DISTINCT FROM w.service AND m.device_id IS NOT DISTINCT FROM w.device_id
            AND m.start_time = w.window_start AND m.time = w.window_end"""


def _old_fleet_1m(minutes_table: str) -> str:
    """What the old refresh_minutes inserted for the minutes in `minutes_table`."""
    lo = f"(SELECT min(minute) FROM {minutes_table})"
    hi = f"(SELECT max(minute) + INTERVAL 1 MINUTE FROM {minutes_table})"
    source = _old_raw_rows_sql(
        f"window_start >= {lo} AND window_start < {hi} AND time_bucket(INTERVAL 1 MINUTE, window_start) "
        f"IN (SELECT minute FROM {minutes_table})", f"start_time >= {lo} AND start_time < {hi}")
    keys = f"bucket, {_DIMS}"
    on = " AND ".join(f"{{a}}.{k} IS NOT DISTINCT FROM agg.{k}" for k in keys.split(", "))
    return f"""
        WITH iw_src AS (SELECT time_bucket(INTERVAL 1 MINUTE, window_start) AS bucket, * FROM ({source})),
        agg AS (
            SELECT {keys}, min(window_start) AS window_start, max(window_end) AS window_end,
                   sum(calls)::BIGINT AS calls, sum(errors)::BIGINT AS errors, sum(rows)::BIGINT AS rows,
                   coalesce(sum(mem_avg_n), 0)::BIGINT AS mem_avg_n, sum(mem_avg_sum) AS mem_avg_sum,
                   sum(mem_avg_sumsq) AS mem_avg_sumsq, max(mem_avg_max) AS mem_avg_max,
                   coalesce(sum(mem_peak_n), 0)::BIGINT AS mem_peak_n, sum(mem_peak_sum) AS mem_peak_sum,
                   sum(mem_peak_sumsq) AS mem_peak_sumsq, max(mem_peak_max) AS mem_peak_max
            FROM iw_src GROUP BY ALL
        ), lat AS ({_old_merge_sql("iw_src", keys, "latency_hist")}
        ), conf AS ({_old_merge_sql("iw_src", keys, "confidence_hist")})
        SELECT agg.bucket, agg.window_start, agg.window_end,
               {", ".join("agg." + d for d in _DIMS.split(", "))},
               agg.calls, agg.errors, lat.h AS latency_hist, conf.h AS confidence_hist, agg.rows,
               {", ".join("agg." + c for c in _MEM)}
        FROM agg LEFT JOIN lat ON {on.format(a="lat")} LEFT JOIN conf ON {on.format(a="conf")}"""


# ---------------------------------------------------------------------------------------------------------
T0 = datetime(2026, 3, 4, 10, 0)
HIST = pa.struct([("scale", pa.int32()), ("width", pa.float64()), ("idx0", pa.int32()),
                  ("counts", pa.list_(pa.int64())), ("zero_count", pa.int64()), ("count", pa.int64()),
                  ("sum", pa.float64()), ("min", pa.float64()), ("max", pa.float64()),
                  ("unit", pa.float64())])
KEY = ("bucket", "service", "target", "hardware", "model", "model_version")


def _hist(rng, kind: str, odd: bool) -> dict | None:
    """A random histogram; `odd` allows every corner merge_sql has (its own branch for each)."""
    r = rng.random()
    exp = kind == "lat"
    scale, width, unit = (4, 0.0, 1000.0) if exp else (0, 0.005, 1.0)
    if odd and r < 0.08:
        return None
    if odd and r < 0.14:  # count 0: not merged
        return {"scale": scale, "width": width, "idx0": 3, "counts": [1, 2], "zero_count": 0, "count": 0,
                "sum": 1.0, "min": 0.1, "max": 0.2, "unit": unit}
    if odd and r < 0.18:  # only zeros: no buckets
        return {"scale": scale, "width": width, "idx0": int(rng.integers(-5, 5)), "counts": [],
                "zero_count": 3, "count": 3, "sum": 0.0, "min": 0.0, "max": 0.0, "unit": unit}
    if odd and r < 0.21:  # buckets that are all zero
        return {"scale": scale, "width": width, "idx0": 7, "counts": [0, 0, 0], "zero_count": 2,
                "count": 2, "sum": 0.0, "min": 0.0, "max": 0.0, "unit": unit}
    if odd and r < 0.25:  # another scale in the same group
        scale = scale + 1
    if odd and r < 0.28:  # NULL scalars
        return {"scale": scale, "width": width, "idx0": 2, "counts": [0, 4, 0], "zero_count": None,
                "count": 4, "sum": None, "min": None, "max": None, "unit": unit}
    n = int(rng.integers(1, 40))
    lo = int(rng.integers(-160, -120)) if exp else int(rng.integers(0, 150))
    if odd and rng.random() < 0.15:
        lo += int(rng.choice([-400, 400]))  # far from the others: gaps between ranges
    counts = rng.integers(0, 30, n)
    if odd and rng.random() < 0.3:
        counts[0] = counts[-1] = 0  # zero ends, cut when merged
    if odd and rng.random() < 0.2:
        counts[rng.integers(0, n, max(1, n // 3))] = 0
    total = int(counts.sum())
    zero = int(rng.integers(0, 3)) if exp else 0
    return {"scale": scale, "width": width, "idx0": lo, "counts": counts.tolist(), "zero_count": zero,
            "count": total + zero, "sum": float(rng.random() * 100 - 1), "min": float(-rng.random()),
            "max": float(rng.random() * 10), "unit": unit}


def _points(rng, minutes: list[datetime], odd: bool, devices: int = 12) -> pa.Table:
    rows = []
    for minute in minutes:
        for d in range(devices):
            for model in ("a", "b", None if odd else "c"):
                if odd and rng.random() < 0.2:
                    continue
                service = None if odd and d % 7 == 3 else f"svc-{d % 2}"
                hardware = None if odd and d % 5 == 4 else f"hw-{d % 3}"
                version = "2" if d % 4 == 0 else "1"
                start = minute + timedelta(seconds=int(rng.integers(0, 3)) * 20 if odd else 0)
                for e in range(1 + (odd and rng.random() < 0.3)):
                    rows.append({
                        "series_id": len(rows) + 1, "start_ns": 0, "end_ns": len(rows) + 1,
                        "window_start": start, "window_end": start + timedelta(seconds=60),
                        "service": service, "device_id": f"dev-{d}", "target": f"t{d % 2}",
                        "hardware": hardware, "model": model, "model_version": version,
                        "error_type": "E" if e else None, "calls": int(rng.integers(0, 50)),
                        "errors": e, "latency_hist": _hist(rng, "lat", odd),
                        "confidence_hist": None if e else _hist(rng, "conf", odd),
                        "received_at": start})
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("series_id", pa.uint64()), ("start_ns", pa.int64()), ("end_ns", pa.int64()),
        ("window_start", pa.timestamp("us")), ("window_end", pa.timestamp("us")),
        *((c, pa.string()) for c in ("service", "device_id", "target", "hardware", "model", "model_version",
                                     "error_type")),
        ("calls", pa.int64()), ("errors", pa.int64()), ("latency_hist", HIST), ("confidence_hist", HIST),
        ("received_at", pa.timestamp("us"))]))


def _memory(rng, points: pa.Table) -> pa.Table:
    """Memory points of about half the device windows (the rows' memory statistics)."""
    seen, rows = set(), []
    for p in points.select(["window_start", "window_end", "service", "device_id"]).to_pylist():
        key = tuple(p.values())
        if key in seen or rng.random() < 0.5:
            continue
        seen.add(key)
        rows.append({"series_id": len(rows) + 1, "start_ns": 0, "end_ns": len(rows) + 1,
                     "start_time": p["window_start"], "time": p["window_end"],
                     "metric": "inferwatch.process.memory.usage", "type": "exponential_histogram",
                     "service": p["service"], "device_id": p["device_id"], "count": 4,
                     "sum": float(rng.random() * 4e8), "max": float(rng.random() * 2e8)})
    return pa.Table.from_pylist(rows)


def _store(tmp_path, points: pa.Table, memory: pa.Table | None = None) -> Store:
    store = Store(tmp_path / "m.duckdb")
    store.con.register("iw_t", points)
    store.con.execute("INSERT INTO inference_points BY NAME SELECT * FROM iw_t")
    store.con.unregister("iw_t")
    if memory is not None and memory.num_rows:
        store.con.register("iw_m", memory)
        store.con.execute("INSERT INTO metric_points BY NAME SELECT * FROM iw_m")
        store.con.unregister("iw_m")
    return store


def _dirty(store: Store, minutes: list[datetime]) -> None:
    store.con.execute("INSERT OR IGNORE INTO rollup_dirty_1m SELECT unnest(?::TIMESTAMP[])", [minutes])


def _oracle(store: Store, minutes: list[datetime]) -> list[dict]:
    con = store.con
    con.execute("CREATE OR REPLACE TEMP TABLE iw_oracle_minutes AS SELECT unnest(?::TIMESTAMP[]) AS minute",
                [minutes])
    return _rows(con, f"SELECT * FROM ({_old_fleet_1m('iw_oracle_minutes')})")


def _rows(con, sql: str) -> list[dict]:
    table = con.sql(f"{sql} ORDER BY {', '.join(f'{k} NULLS FIRST' for k in KEY)}").to_arrow_table()
    return table.to_pylist()


def _hist_variants(store: Store, row: dict, column: str) -> dict[str, set]:
    """The scale/width/unit values of the valid histograms behind a fleet row (any of them may be kept)."""
    cond = " AND ".join(f"{k} IS NOT DISTINCT FROM ?" for k in KEY[1:])
    got = store.con.execute(
        f"SELECT DISTINCT {column}.scale, {column}.width, {column}.unit FROM inference_points "
        f"WHERE time_bucket(INTERVAL 1 MINUTE, window_start) = ? AND {cond} AND {column}.count > 0",
        [row["bucket"], *(row[k] for k in KEY[1:])]).fetchall()
    return {"scale": {g[0] for g in got}, "width": {g[1] for g in got}, "unit": {g[2] for g in got}}


def _same_float(u, v) -> bool:
    if u is None or v is None:
        return u is v
    return (math.isnan(u) and math.isnan(v)) or u == pytest.approx(v, rel=1e-12, abs=1e-12)


def _assert_same(store: Store, got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert [g[k] for k in KEY] == [w[k] for k in KEY]
        for column, u in g.items():
            v = w[column]
            if column.endswith("_hist") and u is not None and v is not None:
                # exact buckets; sums of doubles up to the order of addition (the SQL merge's own order
                # changes from run to run); scale/width/unit: merge_sql keeps any of the group's
                variants = None
                for f in u:
                    if f == "sum":
                        assert _same_float(u[f], v[f]), (column, g, u, v)
                    elif f in ("scale", "width", "unit") and u[f] != v[f]:
                        variants = variants or _hist_variants(store, g, column)
                        assert len(variants[f]) > 1 and u[f] in variants[f], (column, f, u, v)
                    else:
                        assert u[f] == v[f], (column, f, g, u, v)
            elif isinstance(u, float) or isinstance(v, float):
                assert _same_float(u, v), (column, u, v)
            else:
                assert u == v, (column, g, u, v)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("odd", [False, True])
def test_fleet_minutes_equal_the_sql_merge(tmp_path, monkeypatch, seed, odd):
    rng = np.random.default_rng(seed)
    minutes = [T0 + timedelta(minutes=m) for m in (0, 1, 2, 5, 9, 10, 30)]
    points = _points(rng, minutes, odd)
    store = _store(tmp_path, points, _memory(rng, points))
    if seed % 2:
        monkeypatch.setattr(histmerge, "_CHUNK", 37)  # many add.at chunks, rows across their bounds
    if seed % 3 == 0:
        monkeypatch.setattr(rollups, "_MINUTES_PER_PASS", 2)  # minutes merged a few at a time
    # runs of minutes apart, minutes without points
    dirty = minutes[1:6] + [T0 + timedelta(minutes=3), T0 + timedelta(hours=2)]
    # a fleet row of a minute not dirty stays as it is; the dirty minutes' rows are replaced
    store.con.execute(f"INSERT INTO inference_fleet_1m {_old_fleet_1m_of(store, minutes[:1])}")
    store.con.execute(f"INSERT INTO inference_fleet_1m {_old_fleet_1m_of(store, minutes[1:3])}")
    kept = _rows(store.con, "SELECT * FROM inference_fleet_1m WHERE bucket = " + _ts(minutes[0]))
    want = _oracle(store, sorted(dirty))
    _dirty(store, dirty)
    store.con.execute("SELECT 1 UNION ALL SELECT 2").fetchone()  # a result left unfinished by the caller
    assert store.rollup_minutes() == len(dirty)
    got = _rows(store.con, "SELECT * FROM inference_fleet_1m WHERE bucket <> " + _ts(minutes[0]))
    assert got and want
    _assert_same(store, got, want)
    assert _rows(store.con, "SELECT * FROM inference_fleet_1m WHERE bucket = " + _ts(minutes[0])) == kept
    store.close()


def _ts(t: datetime) -> str:
    return f"TIMESTAMP '{t:%Y-%m-%d %H:%M:%S}'"


def _old_fleet_1m_of(store: Store, minutes: list[datetime]) -> str:
    store.con.execute(
        "CREATE OR REPLACE TEMP TABLE iw_seed_minutes AS SELECT unnest(?::TIMESTAMP[]) AS minute", [minutes])
    return f"SELECT * FROM ({_old_fleet_1m('iw_seed_minutes')})"


def _one(hist: dict | None, **dims) -> dict:
    row = {"service": "s", "target": "t", "hardware": "h", "model": "m", "model_version": "1", **dims}
    return {"latency_hist": hist, "confidence_hist": None, **row}


@pytest.mark.parametrize("case", ["lone", "lone_zero_ends", "lone_null_idx0_no_counts", "lone_sum_minus_0",
                                  "empty_and_full", "gap", "all_zero", "negative", "null_counts", "null_idx0",
                                  "null_in_counts"])
def test_corner_groups_equal_the_sql_merge(tmp_path, case):
    """Each of merge_sql's corners alone, including those the numpy merge leaves to SQL (NULL counts or idx0
    in a valid histogram, NULL inside counts)."""
    h = {"scale": 4, "width": 0.0, "idx0": -3, "counts": [0, 2, 5, 0], "zero_count": 1, "count": 8,
         "sum": 2.5, "min": 0.1, "max": 4.0, "unit": 1000.0}
    groups = {
        "lone": [h],
        "lone_zero_ends": [h, {**h, "count": 0}, None],
        "lone_null_idx0_no_counts": [{**h, "idx0": None, "counts": []}, {**h, "count": 0}],
        "lone_sum_minus_0": [{**h, "sum": -0.0}],
        "empty_and_full": [{**h, "counts": []}, h, {**h, "counts": [], "idx0": 100}],
        "gap": [h, {**h, "idx0": 40, "counts": [0, 1, 0, 3]}, {**h, "idx0": -90, "counts": [7]}],
        "all_zero": [{**h, "counts": [0, 0]}, {**h, "idx0": 9, "counts": [0]}],
        "negative": [h, {**h, "counts": [0, -2, -5, 0]}, {**h, "idx0": 5, "counts": [1]}],
        "null_counts": [{**h, "counts": None}, h],
        "null_idx0": [{**h, "idx0": None}, h],
        "null_in_counts": [{**h, "counts": [1, None, 3]}, h],
    }[case]
    rows = [_one(g) for g in groups]
    table = pa.Table.from_pylist([{
        "series_id": i + 1, "start_ns": 0, "end_ns": i + 1, "window_start": T0, "window_end": T0,
        "device_id": f"d{i}", "error_type": None, "calls": 1, "errors": 0, "received_at": T0, **r}
        for i, r in enumerate(rows)], schema=pa.schema([
            ("series_id", pa.uint64()), ("start_ns", pa.int64()), ("end_ns", pa.int64()),
            ("window_start", pa.timestamp("us")), ("window_end", pa.timestamp("us")),
            ("device_id", pa.string()), ("error_type", pa.string()), ("calls", pa.int64()),
            ("errors", pa.int64()), ("received_at", pa.timestamp("us")), ("latency_hist", HIST),
            ("confidence_hist", HIST), *((c, pa.string()) for c in _DIMS.split(", "))]))
    store = Store(tmp_path / "c.duckdb")
    store.con.register("iw_t", table)
    store.con.execute("INSERT INTO inference_points BY NAME SELECT * FROM iw_t")
    want = _oracle(store, [T0])
    _dirty(store, [T0])
    store.rollup_minutes()
    got = _rows(store.con, "SELECT * FROM inference_fleet_1m")
    _assert_same(store, got, want)
    if case.startswith("lone"):  # a lone histogram is kept as it is, to the sign of a zero sum
        assert math.copysign(1, got[0]["latency_hist"]["sum"]) == math.copysign(1, groups[0]["sum"])
    store.close()


def _naive(gid, valid, idx0, lens, values, n_groups):
    """merge_counts the slow way: a dict of bucket → count per group."""
    off = np.concatenate(([0], np.cumsum(lens)))
    out = []
    for g in range(n_groups):
        rows = [r for r in range(len(gid)) if gid[r] == g and valid[r]]
        if len(rows) == 1:
            r = rows[0]
            out.append((1, idx0[r], values[off[r]:off[r + 1]].tolist()))
            continue
        sums: dict[int, int] = {}
        for r in rows:
            for k in range(lens[r]):
                sums[idx0[r] + k] = sums.get(idx0[r] + k, 0) + int(values[off[r] + k])
        pos = [j for j, c in sums.items() if c > 0]
        if len(rows) < 2 or not pos:
            out.append((len(rows), 0, []))
        else:
            lo, hi = min(pos), max(pos)
            out.append((len(rows), lo, [sums.get(j, 0) for j in range(lo, hi + 1)]))
    return out


@pytest.mark.parametrize("seed", range(20))
def test_merge_counts_against_a_dict(monkeypatch, seed):
    rng = np.random.default_rng(seed)
    monkeypatch.setattr(histmerge, "_CHUNK", int(rng.choice([5, 64, 1 << 18])))
    n_rows, n_groups = int(rng.integers(0, 60)), int(rng.integers(1, 8))
    gid = rng.integers(0, n_groups, n_rows)
    valid = rng.random(n_rows) < 0.8
    lens = rng.integers(0, 9, n_rows) * (rng.random(n_rows) < 0.85)
    idx0 = rng.integers(-20, 20, n_rows)
    values = rng.integers(-1, 6, int(lens.sum()))
    n, out_idx0, counts = histmerge.merge_counts(gid, n_groups, valid, idx0, lens, values)
    got = [(int(n[g]), int(out_idx0[g]), counts[g].as_py()) for g in range(n_groups)]
    assert got == _naive(gid, valid, idx0, lens, values, n_groups)
