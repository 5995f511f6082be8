"""The collector's DuckDB schema: tables, the histogram type, pure-SQL macros and views, migrations."""

from __future__ import annotations

import json

import duckdb

from .rollups import FLEET_DIMS, build_all, device_hours_sql
from .transaction import transaction

__all__ = ["CANONICAL_SCALE", "CONFIDENCE_WIDTH", "HIST_TYPE", "SCHEMA_VERSION", "migrate", "schema_version"]

SCHEMA_VERSION = 2
CANONICAL_SCALE = 4  # latency buckets: (2^(j/16), 2^((j+1)/16)] seconds, ratio ≈ 1.044
CONFIDENCE_WIDTH = 0.005  # confidence buckets: (j*0.005, (j+1)*0.005]

# One mergeable histogram value. Exponential when width = 0: bucket j = idx0 + k (k from 0) covers
# (2^(j/2^scale), 2^((j+1)/2^scale)]; linear when width > 0: bucket j covers (j*width, (j+1)*width].
# zero_count counts values equal to 0 (exponential only). sum/min/max are in the wire unit;
# quantiles are multiplied by `unit` (1000 for latency: seconds -> milliseconds).
HIST_TYPE = (
    "STRUCT(scale INTEGER, width DOUBLE, idx0 INTEGER, counts BIGINT[], zero_count BIGINT, "
    "count BIGINT, sum DOUBLE, min DOUBLE, max DOUBLE, unit DOUBLE)"
)

_DIMS = "service, device_id, target, hardware, model, model_version"

# Fleet rollups (collector/rollups.py): per minute (raw retention), hour and day (rollup retention).
_FLEET_TABLES = "\n".join(f"""CREATE TABLE IF NOT EXISTS inference_fleet_{level} (
    bucket TIMESTAMP NOT NULL, window_start TIMESTAMP, window_end TIMESTAMP,
    {FLEET_DIMS.replace(",", " VARCHAR,")} VARCHAR,
    calls BIGINT, errors BIGINT, latency_hist hist, confidence_hist hist, rows BIGINT,
    mem_avg_n BIGINT, mem_avg_sum DOUBLE, mem_avg_sumsq DOUBLE, mem_avg_max DOUBLE,
    mem_peak_n BIGINT, mem_peak_sum DOUBLE, mem_peak_sumsq DOUBLE, mem_peak_max DOUBLE
);""" for level in ("1m", "1h", "1d", "tm_1h"))

_TABLES = f"""
CREATE TYPE IF NOT EXISTS hist AS {HIST_TYPE};
CREATE TABLE IF NOT EXISTS collector_meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE IF NOT EXISTS inference_points (
    series_id UBIGINT NOT NULL, start_ns BIGINT NOT NULL, end_ns BIGINT NOT NULL,
    window_start TIMESTAMP NOT NULL, window_end TIMESTAMP NOT NULL,
    service VARCHAR, device_id VARCHAR, target VARCHAR, hardware VARCHAR,
    model VARCHAR, model_version VARCHAR, error_type VARCHAR,
    calls BIGINT NOT NULL, errors BIGINT NOT NULL,
    latency_hist hist, confidence_hist hist,
    received_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS metric_points (
    series_id UBIGINT NOT NULL, start_ns BIGINT NOT NULL, end_ns BIGINT NOT NULL,
    start_time TIMESTAMP, time TIMESTAMP NOT NULL,
    metric VARCHAR NOT NULL, type VARCHAR NOT NULL, unit VARCHAR, monotonic BOOLEAN,
    service VARCHAR, device_id VARCHAR, target VARCHAR, hardware VARCHAR,
    attributes JSON, resource JSON,
    value DOUBLE, count BIGINT, sum DOUBLE, min DOUBLE, max DOUBLE,
    hist hist, explicit_bounds DOUBLE[], bucket_counts BIGINT[],
    quantiles STRUCT(quantile DOUBLE, value DOUBLE)[],
    received_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS inference_rollup_1h (
    window_start TIMESTAMP NOT NULL, window_end TIMESTAMP NOT NULL,
    {_DIMS.replace(",", " VARCHAR,")} VARCHAR,
    calls BIGINT, errors BIGINT, latency_hist hist, confidence_hist hist,
    memory_rss_sum DOUBLE, memory_rss_count BIGINT, memory_rss_max DOUBLE, windows BIGINT
);
CREATE TABLE IF NOT EXISTS rollup_dirty (hour TIMESTAMP PRIMARY KEY);
{_FLEET_TABLES}
CREATE TABLE IF NOT EXISTS inference_errors_1h (
    hour TIMESTAMP NOT NULL, {FLEET_DIMS.replace(",", " VARCHAR,")} VARCHAR, error_type VARCHAR, errors BIGINT
);
CREATE TABLE IF NOT EXISTS device_hours (
    hour TIMESTAMP NOT NULL, service VARCHAR, device_id VARCHAR, target VARCHAR, hardware VARCHAR,
    first_start TIMESTAMP, last_start_end TIMESTAMP, last_end TIMESTAMP, last_received TIMESTAMP,
    windows BIGINT, gaps BIGINT, gap_seconds DOUBLE,
    agent_calls DOUBLE, agent_dropped_samples DOUBLE, agent_windows_spooled DOUBLE,
    agent_spool_dropped DOUBLE,
    agent_export_failures DOUBLE, agent_bytes_sent DOUBLE, agent_spool_bytes DOUBLE,
    agent_spool_bytes_at TIMESTAMP, agent_spool_windows DOUBLE, agent_spool_windows_at TIMESTAMP,
    agent_overhead_s DOUBLE, agent_overhead_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS inference_devices_1d (
    day TIMESTAMP NOT NULL, service VARCHAR, device_id VARCHAR, target VARCHAR, hardware VARCHAR,
    model VARCHAR, model_version VARCHAR
);
CREATE TABLE IF NOT EXISTS rollup_dirty_1m (minute TIMESTAMP PRIMARY KEY);
CREATE TABLE IF NOT EXISTS regression_findings (
    scanned_at TIMESTAMP, range_start TIMESTAMP, range_end TIMESTAMP,
    model VARCHAR, baseline_version VARCHAR, candidate_version VARCHAR,
    target VARCHAR, hardware VARCHAR, verdict VARCHAR,
    "check" VARCHAR, status VARCHAR, gated BOOLEAN,
    baseline DOUBLE, candidate DOUBLE, effect DOUBLE, effect_kind VARCHAR, threshold DOUBLE,
    ci_low DOUBLE, ci_high DOUBLE, p_value DOUBLE, p_adjusted DOUBLE,
    n_baseline BIGINT, n_candidate BIGINT, test VARCHAR, reason VARCHAR, evidence JSON
);
CREATE TABLE IF NOT EXISTS cumulative_state (
    series_id UBIGINT PRIMARY KEY, start_ns BIGINT, end_ns BIGINT, state BLOB
);
"""

# Pure-SQL macros: list expressions only (no correlated subqueries), linear in the buckets.
_MACROS = """
CREATE OR REPLACE MACRO hist__valid(hs) AS
    list_filter(hs, lambda iw_h: iw_h IS NOT NULL AND iw_h.count > 0);
CREATE OR REPLACE MACRO hist__pad(iw_h, lo, hi) AS
    list_resize(list_concat(list_resize([]::BIGINT[], iw_h.idx0 - lo, 0::BIGINT), iw_h.counts),
                hi - lo, 0::BIGINT);
CREATE OR REPLACE MACRO hist__merge_many(hs) AS (
    list_transform([{
        lo: coalesce(list_min(list_transform(hs, lambda iw_h:
                CASE WHEN len(iw_h.counts) > 0 THEN iw_h.idx0 END)), 0),
        hi: coalesce(list_max(list_transform(hs, lambda iw_h:
                CASE WHEN len(iw_h.counts) > 0 THEN iw_h.idx0 + len(iw_h.counts) END)), 0)
    }], lambda iw_b: {
        scale: hs[1].scale, width: hs[1].width, idx0: iw_b.lo::INTEGER,
        counts: list_reduce(
            list_transform(hs, lambda iw_h: CASE WHEN len(iw_h.counts) = 0
                THEN list_resize([]::BIGINT[], iw_b.hi - iw_b.lo, 0::BIGINT)
                ELSE hist__pad(iw_h, iw_b.lo, iw_b.hi) END),
            lambda iw_a, iw_c: list_transform(list_zip(iw_a, iw_c), lambda iw_t: iw_t[1] + iw_t[2])),
        zero_count: list_sum(list_transform(hs, lambda iw_h: iw_h.zero_count))::BIGINT,
        count: list_sum(list_transform(hs, lambda iw_h: iw_h.count))::BIGINT,
        sum: list_sum(list_transform(hs, lambda iw_h: iw_h.sum)),
        min: list_min(list_transform(hs, lambda iw_h: iw_h.min)),
        max: list_max(list_transform(hs, lambda iw_h: iw_h.max)),
        unit: hs[1].unit
    }::hist)[1]);
-- hist__from_buckets(js, cs): dense counts from ascending bucket indexes js and their counts cs (gaps -> 0).
CREATE OR REPLACE MACRO hist__from_buckets(js, cs) AS
    flatten(list_transform(js, lambda iw_j, iw_i: list_concat(
        list_resize([]::BIGINT[], CASE WHEN iw_i = 1 THEN 0 ELSE iw_j - js[iw_i - 1] - 1 END, 0::BIGINT),
        [cs[iw_i]])));
-- hist_merge(list(h)): one histogram holding every count of the histograms in the list.
CREATE OR REPLACE MACRO hist_merge(hs) AS (
    list_transform([hist__valid(hs)], lambda iw_f:
        CASE WHEN len(iw_f) = 0 THEN NULL::hist
             WHEN len(iw_f) = 1 THEN iw_f[1]
             ELSE hist__merge_many(iw_f) END)[1]);
-- hist_value_quantile(h, q): the q-quantile of one histogram, log-linear (exponential) or linear
-- inside its bucket, clamped to [min, max], times the unit (milliseconds for latency_hist).
CREATE OR REPLACE MACRO hist_value_quantile(h, q) AS (
    list_transform([h], lambda iw_m: list_transform([{
        tot: iw_m.zero_count + coalesce(list_sum(iw_m.counts), 0),
        rank: greatest(least(q::DOUBLE, 1.0), 0.0) * (iw_m.zero_count + coalesce(list_sum(iw_m.counts), 0))
    }], lambda iw_r:
        CASE WHEN iw_m IS NULL OR iw_r.tot = 0 OR q IS NULL THEN NULL::DOUBLE
             WHEN iw_m.zero_count > 0 AND iw_r.rank <= iw_m.zero_count THEN 0.0
             ELSE list_transform([list_reduce(iw_m.counts, lambda iw_acc, iw_c, iw_i:
                      CASE WHEN iw_acc.k >= 0 THEN iw_acc
                           WHEN iw_c > 0 AND iw_acc.cum + iw_c >= iw_r.rank
                               THEN {cum: iw_acc.cum, k: (iw_i - 1)::BIGINT,
                                     frac: ((iw_r.rank - iw_acc.cum) / iw_c)::DOUBLE}
                           ELSE {cum: iw_acc.cum + iw_c, k: -1::BIGINT, frac: 0.0::DOUBLE} END,
                      {cum: iw_m.zero_count::DOUBLE, k: -1::BIGINT, frac: 0.0::DOUBLE})],
                  lambda iw_a: iw_m.unit * greatest(least(
                      CASE WHEN iw_a.k < 0 THEN iw_m.max
                           WHEN iw_m.width > 0 THEN (iw_m.idx0 + iw_a.k + iw_a.frac) * iw_m.width
                           ELSE pow(2.0, (iw_m.idx0 + iw_a.k + iw_a.frac) / pow(2.0, iw_m.scale)) END,
                      iw_m.max), iw_m.min))[1]
        END)[1])[1]);
-- hist_quantile(list(h), q): the q-quantile of the merged histograms (never an average of quantiles).
CREATE OR REPLACE MACRO hist_quantile(hs, q) AS hist_value_quantile(hist_merge(hs), q);
-- hist_mean(list(h)): the mean of every value behind the histograms, times the unit.
CREATE OR REPLACE MACRO hist_mean(hs) AS (
    list_transform([hist_merge(hs)], lambda iw_m:
        CASE WHEN iw_m.count > 0 THEN iw_m.unit * iw_m.sum / iw_m.count END)[1]);
-- hist_count(list(h)): the number of values behind the histograms.
CREATE OR REPLACE MACRO hist_count(hs) AS
    coalesce(list_sum(list_transform(hist__valid(hs), lambda iw_h: iw_h.count)), 0)::BIGINT;
"""

_MEMORY = "inferwatch.process.memory.usage"

# Device hours of the hours not rolled up yet, from the raw points (filtered before any grouping).
_PENDING_DEVICE_HOURS = device_hours_sql(
    "window_start >= (SELECT min(hour) FROM rollup_dirty) "
    "AND time_bucket(INTERVAL 1 HOUR, window_start) IN (SELECT hour FROM rollup_dirty)",
    "time >= (SELECT min(hour) FROM rollup_dirty)",
)

# The columns of one row per window (per-window percentiles cost nothing unless selected),
# shared by `inference_windows` and `inference_windows_pending`: `w` holds the merged windows, `mem` memory.
_WINDOW_SELECT = """
SELECT w.window_start, w.window_end, w.service, w.device_id, w.target, w.hardware, w.model,
       w.model_version, w.calls, w.errors, w.errors / nullif(w.calls, 0) AS error_rate,
       hist_value_quantile(w.latency_hist, 0.50) AS latency_ms_p50,
       hist_value_quantile(w.latency_hist, 0.90) AS latency_ms_p90,
       hist_value_quantile(w.latency_hist, 0.95) AS latency_ms_p95,
       hist_value_quantile(w.latency_hist, 0.99) AS latency_ms_p99,
       w.latency_hist.min * w.latency_hist.unit AS latency_ms_min,
       w.latency_hist.max * w.latency_hist.unit AS latency_ms_max,
       w.latency_hist.sum * w.latency_hist.unit / nullif(w.latency_hist.count, 0) AS latency_ms_mean,
       w.confidence_hist.sum / nullif(w.confidence_hist.count, 0) AS confidence_mean,
       hist_value_quantile(w.confidence_hist, 0.05) AS confidence_p05,
       hist_value_quantile(w.confidence_hist, 0.50) AS confidence_p50,
       mem.memory_rss_avg_bytes, mem.memory_rss_max_bytes,
       w.latency_hist, w.confidence_hist
FROM w LEFT JOIN mem ON mem.service IS NOT DISTINCT FROM w.service
    AND mem.device_id IS NOT DISTINCT FROM w.device_id
    AND mem.window_start = w.window_start AND mem.window_end = w.window_end;"""

_VIEWS = f"""
CREATE OR REPLACE VIEW inference_windows AS
WITH w AS (
    SELECT window_start, window_end, {_DIMS},
           sum(calls)::BIGINT AS calls, sum(errors)::BIGINT AS errors,
           hist_merge(list(latency_hist)) AS latency_hist,
           hist_merge(list(confidence_hist)) AS confidence_hist
    FROM inference_points GROUP BY ALL
), mem AS (
    SELECT service, device_id, start_time AS window_start, time AS window_end,
           sum(sum) / nullif(sum(count), 0) AS memory_rss_avg_bytes, max(max) AS memory_rss_max_bytes
    FROM metric_points WHERE metric = '{_MEMORY}' GROUP BY ALL
)
{_WINDOW_SELECT}

-- The raw windows of hours not rolled up yet (rollup_dirty): filtered before the per-window merge, so
-- this costs next to nothing when the rollups are current. Named queries over long ranges add it to
-- the hourly rollups.
CREATE OR REPLACE VIEW inference_windows_pending AS
WITH w AS (
    SELECT window_start, window_end, {_DIMS},
           sum(calls)::BIGINT AS calls, sum(errors)::BIGINT AS errors,
           hist_merge(list(latency_hist)) AS latency_hist,
           hist_merge(list(confidence_hist)) AS confidence_hist
    FROM inference_points
    WHERE window_start >= (SELECT min(hour) FROM rollup_dirty)
      AND time_bucket(INTERVAL 1 HOUR, window_start) IN (SELECT hour FROM rollup_dirty)
    GROUP BY ALL
), mem AS (
    SELECT service, device_id, start_time AS window_start, time AS window_end,
           sum(sum) / nullif(sum(count), 0) AS memory_rss_avg_bytes, max(max) AS memory_rss_max_bytes
    FROM metric_points WHERE metric = '{_MEMORY}'
        AND start_time >= (SELECT min(hour) FROM rollup_dirty)
    GROUP BY ALL
)
{_WINDOW_SELECT}

CREATE OR REPLACE VIEW inference_windows_1h AS
WITH w AS (
    -- the rollup holds one row per hour x dimensions (Store.rollup), so no GROUP BY / merge here
    SELECT window_start, window_end, {_DIMS}, calls, errors, latency_hist, confidence_hist,
           memory_rss_sum / nullif(memory_rss_count, 0) AS memory_rss_avg_bytes,
           memory_rss_max AS memory_rss_max_bytes
    FROM inference_rollup_1h
)
SELECT window_start, window_end, {_DIMS}, calls, errors, errors / nullif(calls, 0) AS error_rate,
       hist_value_quantile(latency_hist, 0.50) AS latency_ms_p50,
       hist_value_quantile(latency_hist, 0.90) AS latency_ms_p90,
       hist_value_quantile(latency_hist, 0.95) AS latency_ms_p95,
       hist_value_quantile(latency_hist, 0.99) AS latency_ms_p99,
       latency_hist.min * latency_hist.unit AS latency_ms_min,
       latency_hist.max * latency_hist.unit AS latency_ms_max,
       latency_hist.sum * latency_hist.unit / nullif(latency_hist.count, 0) AS latency_ms_mean,
       confidence_hist.sum / nullif(confidence_hist.count, 0) AS confidence_mean,
       hist_value_quantile(confidence_hist, 0.05) AS confidence_p05,
       hist_value_quantile(confidence_hist, 0.50) AS confidence_p50,
       memory_rss_avg_bytes, memory_rss_max_bytes, latency_hist, confidence_hist
FROM w;

CREATE OR REPLACE VIEW devices AS
-- per device × hour summaries (device_hours, kept as long as the raw points), hours not rolled up yet
-- computed from the raw points; gaps across hours from the first window of an hour and the end of the
-- last-starting window of the hour before.
WITH hs AS (
    SELECT * FROM device_hours WHERE hour NOT IN (SELECT hour FROM rollup_dirty)
    UNION ALL BY NAME
    SELECT * FROM ({_PENDING_DEVICE_HOURS}) WHERE hour IN (SELECT hour FROM rollup_dirty)
), gw AS (
    SELECT service, device_id, first_start,
           lag(last_start_end) OVER (PARTITION BY service, device_id ORDER BY hour) AS prev_end
    FROM hs WHERE windows > 0
), x AS (
    SELECT service, device_id, count(*) FILTER (WHERE first_start > prev_end) AS gaps,
           coalesce(sum(epoch(first_start) - epoch(prev_end)) FILTER (WHERE first_start > prev_end), 0)
               AS gap_seconds
    FROM gw GROUP BY service, device_id
)
SELECT h.service, h.device_id, any_value(h.target) AS target, any_value(h.hardware) AS hardware,
       min(h.first_start) AS first_seen, max(h.last_end) AS last_seen, max(h.last_received) AS last_received,
       sum(h.windows)::BIGINT AS windows_received, (sum(h.gaps) + any_value(x.gaps))::BIGINT AS gaps,
       sum(h.gap_seconds) + any_value(x.gap_seconds) AS gap_seconds,
       sum(h.agent_calls) AS agent_calls, sum(h.agent_dropped_samples) AS agent_dropped_samples,
       sum(h.agent_windows_spooled) AS agent_windows_spooled,
       sum(h.agent_spool_dropped) AS agent_spool_dropped,
       sum(h.agent_export_failures) AS agent_export_failures, sum(h.agent_bytes_sent) AS agent_bytes_sent,
       arg_max(h.agent_spool_bytes, h.agent_spool_bytes_at) AS agent_spool_bytes,
       arg_max(h.agent_spool_windows, h.agent_spool_windows_at) AS agent_spool_windows,
       arg_max(h.agent_overhead_s, h.agent_overhead_at) AS agent_overhead_s
FROM hs h JOIN x ON x.service IS NOT DISTINCT FROM h.service AND x.device_id IS NOT DISTINCT FROM h.device_id
GROUP BY h.service, h.device_id;
"""


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version stored in the database, 0 for a new database."""
    try:
        row = con.execute("SELECT value FROM collector_meta WHERE key = 'schema_version'").fetchone()
    except duckdb.CatalogException:
        return 0
    return int(row[0]) if row else 0


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Create or upgrade the schema to SCHEMA_VERSION (macros and views are always refreshed)."""
    current = schema_version(con)
    if current > SCHEMA_VERSION:
        from inferwatch.errors import InferwatchError

        raise InferwatchError(
            f"the database has schema version {current}, newer than this collector's "
            f"{SCHEMA_VERSION} — upgrade inferwatch (`pip install -U 'inferwatch[collector]'`)"
        )
    with transaction(con):
        con.execute(_TABLES)
        con.execute(_MACROS)
        con.execute(_VIEWS)
        if current == 1:
            # 1 -> 2: fleet rollups, error types per hour and device hours, built from what is stored.
            took = build_all(con)
            con.execute(
                "INSERT OR REPLACE INTO collector_meta VALUES ('migration_1_2', ?)", [json.dumps(took)]
            )
        con.execute(
            "INSERT OR REPLACE INTO collector_meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
        )
    return SCHEMA_VERSION
