"""SQL of the fleet rollups and the per-device hour summaries (no imports: the named queries use it too).

Fleet rows have no device dimension: one row per time bucket × service × target × hardware × model ×
version (a 1,000-device fleet with 3 models leaves ~40 per bucket instead of ~3,000 per-device rows).
Every level carries the same columns (FLEET_COLUMNS), so a query can read a union of levels:

- `window_start`, `window_end`: the earliest start and latest end of the rows behind (not the bucket);
- `calls`, `errors` (sums) and `latency_hist`, `confidence_hist` (merged: what `hist_merge` gives);
- `rows`: how many rows of the finer source are behind it (raw windows for the minute level, per-device
  hourly rollup rows for the hour and day levels), and memory statistics *over those rows* —
  `mem_avg_n/_sum/_sumsq/_max` of each row's average RSS and `mem_peak_n/_sum/_sumsq/_max` of its peak —
  so an average, standard deviation or maximum over rows reads exactly what it would over the finer rows.
"""

from __future__ import annotations

from .histsql import merge_sql

__all__ = ["DEVICE_HOUR_COLUMNS", "FLEET_COLUMNS", "FLEET_DIMS", "MEMORY_METRIC", "device_hours_sql",
           "device_rows_as_fleet", "fleet_aggregate_sql", "fleet_raw_rows_sql"]

FLEET_DIMS = "service, target, hardware, model, model_version"
MEMORY_METRIC = "inferwatch.process.memory.usage"
_MEM = ("mem_avg_n", "mem_avg_sum", "mem_avg_sumsq", "mem_avg_max",
        "mem_peak_n", "mem_peak_sum", "mem_peak_sumsq", "mem_peak_max")
FLEET_COLUMNS = ("window_start, window_end, " + FLEET_DIMS
                 + ", calls, errors, latency_hist, confidence_hist, rows, " + ", ".join(_MEM))


def _mem_of(avg: str, peak: str) -> str:
    """The memory statistics of one row whose average RSS is `avg` and peak RSS `peak` (NULL: none)."""
    return (f"({avg} IS NOT NULL)::BIGINT AS mem_avg_n, {avg} AS mem_avg_sum, "
            f"{avg} * {avg} AS mem_avg_sumsq, {avg} AS mem_avg_max, "
            f"({peak} IS NOT NULL)::BIGINT AS mem_peak_n, {peak} AS mem_peak_sum, "
            f"{peak} * {peak} AS mem_peak_sumsq, {peak} AS mem_peak_max")


def device_rows_as_fleet(source: str, extra: str = "") -> str:
    """Rows of a per-device source with inference_windows' columns, given the fleet columns (one row each).
    `extra`: more columns to keep (e.g. ", device_id")."""
    return (f"SELECT window_start, window_end, {FLEET_DIMS}{extra}, calls, errors, latency_hist, "
            f"confidence_hist, 1::BIGINT AS rows, {_mem_of('memory_rss_avg_bytes', 'memory_rss_max_bytes')} "
            f"FROM {source}")


def fleet_raw_rows_sql(points_where: str, memory_where: str,
                       hist_columns: dict[str, tuple[str, str]] | None = None) -> str:
    """Un-merged fleet rows from raw data: one per inference point (calls, errors, histograms) and one per
    raw window of `inference_windows` (rows = 1, its memory), in FLEET_COLUMNS. Summed and merged per
    bucket, they give exactly what inference_windows' rows give. `points_where` filters inference_points,
    `memory_where` the memory points of metric_points (both on their own columns). `hist_columns`: instead
    of latency_hist and confidence_hist, these columns (name → (expression over inference_points' columns,
    SQL type)), NULL in the rows of windows."""
    if hist_columns is None:
        hists, nulls = "latency_hist, confidence_hist", "NULL::hist, NULL::hist"
    else:
        hists = ", ".join(f"{e} AS {c}" for c, (e, _) in hist_columns.items())
        nulls = ", ".join(f"NULL::{t}" for _, t in hist_columns.values())
    return f"""
        SELECT window_start, window_end, {FLEET_DIMS}, calls, errors, {hists},
               0::BIGINT AS rows, {", ".join(f"NULL::{'BIGINT' if c.endswith('_n') else 'DOUBLE'} AS {c}"
                                             for c in _MEM)}
        FROM inference_points WHERE {points_where}
        UNION ALL
        SELECT w.window_start, w.window_end, {", ".join("w." + d for d in FLEET_DIMS.split(", "))},
               0::BIGINT, 0::BIGINT, {nulls}, 1::BIGINT, {_mem_of('m.a', 'm.x')}
        FROM (SELECT DISTINCT window_start, window_end, service, device_id, {FLEET_DIMS.split(", ", 1)[1]}
              FROM inference_points WHERE {points_where}) w
        LEFT JOIN (SELECT service, device_id, start_time, time, sum(sum) / nullif(sum(count), 0) AS a,
                          max(max) AS x
                   FROM metric_points WHERE metric = '{MEMORY_METRIC}' AND {memory_where}
                   GROUP BY ALL) m
            ON m.service IS NOT DISTINCT FROM w.service AND m.device_id IS NOT DISTINCT FROM w.device_id
            AND m.start_time = w.window_start AND m.time = w.window_end"""


# The fleet columns besides the histograms, aggregated over rows in FLEET_COLUMNS (the hist-merging
# queries add the merged histograms beside them).
_SCALAR_AGGREGATES = """min(window_start) AS window_start, max(window_end) AS window_end,
    sum(calls)::BIGINT AS calls, sum(errors)::BIGINT AS errors, sum(rows)::BIGINT AS rows,
    coalesce(sum(mem_avg_n), 0)::BIGINT AS mem_avg_n, sum(mem_avg_sum) AS mem_avg_sum,
    sum(mem_avg_sumsq) AS mem_avg_sumsq, max(mem_avg_max) AS mem_avg_max,
    coalesce(sum(mem_peak_n), 0)::BIGINT AS mem_peak_n, sum(mem_peak_sum) AS mem_peak_sum,
    sum(mem_peak_sumsq) AS mem_peak_sumsq, max(mem_peak_max) AS mem_peak_max"""

def fleet_aggregate_sql(source: str, bucket: str) -> str:
    """One fleet row per `bucket` (an expression over `source`'s columns, e.g. a time_bucket of
    window_start) × service × target × hardware × model × version, from rows in FLEET_COLUMNS: sums,
    first start / last end, and histograms merged by bucket index. Columns: bucket, then FLEET_COLUMNS."""
    keys = f"bucket, {FLEET_DIMS}"
    on = " AND ".join(f"{{a}}.{k} IS NOT DISTINCT FROM agg.{k}" for k in keys.split(", "))
    return f"""
        WITH iw_src AS (SELECT {bucket} AS bucket, * FROM ({source})),
        agg AS (
            SELECT {keys}, {_SCALAR_AGGREGATES}
            FROM iw_src GROUP BY ALL
        ), lat AS ({merge_sql("iw_src", keys, "latency_hist")}
        ), conf AS ({merge_sql("iw_src", keys, "confidence_hist")})
        SELECT agg.bucket, agg.window_start, agg.window_end,
               {", ".join("agg." + d for d in FLEET_DIMS.split(", "))},
               agg.calls, agg.errors, lat.h AS latency_hist, conf.h AS confidence_hist, agg.rows,
               {", ".join("agg." + c for c in _MEM)}
        FROM agg LEFT JOIN lat ON {on.format(a="lat")} LEFT JOIN conf ON {on.format(a="conf")}"""


# Per device and hour, what the `devices` view needs: windows are grouped by start as that view does (a
# window = an inference window or an agent heartbeat `inferwatch.agent.calls`), gaps inside the hour,
# the first start and the end of the last-starting window (gaps across hours), agent counters summed
# and the latest value of agent gauges with its time.
DEVICE_HOUR_COLUMNS = (
    "hour, service, device_id, target, hardware, first_start, last_start_end, last_end, last_received, "
    "windows, gaps, gap_seconds, agent_calls, agent_dropped_samples, agent_windows_spooled, "
    "agent_spool_dropped, agent_export_failures, agent_bytes_sent, agent_spool_bytes, agent_spool_bytes_at, "
    "agent_spool_windows, agent_spool_windows_at, agent_overhead_s, agent_overhead_at"
)


_SUMS = {"calls": "agent_calls", "samples.dropped": "agent_dropped_samples",
         "windows.spooled": "agent_windows_spooled", "spool.dropped": "agent_spool_dropped",
         "export.failures": "agent_export_failures", "bytes.sent": "agent_bytes_sent"}
_LATEST = {"spool.size": "agent_spool_bytes", "spool.windows": "agent_spool_windows",
           "overhead": "agent_overhead_s"}
_AGENT = ",\n                   ".join(
    [f"sum(value) FILTER (WHERE metric = 'inferwatch.agent.{m}') AS {c}" for m, c in _SUMS.items()]
    + [f"arg_max(value, time) FILTER (WHERE metric = 'inferwatch.agent.{m}') AS {c}, "
       f"max(time) FILTER (WHERE metric = 'inferwatch.agent.{m}') AS {c.removesuffix('_s')}_at"
       for m, c in _LATEST.items()])


def device_hours_sql(points_where: str, metrics_where: str) -> str:
    """Rows of `device_hours` (DEVICE_HOUR_COLUMNS) from raw data; `points_where` filters inference_points,
    `metrics_where` metric_points (each on its own columns; hours are those of window starts for windows
    and of `time` for agent metrics)."""
    return f"""
        WITH p AS (
            SELECT service, device_id, target, hardware, window_start, window_end, received_at
            FROM inference_points WHERE {points_where}
            UNION ALL
            SELECT service, device_id, target, hardware, start_time, time, received_at
            FROM metric_points WHERE metric = 'inferwatch.agent.calls' AND {metrics_where}
        ), w AS (
            SELECT service, device_id, any_value(target) AS target, any_value(hardware) AS hardware,
                   window_start, max(window_end) AS window_end, max(received_at) AS received_at
            FROM p GROUP BY service, device_id, window_start
        ), g AS (
            SELECT *, time_bucket(INTERVAL 1 HOUR, window_start) AS hour,
                   lag(window_end) OVER (
                       PARTITION BY service, device_id, time_bucket(INTERVAL 1 HOUR, window_start)
                       ORDER BY window_start) AS prev_end
            FROM w
        ), wh AS (
            SELECT hour, service, device_id, any_value(target) AS target, any_value(hardware) AS hardware,
                   min(window_start) AS first_start, arg_max(window_end, window_start) AS last_start_end,
                   max(window_end) AS last_end, max(received_at) AS last_received, count(*) AS windows,
                   count(*) FILTER (WHERE window_start > prev_end) AS gaps,
                   coalesce(sum(epoch(window_start) - epoch(prev_end))
                                FILTER (WHERE window_start > prev_end), 0) AS gap_seconds
            FROM g GROUP BY hour, service, device_id
        ), agent AS (
            SELECT time_bucket(INTERVAL 1 HOUR, time) AS hour, service, device_id,
                   {_AGENT}
            FROM metric_points WHERE metric LIKE 'inferwatch.agent.%' AND {metrics_where} GROUP BY ALL
        )
        SELECT coalesce(wh.hour, agent.hour) AS hour, coalesce(wh.service, agent.service) AS service,
               coalesce(wh.device_id, agent.device_id) AS device_id, wh.target, wh.hardware,
               wh.first_start, wh.last_start_end, wh.last_end, wh.last_received,
               coalesce(wh.windows, 0) AS windows, coalesce(wh.gaps, 0) AS gaps,
               coalesce(wh.gap_seconds, 0) AS gap_seconds, agent.agent_calls, agent.agent_dropped_samples,
               agent.agent_windows_spooled, agent.agent_spool_dropped, agent.agent_export_failures,
               agent.agent_bytes_sent, agent.agent_spool_bytes, agent.agent_spool_bytes_at,
               agent.agent_spool_windows, agent.agent_spool_windows_at, agent.agent_overhead_s,
               agent.agent_overhead_at
        FROM wh FULL JOIN agent ON agent.hour = wh.hour AND agent.service IS NOT DISTINCT FROM wh.service
            AND agent.device_id IS NOT DISTINCT FROM wh.device_id"""


def _fleet_1h_from_device_rows(where: str) -> str:
    """fleet_1h rows (bucket, FLEET_COLUMNS) from the per-device hourly rollups matching `where`."""
    return fleet_aggregate_sql(device_rows_as_fleet(f"inference_windows_1h WHERE {where}"), "window_start")


def _fleet_1d_from_hours(where: str) -> str:
    """fleet_1d rows from the inference_fleet_1h rows matching `where`."""
    return fleet_aggregate_sql(
        f"SELECT {FLEET_COLUMNS}, bucket AS iw_hour FROM inference_fleet_1h WHERE {where}",
        "time_bucket(INTERVAL 1 DAY, iw_hour)")


def _devices_1d(where: str) -> str:
    """inference_devices_1d rows: which device sent what on each day, from the per-device hourly rollups."""
    return (f"SELECT DISTINCT time_bucket(INTERVAL 1 DAY, window_start) AS day, service, device_id, "
            f"{FLEET_DIMS.split(', ', 1)[1]} FROM inference_rollup_1h WHERE {where}")


def _fleet_tm_from_hours(where: str) -> str:
    """inference_fleet_tm_1h rows: the fleet hours matching `where` merged over service, hardware and
    version (those columns NULL), for questions asked per target and model only."""
    cols = FLEET_COLUMNS.replace("service", "NULL::VARCHAR AS service").replace(
        "hardware", "NULL::VARCHAR AS hardware").replace("model_version", "NULL::VARCHAR AS model_version")
    return fleet_aggregate_sql(f"SELECT {cols}, bucket AS iw_hour FROM inference_fleet_1h WHERE {where}",
                               "iw_hour")


def _errors_1h(points_where: str) -> str:
    return (f"SELECT time_bucket(INTERVAL 1 HOUR, window_start) AS hour, {FLEET_DIMS}, error_type, "
            f"sum(calls)::BIGINT AS errors FROM inference_points "
            f"WHERE error_type IS NOT NULL AND {points_where} GROUP BY ALL")


def _fleet_1m(points_where: str, memory_where: str) -> str:
    return fleet_aggregate_sql(fleet_raw_rows_sql(points_where, memory_where),
                               "time_bucket(INTERVAL 1 MINUTE, window_start)")


def refresh_hours(con, hours_table: str) -> None:
    """Recompute every derived row of the hours in `hours_table` (a table with a column `hour`) after
    their per-device rollups were: fleet hours, the fleet days that contain them, error types and device
    hours. Runs inside the caller's transaction."""
    rng = f"(SELECT min(hour) FROM {hours_table})"
    end = f"(SELECT max(hour) + INTERVAL 1 HOUR FROM {hours_table})"
    in_hours = f"IN (SELECT hour FROM {hours_table})"
    con.execute(f"DELETE FROM inference_fleet_1h WHERE bucket {in_hours}")
    con.execute(f"INSERT INTO inference_fleet_1h {_fleet_1h_from_device_rows(f'window_start {in_hours}')}")
    con.execute(f"DELETE FROM inference_fleet_tm_1h WHERE bucket {in_hours}")
    con.execute(f"INSERT INTO inference_fleet_tm_1h {_fleet_tm_from_hours(f'bucket {in_hours}')}")
    days = f"(SELECT DISTINCT time_bucket(INTERVAL 1 DAY, hour) FROM {hours_table})"
    con.execute(f"DELETE FROM inference_fleet_1d WHERE bucket IN {days}")
    con.execute(f"INSERT INTO inference_fleet_1d "
                f"{_fleet_1d_from_hours(f'time_bucket(INTERVAL 1 DAY, bucket) IN {days}')}")
    con.execute(f"DELETE FROM inference_devices_1d WHERE day IN {days}")
    in_days = (f"window_start >= (SELECT min(time_bucket(INTERVAL 1 DAY, hour)) FROM {hours_table}) "
               f"AND time_bucket(INTERVAL 1 DAY, window_start) IN {days}")
    con.execute(f"INSERT INTO inference_devices_1d {_devices_1d(in_days)}")
    raw = (f"window_start >= {rng} AND window_start < {end} "
           f"AND time_bucket(INTERVAL 1 HOUR, window_start) {in_hours}")
    con.execute(f"DELETE FROM inference_errors_1h WHERE hour {in_hours}")
    con.execute(f"INSERT INTO inference_errors_1h {_errors_1h(raw)}")
    con.execute(f"DELETE FROM device_hours WHERE hour {in_hours}")
    con.execute(f"INSERT INTO device_hours SELECT * FROM ({device_hours_sql(raw, f'time >= {rng}')}) "
                f"WHERE hour {in_hours}")


_HISTS = {"latency_hist": "iw_lat", "confidence_hist": "iw_conf"}
_HIST_FIELDS = {"count": "BIGINT", "scale": "INTEGER", "width": "DOUBLE", "unit": "DOUBLE",
                "zero_count": "BIGINT", "sum": "DOUBLE", "min": "DOUBLE", "max": "DOUBLE"}


def _fleet_1m_groups(points_where: str, memory_where: str) -> str:
    """_fleet_1m's rows (bucket, FLEET_COLUMNS) but the histograms, as columns: per histogram column (prefix p
    of _HISTS) what merge_sql gives besides the buckets — over its valid histograms (not NULL, count > 0),
    how many (p_n), any scale/width/unit, the sums of zero_count, count and sum, min of min, max of max,
    and p_sum1 the sum of a lone one as it is — and `iw_rows`, the rowids of the group's inference_points."""
    cols = {"iw_row": ("rowid", "BIGINT")}
    for c, p in _HISTS.items():
        cols.update({f"{p}_{f}": (f"CASE WHEN {c}.count > 0 THEN {c}.{f} END", t)
                     for f, t in _HIST_FIELDS.items()})
    hists = ", ".join(
        f"count({p}_count) AS {p}_n, any_value({p}_scale) AS {p}_scale, any_value({p}_width) AS {p}_width, "
        f"any_value({p}_unit) AS {p}_unit, sum({p}_zero_count)::BIGINT AS {p}_zero_count, "
        f"sum({p}_count)::BIGINT AS {p}_count, sum({p}_sum) AS {p}_sum, any_value({p}_sum) AS {p}_sum1, "
        f"min({p}_min) AS {p}_min, max({p}_max) AS {p}_max" for p in _HISTS.values())
    return f"""
        SELECT time_bucket(INTERVAL 1 MINUTE, window_start) AS bucket, {FLEET_DIMS},
               {_SCALAR_AGGREGATES}, {hists},
               list(iw_row) FILTER (WHERE iw_row IS NOT NULL) AS iw_rows
        FROM ({fleet_raw_rows_sql(points_where, memory_where, cols)}) GROUP BY ALL"""


def _fleet_1m_from_groups(groups: str) -> str:
    """inference_fleet_1m rows from `groups`: _fleet_1m_groups' columns plus p_idx0 and p_counts, the merged
    buckets of each histogram column (histmerge.merge_groups)."""
    def hist(p: str) -> str:
        return (f"CASE WHEN {p}_n > 0 THEN {{scale: {p}_scale, width: {p}_width, idx0: {p}_idx0::INTEGER, "
                f"counts: {p}_counts, zero_count: {p}_zero_count, count: {p}_count, "
                f"sum: CASE WHEN {p}_n = 1 THEN {p}_sum1 ELSE {p}_sum END, min: {p}_min, max: {p}_max, "
                f"unit: {p}_unit}}::hist END")
    return (f"SELECT bucket, window_start, window_end, {FLEET_DIMS}, calls, errors, {hist('iw_lat')}, "
            f"{hist('iw_conf')}, rows, {', '.join(_MEM)} FROM {groups}")


def _minute_runs(minutes: list) -> list[tuple]:
    """[start, end) of each run of consecutive minutes (sorted datetimes)."""
    from datetime import timedelta

    runs: list[list] = []
    for m in minutes:
        if runs and runs[-1][1] == m:
            runs[-1][1] = m + timedelta(minutes=1)
        else:
            runs.append([m, m + timedelta(minutes=1)])
    return [tuple(r) for r in runs]


def refresh_minutes(con, minutes_table: str) -> None:
    """Recompute the inference_fleet_1m rows of the minutes in `minutes_table` (a column `minute`) from
    the raw points. Runs inside the caller's transaction.

    Histogram buckets are merged in numpy (histmerge.merge_groups: ~10x cheaper than merge_sql's unnest +
    GROUP BY), everything else in SQL; the rows are what `_fleet_1m` gives (which stays the fallback)."""
    minutes = [r[0] for r in con.execute(
        f"SELECT DISTINCT minute FROM {minutes_table} "
        f"WHERE minute = time_bucket(INTERVAL 1 MINUTE, minute) ORDER BY minute").fetchall()]
    con.execute(f"DELETE FROM inference_fleet_1m WHERE bucket IN (SELECT minute FROM {minutes_table})")
    for i in range(0, len(minutes), _MINUTES_PER_PASS):
        _insert_fleet_minutes(con, _minute_runs(minutes[i:i + _MINUTES_PER_PASS]))


# Minutes merged at a time: bounds the counts held in memory (~1.3 M a minute for a 1,000-device fleet)
# and the ranges ORed in the scan's filter.
_MINUTES_PER_PASS = 16


def _insert_fleet_minutes(con, runs: list[tuple]) -> None:
    """Insert the inference_fleet_1m rows of the minutes in `runs` ([start, end) datetimes)."""
    import pyarrow as pa

    from .histmerge import merge_groups

    ts = "TIMESTAMP '{:%Y-%m-%d %H:%M:%S}'".format
    # a filter on window_start alone is applied by the scan itself (no join for the list columns to pass)
    points_where = " OR ".join(f"(window_start >= {ts(a)} AND window_start < {ts(b)})" for a, b in runs)
    memory_where = f"start_time >= {ts(runs[0][0])} AND start_time < {ts(runs[-1][1])}"
    # con.sql (Arrow without a copy) refuses to run while a DB-API result is unfinished: every execute before
    # it here is fetched to the end or returns no rows
    groups = con.sql(_fleet_1m_groups(points_where, memory_where)).to_arrow_table()
    merged = merge_groups(con, points_where, groups.column("iw_rows"), _HISTS)
    if merged is None:
        con.execute(f"INSERT INTO inference_fleet_1m {_fleet_1m(points_where, memory_where)}")
        return
    groups = groups.drop_columns(["iw_rows"])
    for c, p in _HISTS.items():
        _, idx0, counts = merged[c]
        groups = groups.append_column(f"{p}_idx0", pa.array(idx0.data, mask=idx0.mask))
        groups = groups.append_column(f"{p}_counts", counts)
    con.register("iw_fleet_groups", groups)
    try:
        con.execute(f"INSERT INTO inference_fleet_1m {_fleet_1m_from_groups('iw_fleet_groups')}")
    finally:
        con.unregister("iw_fleet_groups")


def refresh_day_at(con, cut) -> None:
    """After retention removed fleet hours before `cut`: drop fleet days that ended before it and
    recompute the day that contains it from the fleet hours left. Inside the caller's transaction."""
    day = "time_bucket(INTERVAL 1 DAY, ?::TIMESTAMP)"
    con.execute(f"DELETE FROM inference_fleet_1d WHERE bucket < {day}", [cut])
    con.execute(f"DELETE FROM inference_devices_1d WHERE day < {day}", [cut])
    if con.execute(f"SELECT count(*) FROM inference_fleet_1d WHERE bucket = {day} AND window_start < ?",
                   [cut, cut]).fetchone()[0]:
        con.execute(f"DELETE FROM inference_fleet_1d WHERE bucket = {day}", [cut])
        con.execute(f"INSERT INTO inference_fleet_1d "
                    f"{_fleet_1d_from_hours(f'time_bucket(INTERVAL 1 DAY, bucket) = {day}')}", [cut])
        con.execute(f"DELETE FROM inference_devices_1d WHERE day = {day}", [cut])
        con.execute(f"INSERT INTO inference_devices_1d "
                    f"{_devices_1d(f'time_bucket(INTERVAL 1 DAY, window_start) = {day}')}", [cut])


def build_all(con, log=None) -> dict:
    """Build every derived table from the stored points and per-device rollups (the schema 1 → 2
    migration; the benchmark's generator). Fleet minutes are built an hour of raw points at a time.
    Returns seconds per step. Runs inside the caller's transaction."""
    import time

    took = {}
    t = time.perf_counter()
    for table in ("inference_fleet_1m", "inference_fleet_1h", "inference_fleet_1d", "inference_fleet_tm_1h",
                  "inference_errors_1h", "device_hours", "inference_devices_1d"):
        con.execute(f"DELETE FROM {table}")
    con.execute(f"INSERT INTO inference_fleet_1h {_fleet_1h_from_device_rows('true')}")
    took["fleet_1h_s"] = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(f"INSERT INTO inference_fleet_1d {_fleet_1d_from_hours('true')}")
    con.execute(f"INSERT INTO inference_fleet_tm_1h {_fleet_tm_from_hours('true')}")
    took["fleet_1d_s"] = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(f"INSERT INTO inference_errors_1h {_errors_1h('true')}")
    con.execute(f"INSERT INTO inference_devices_1d {_devices_1d('true')}")
    con.execute(f"INSERT INTO device_hours {device_hours_sql('true', 'true')}")
    took["errors_device_hours_s"] = time.perf_counter() - t
    t = time.perf_counter()
    hours = [r[0] for r in con.execute(
        "SELECT DISTINCT time_bucket(INTERVAL 1 HOUR, window_start) AS h FROM inference_points ORDER BY h"
    ).fetchall()]
    for hour in hours:
        lo = f"TIMESTAMP '{hour:%Y-%m-%d %H:%M:%S}'"
        con.execute(f"""INSERT INTO inference_fleet_1m {_fleet_1m(
            f"window_start >= {lo} AND window_start < {lo} + INTERVAL 1 HOUR",
            f"start_time >= {lo} AND start_time < {lo} + INTERVAL 1 HOUR")}""")
        if log:
            log(f"fleet minutes of {hour}")
    took["fleet_1m_s"] = time.perf_counter() - t
    return {k: round(v, 2) for k, v in took.items()}
