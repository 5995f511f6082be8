"""Fleet rollups, device hours and the schema 1 → 2 migration: the named queries answer the same from the
coarsest source as from the per-device rows, and the `devices` view the same as from raw points."""

from __future__ import annotations

import dataclasses
import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from inferwatch import queries
from inferwatch.collector.store import Store
from inferwatch.queries.api import plan, render
from inferwatch.queries.params import bind_params

MIN_NS = 60 * 10**9
NOW = datetime(2026, 3, 4, 12, 20)  # naive UTC; the current hour (12:00) is not rolled up yet
CONF_BOUNDS = tuple(round(i * 0.005, 3) for i in range(1, 200))

# The `devices` view of schema 1 (over every raw point): the device-hour summaries must give the same.
V1_DEVICES = """
WITH p AS (
    SELECT service, device_id, target, hardware, window_start, window_end, received_at FROM inference_points
    UNION ALL
    SELECT service, device_id, target, hardware, start_time, time, received_at
    FROM metric_points WHERE metric = 'inferwatch.agent.calls'
), w AS (
    SELECT service, device_id, any_value(target) AS target, any_value(hardware) AS hardware,
           window_start, max(window_end) AS window_end, max(received_at) AS received_at
    FROM p GROUP BY service, device_id, window_start
), g AS (
    SELECT *, lag(window_end) OVER (PARTITION BY service, device_id ORDER BY window_start) AS prev_end FROM w
), agent AS (
    SELECT service, device_id,
           sum(value) FILTER (WHERE metric = 'inferwatch.agent.calls') AS agent_calls,
           sum(value) FILTER (WHERE metric = 'inferwatch.agent.bytes.sent') AS agent_bytes_sent,
           arg_max(value, time) FILTER (WHERE metric = 'inferwatch.agent.spool.windows')
               AS agent_spool_windows
    FROM metric_points WHERE metric LIKE 'inferwatch.agent.%' GROUP BY ALL
)
SELECT g.service, g.device_id, any_value(g.target) AS target, any_value(g.hardware) AS hardware,
       min(g.window_start) AS first_seen, max(g.window_end) AS last_seen,
       max(g.received_at) AS last_received, count(*) AS windows_received,
       count(*) FILTER (WHERE g.window_start > g.prev_end) AS gaps,
       coalesce(sum(epoch(g.window_start) - epoch(g.prev_end)) FILTER (WHERE g.window_start > g.prev_end), 0)
           AS gap_seconds,
       any_value(a.agent_calls) AS agent_calls, any_value(a.agent_bytes_sent) AS agent_bytes_sent,
       any_value(a.agent_spool_windows) AS agent_spool_windows
FROM g LEFT JOIN agent a ON a.service IS NOT DISTINCT FROM g.service
    AND a.device_id IS NOT DISTINCT FROM g.device_id
GROUP BY g.service, g.device_id ORDER BY ALL
"""
DEVICE_COLUMNS = ("service, device_id, target, hardware, first_seen, last_seen, last_received, "
                  "windows_received, gaps, gap_seconds, agent_calls, agent_bytes_sent, agent_spool_windows")


def _ns(t: datetime) -> int:
    return int(t.replace(tzinfo=timezone.utc).timestamp()) * 10**9


def _exp(rng, n, median):
    v = median * np.exp(rng.normal(0, 0.4, n))
    idx = np.ceil(np.log2(v) * 64).astype(np.int64) - 1
    off = int(idx.min())
    return ("exp", 6, off, np.bincount(idx - off).tolist(), 0, n, float(v.sum()), float(v.min()),
            float(v.max()))


def _conf(rng, n):
    v = np.clip(rng.beta(9, 2, n), 1e-4, 1.0)
    j = np.clip(np.ceil(v / 0.005 - 1e-9).astype(np.int64) - 1, 0, 199)
    return ("explicit", CONF_BOUNDS, np.bincount(j, minlength=200).tolist(), n, float(v.sum()),
            float(v.min()), float(v.max()))


DEVICES = [  # service, device, target, hardware, median latency, skips (offline minutes % 97 < skip)
    ("app-edge", "pi-1", "edge", "raspberry-pi-5", 0.040, 9),
    ("app-edge", "pi-2", "edge", "raspberry-pi-5", 0.050, 0),
    ("app-edge", "nuc-1", "edge", "intel-nuc", 0.008, 3),
    ("app-cloud", "api-1", "cloud", "nvidia-t4", 0.020, 0),
    ("app-cloud", "api-2", "cloud", "cpu", 0.030, 0),
]


def _minute(rng, start: datetime, v2: bool) -> tuple[list, list]:
    """Every device's points of one 1-minute window (versions 1 → 2 roll out to some devices)."""
    s = _ns(start)
    inference, metrics = [], []
    for k, (service, device, target, hw, median, skip) in enumerate(DEVICES):
        if skip and (s // MIN_NS) % 97 < skip:
            continue  # offline now and then: gaps
        res = (service, device, target, hw, json.dumps({"device.id": device}))
        for m, model in enumerate(("digits", "ranker")):
            version = "2.0" if v2 and k % 2 == 0 else "1.0"
            n = int(rng.integers(20, 60))
            base = hash((device, model, version)) & 0xFFFFFFFF
            inference.append((base, s, s + MIN_NS, 1, "lat", res, model, version, None,
                              _exp(rng, n, median * (1 + m) * (1.2 if version == "2.0" else 1))))
            inference.append((base + 1, s, s + MIN_NS, 1, "conf", res, model, version, None, _conf(rng, n)))
            if rng.random() < 0.2:
                err = ("TimeoutError", "ValueError")[int(rng.integers(0, 2))]
                inference.append((base + 2 + len(err), s, s + MIN_NS, 1, "lat", res, model, version, err,
                                  _exp(rng, int(rng.integers(1, 4)), median * 3)))
        rss = (2e8 if target == "edge" else 9e8) * np.exp(rng.normal(0, 0.05, 6))
        idx = np.ceil(np.log2(rss) * 64).astype(np.int64) - 1
        mem = ("exp", 6, int(idx.min()), np.bincount(idx - idx.min()).tolist(), 0, 6, float(rss.sum()),
               float(rss.min()), float(rss.max()))
        sid = hash((device, "mem")) & 0xFFFFFFFF
        metrics.append((sid, s, s + MIN_NS, 1, "inferwatch.process.memory.usage", "exponential_histogram",
                        "By", None, res, "{}", None, mem, None))
        metrics.append((sid + 1, s, s + MIN_NS, 1, "inferwatch.agent.calls", "sum", "1", True, res, "{}",
                        float(rng.integers(40, 120)), None, None))
        metrics.append((sid + 2, s, s + MIN_NS, 1, "inferwatch.agent.bytes.sent", "sum", "By", True, res,
                        "{}", float(rng.integers(900, 2000)), None, None))
        metrics.append((sid + 3, 0, s + MIN_NS, 1, "inferwatch.agent.spool.windows", "gauge", "1", None, res,
                        "{}", float(rng.integers(0, 5)), None, None))
    return inference, metrics


def _fill(store: Store, rng) -> None:
    """3 days of 1-minute windows, every 7th minute (rolled up as the writer would, hour by hour), then
    the current hour: some minutes rolled up into fleet minutes, the newest ones not."""
    start = NOW - timedelta(days=3, minutes=35)
    t, seq = start, 0
    while t < NOW:
        inference, metrics = _minute(rng, t, v2=t >= NOW - timedelta(hours=30))
        seq += 1
        store.write(inference, metrics, seq, {}, _ns(t) + 3 * 10**9)
        if t.minute < 7 and t.hour % 5 == 0:  # the writer's maintenance (every 5 hours here)
            store.rollup_minutes()
            store.rollup(t)
        elif t.minute % 21 == 0:
            store.rollup_minutes()
        t += timedelta(minutes=7)
    # a late replay into an hour rolled up long ago (dirty again), and one more fresh minute
    inference, metrics = _minute(rng, NOW - timedelta(hours=20, minutes=3), v2=True)
    store.write(inference, metrics, seq + 1, {}, _ns(NOW))


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("rollups") / "fleet.duckdb"
    store = Store(path)
    _fill(store, np.random.default_rng(3))
    assert store.con.execute("SELECT count(*) FROM rollup_dirty").fetchone()[0] >= 2
    assert store.con.execute("SELECT count(*) FROM rollup_dirty_1m").fetchone()[0] >= 2
    store.close()
    return path


def _frames(source, name: str, params: dict) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The named query from the source `plan` chooses, and from per-device rows (as before fleet rollups)."""
    query = queries.describe(name)
    bound = bind_params(query.params, params, name, NOW.replace(tzinfo=timezone.utc))
    per_device = dataclasses.replace(query, per_device=("since",))
    return (source.query(render(query, bound), bound), source.query(render(per_device, bound), bound),
            plan(query, bound).level)


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b) and len(a) > 0
    for column in a.columns:
        x, y = a[column].tolist(), b[column].tolist()
        for u, v in zip(x, y):
            if isinstance(u, float) and isinstance(v, float):
                assert (math.isnan(u) and math.isnan(v)) or u == pytest.approx(v, rel=1e-9, abs=1e-6), column
            elif isinstance(u, dict):  # merged histograms: the same buckets; sums up to rounding
                assert ({**u, "counts": list(u["counts"]), "sum": 0}
                        == {**v, "counts": list(v["counts"]), "sum": 0}), column
                assert u["sum"] == pytest.approx(v["sum"], rel=1e-12), column
            else:
                assert u == v, (column, u, v)


NAMED = ["fleet_overview", "edge_vs_cloud", "latency_cdf", "per_hardware", "version_comparison",
         "hourly_trend", "cost_inputs", "regression_inputs", "top_errors"]


@pytest.mark.parametrize("since", ["-90m", "2026-03-04T09:20:30.5", "-30h", "-3d", "2026-03-02T00:00"])
@pytest.mark.parametrize("name", NAMED)
def test_fleet_rollups_answer_as_the_per_device_rows(db, name, since):
    source = queries.connect(db=db)
    try:
        params = {"since": since}
        if name == "hourly_trend":
            params["bucket_minutes"] = {"-3d": "1440", "-30h": "60"}.get(since, "5")
        fleet, per_device, level = _frames(source, name, params)
        short = since == "-90m" or since.startswith("2026-03-04")
        assert level == ("minutes" if short else "fleet")
        _assert_same(fleet, per_device)
    finally:
        source.close()


def test_top_errors_over_long_ranges_counts_every_error_point(db):
    source = queries.connect(db=db)
    try:
        got = queries.run("top_errors", {"since": "2026-03-01T11:00", "limit": "100"}, source,
                          now=NOW.replace(tzinfo=timezone.utc))
        raw = source.query("SELECT error_type, sum(calls) AS n FROM inference_points "
                           "WHERE error_type IS NOT NULL AND window_start >= TIMESTAMP '2026-03-01 11:00' "
                           "GROUP BY ALL ORDER BY ALL")
        assert got.groupby("error_type")["errors"].sum().to_dict() == dict(zip(raw["error_type"], raw["n"]))
    finally:
        source.close()


def test_days_are_used_only_when_time_buckets_allow(db):
    query = queries.describe("hourly_trend")
    for minutes, days in (("60", False), ("1440", True)):
        bound = bind_params(query.params, {"since": "-7d", "bucket_minutes": minutes}, query.name,
                            NOW.replace(tzinfo=timezone.utc))
        assert ("inference_fleet_1d" in plan(query, bound).windows) is days
    query = queries.describe("regression_inputs")
    bound = bind_params(query.params, {"since": "-7d", "exclude_device": "pi-1"}, query.name,
                        NOW.replace(tzinfo=timezone.utc))
    assert plan(query, bound).level == "hourly"


def test_devices_view_matches_the_raw_points(db):
    source = queries.connect(db=db)
    try:
        got = source.query(f"SELECT {DEVICE_COLUMNS} FROM devices ORDER BY ALL")
        _assert_same(got, source.query(V1_DEVICES))
        assert got["gaps"].sum() > 0
    finally:
        source.close()


def test_migration_from_schema_1_builds_what_the_writer_maintains(db, tmp_path):
    import shutil

    import duckdb

    maintained, migrated = tmp_path / "maintained.duckdb", tmp_path / "v1.duckdb"
    shutil.copy(db, maintained)
    store = Store(maintained)
    store.rollup_minutes()
    store.rollup(NOW)  # everything rolled up: the derived tables as the writer keeps them
    store.close()
    shutil.copy(maintained, migrated)
    tables = {"inference_fleet_1m": "bucket", "inference_fleet_1h": "bucket", "inference_fleet_1d": "bucket",
              "inference_fleet_tm_1h": "bucket",
              "inference_errors_1h": "hour", "device_hours": "hour", "inference_devices_1d": "day"}
    con = duckdb.connect(str(migrated))  # back to schema 1: no derived tables
    con.execute("DROP VIEW devices")
    for t in (*tables, "rollup_dirty_1m"):
        con.execute(f"DROP TABLE {t}")
    con.execute("UPDATE collector_meta SET value = '1' WHERE key = 'schema_version'")
    con.close()
    store = Store(migrated)  # migrates 1 -> 2
    try:
        assert store.meta("schema_version") == "2"
        assert set(json.loads(store.meta("migration_1_2"))) >= {"fleet_1h_s", "fleet_1m_s"}
    finally:
        store.close()
    a, b = duckdb.connect(str(maintained), read_only=True), duckdb.connect(str(migrated), read_only=True)
    try:
        for t in tables:
            order = f"ORDER BY {tables[t]}, service, target, hardware" + (
                ", device_id" if t == "device_hours" else ", model, model_version")
            if t in ("inference_errors_1h", "inference_devices_1d"):
                order = "ORDER BY ALL"
            x, y = (c.execute(f"SELECT * FROM {t} {order}").df() for c in (a, b))
            assert len(x) == len(y) > 0, t
            hists = [c for c in x.columns if c.endswith("_hist")]
            pd.testing.assert_frame_equal(x.drop(columns=hists), y.drop(columns=hists), check_dtype=False,
                                          rtol=1e-9)
            for column in hists:
                for u, v in zip(x[column], y[column]):
                    assert (u is None) == (v is None)
                    if u is not None:
                        assert list(u["counts"]) == list(v["counts"]) and u["count"] == v["count"]
                        assert u["sum"] == pytest.approx(v["sum"], rel=1e-9)
    finally:
        a.close()
        b.close()
