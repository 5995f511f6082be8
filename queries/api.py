"""Run named queries and raw SQL through a Source."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

from inferwatch.collector.histsql import merge_sql
from inferwatch.collector.rollups import FLEET_COLUMNS, FLEET_DIMS, device_rows_as_fleet, fleet_raw_rows_sql

from .catalog import FILTER_CLAUSE, NamedQuery, get_query
from .params import bind_params
from .source import Source, connect

__all__ = ["RAW_HOURS", "Plan", "bound_sql", "describe", "plan", "render", "run", "run_arrow", "sql"]

# Ranges longer than this read rollups: minute resolution is not needed there, and merging a day of a
# 1,000-device fleet's 1-minute windows (~8.6 M histograms) cannot be interactive.
RAW_HOURS = 6
_DIRTY_HOURS = "(SELECT hour FROM rollup_dirty)"
_DIRTY_DAYS = "(SELECT DISTINCT time_bucket(INTERVAL 1 DAY, hour) FROM rollup_dirty)"
# Raw points of hours not rolled up yet (normally only the current one), filtered before anything else.
_PENDING_POINTS = (f"window_start >= (SELECT min(hour) FROM rollup_dirty) "
                   f"AND time_bucket(INTERVAL 1 HOUR, window_start) IN {_DIRTY_HOURS}")
_DIMS = "window_start, service, device_id, target, hardware, model, model_version"
# Per-device hourly rollups, except hours the collector has not rolled up yet (normally the current one,
# rolled up every minute): those are read from the raw windows, so fresh points count at once and once.
_HOURLY = f"""(SELECT * FROM inference_windows_1h WHERE window_start NOT IN {_DIRTY_HOURS}
    UNION ALL BY NAME
    SELECT * FROM inference_windows_pending
)"""
# {{hist_merge SOURCE (KEYS) COLUMN}}: per group of KEYS, the histograms of COLUMN merged (column h).
_MERGE = re.compile(r"\{\{hist_merge (\w+) \(([\w, ]+)\) (\w+)\}\}")
# {{devices (KEYS)}}: per group of KEYS, the number of distinct devices in the range (column devices).
_DEVICES = re.compile(r"\{\{devices \(([\w, ]+)\)\}\}")
_FMT = "%Y-%m-%d %H:%M:%S.%f"


def _ts(value: datetime) -> str:
    return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"


def _floor(value: datetime, unit: timedelta) -> datetime:
    return datetime.min + (value - datetime.min) // unit * unit


def _ceil(value: datetime, unit: timedelta) -> datetime:
    floor = _floor(value, unit)
    return floor if floor == value else floor + unit


@dataclass(frozen=True)
class Plan:
    """Where a named query reads, with the SQL of each source: `raw` (the 1-minute windows), `minutes` (fleet
    minutes, raw points at the range's ends and for minutes not rolled up yet), `hourly` (per-device hourly
    rollups) or `fleet` (fleet days, hours, and minutes of the hours not rolled up yet)."""

    level: str
    windows: str  # {{windows}}: inference_windows' columns plus rows and mem_* (rollups.FLEET_COLUMNS)
    presence: str  # (window_start, service, device_id, target, hardware, model, model_version) per device
    error_types: str  # (window_start, service, target, hardware, model, model_version, error_type, errors)


def plan(query: NamedQuery, bound: dict[str, Any]) -> Plan:
    """Choose the coarsest source that answers the query exactly (see docs/queries.md)."""
    raw_errors = ("(SELECT window_start, service, target, hardware, model, model_version, error_type, "
                  "calls AS errors FROM inference_points WHERE error_type IS NOT NULL)")
    since = bound.get("since")
    until = bound.get("until")
    span = None
    if since and until:
        since, until = datetime.strptime(since, _FMT), datetime.strptime(until, _FMT)
        span = until - since
    raw_presence = f"(SELECT {_DIMS} FROM inference_points)"
    per_device = any(bound.get(name) is not None for name in query.per_device)
    if query.rollup != "auto" or span is None or (span <= timedelta(hours=RAW_HOURS) and per_device):
        return Plan("raw", f"({device_rows_as_fleet('inference_windows', ', device_id')})", raw_presence,
                    raw_errors)
    cols = f"{FLEET_COLUMNS}, NULL::VARCHAR AS device_id"
    if span <= timedelta(hours=RAW_HOURS):
        # Fleet minutes for the minutes wholly inside the range and rolled up; raw points for the rest
        # (the minutes at either end, and those not rolled up yet), filtered exactly by {{filters}}.
        minute = timedelta(minutes=1)
        m_lo, m_hi = _ceil(since, minute), _floor(until, minute)
        dirty = "(SELECT minute FROM rollup_dirty_1m)"
        lo, hi = _ts(since.replace(microsecond=0)), _ts(_ceil(until, minute))
        inside = f"window_start >= {_ts(m_lo)} AND window_start < {_ts(m_hi)}"
        rest = fleet_raw_rows_sql(
            f"window_start >= {lo} AND window_start < {hi} AND (NOT ({inside}) "
            f"OR time_bucket(INTERVAL 1 MINUTE, window_start) IN {dirty})",
            f"start_time >= {lo} AND start_time < {hi}")
        windows = (f"(SELECT {cols} FROM inference_fleet_1m WHERE bucket >= {_ts(m_lo)} "
                   f"AND bucket < {_ts(m_hi)} AND bucket NOT IN {dirty}\n"
                   f"    UNION ALL SELECT {cols} FROM ({rest}))")
        # devices: per-device hourly rollups' keys for whole hours inside the range, raw points for the rest
        h_lo, h_hi = _ceil(since, timedelta(hours=1)), _floor(until, timedelta(hours=1))
        whole = (f"window_start >= {_ts(h_lo)} AND window_start < {_ts(h_hi)} "
                 f"AND time_bucket(INTERVAL 1 HOUR, window_start) NOT IN {_DIRTY_HOURS}")
        presence = f"""(SELECT {_DIMS} FROM inference_rollup_1h WHERE {whole}
        UNION ALL
        SELECT {_DIMS} FROM inference_points
        WHERE window_start >= {lo} AND window_start < {hi} AND NOT ({whole}))"""
        return Plan("minutes", windows, presence, raw_errors)
    hour, day = timedelta(hours=1), timedelta(days=1)
    h_lo, h_hi = _ceil(since, hour), _ceil(until, hour)  # hours h with since <= h < until
    hours = f"bucket >= {_ts(h_lo)} AND bucket < {_ts(h_hi)}"
    # whole days inside the range, unless the rows must stay finer than a day (time buckets)
    d_lo, d_hi = _ceil(h_lo, day), _floor(h_hi, day)
    grain = int(bound.get(query.grain) or 0) if query.grain else 0
    use_days = d_lo < d_hi and (not query.grain or (grain > 0 and grain % 1440 == 0))

    def in_days(col: str) -> str:  # `col` falls on a whole day inside the range, none of it rolled up again
        return (f"{col} >= {_ts(d_lo)} AND {col} < {_ts(d_hi)} AND time_bucket(INTERVAL 1 DAY, {col}) "
                f"NOT IN {_DIRTY_DAYS}") if use_days else "false"

    # which device sent what: per-device days and hours (their keys only), raw points of unrolled hours
    presence = f"""(SELECT day AS window_start, {_DIMS.split(", ", 1)[1]} FROM inference_devices_1d
        WHERE {in_days("day")}
        UNION ALL
        SELECT {_DIMS} FROM inference_rollup_1h
        WHERE window_start >= {_ts(h_lo)} AND window_start < {_ts(h_hi)}
          AND window_start NOT IN {_DIRTY_HOURS} AND NOT ({in_days("window_start")})
        UNION ALL
        SELECT {_DIMS} FROM inference_points WHERE {_PENDING_POINTS})"""
    error_types = f"""(SELECT hour AS window_start, {FLEET_DIMS}, error_type, errors FROM inference_errors_1h
        WHERE hour >= {_ts(h_lo)} AND hour < {_ts(h_hi)} AND hour NOT IN {_DIRTY_HOURS}
        UNION ALL
        SELECT window_start, {FLEET_DIMS}, error_type, calls FROM inference_points
        WHERE error_type IS NOT NULL AND {_PENDING_POINTS})"""
    if per_device:
        return Plan("hourly", f"({device_rows_as_fleet(_HOURLY, ', device_id')})", presence, error_types)
    parts = []
    if use_days:
        parts.append(f"SELECT {cols} FROM inference_fleet_1d WHERE {in_days('bucket')}")
        hours += f" AND NOT ({in_days('bucket')})"
    # grouped by target and model only, with no service, hardware or version filter: hours merged over those
    coarse = bool(query.dims) and set(query.dims) <= {"target", "model"} and all(
        bound.get(k) is None for k in ("service", "hardware", "version"))
    table = "inference_fleet_tm_1h" if coarse else "inference_fleet_1h"
    parts.append(f"SELECT {cols} FROM {table} WHERE {hours} AND bucket NOT IN {_DIRTY_HOURS}")
    # hours not rolled up yet: their fleet minutes, and raw points of the minutes not rolled up either
    parts.append(f"""SELECT {cols} FROM inference_fleet_1m
        WHERE bucket >= (SELECT min(hour) FROM rollup_dirty)
          AND time_bucket(INTERVAL 1 HOUR, bucket) IN {_DIRTY_HOURS}
          AND bucket NOT IN (SELECT minute FROM rollup_dirty_1m)""")
    pending = fleet_raw_rows_sql(
        "window_start >= (SELECT min(minute) FROM rollup_dirty_1m) "
        "AND time_bucket(INTERVAL 1 MINUTE, window_start) IN (SELECT minute FROM rollup_dirty_1m) "
        f"AND time_bucket(INTERVAL 1 HOUR, window_start) IN {_DIRTY_HOURS}",
        "start_time >= (SELECT min(minute) FROM rollup_dirty_1m)")
    parts.append(f"SELECT {cols} FROM ({pending})")
    return Plan("fleet", "(" + "\n    UNION ALL ".join(parts) + ")", presence, error_types)


def describe(name: str) -> NamedQuery:
    """The named query with its title, description and parameters."""
    return get_query(name)


def bound_sql(query: NamedQuery, params: dict[str, Any] | None = None,
              now: datetime | None = None) -> tuple[str, dict[str, Any]]:
    """The SQL of `query` for these parameters (CLI text or Python values), and the bound parameters."""
    bound = bind_params(query.params, dict(params or {}), query.name, now)
    return render(query, bound), bound


def _bound(name: str, params: dict[str, Any] | None, now: datetime | None) -> tuple[str, dict[str, Any]]:
    return bound_sql(get_query(name), params, now)


def run(name: str, params: dict[str, Any] | None = None, source: Source | None = None, *,
        now: datetime | None = None) -> pd.DataFrame:
    """Run a named query with parameters (CLI text or Python values); defaults fill the rest."""
    return (source or connect()).query(*_bound(name, params, now))


def run_arrow(name: str, params: dict[str, Any] | None = None, source: Source | None = None, *,
              now: datetime | None = None) -> pa.Table:
    """`run`, answered as an Arrow table: histogram columns stay nested arrays (no JSON, no pandas)."""
    return (source or connect()).arrow(*_bound(name, params, now))


def render(query: NamedQuery, bound: dict[str, Any]) -> str:
    """The SQL to run: `{{filters}}` becomes the standard filters; `{{windows}}`, `{{devices (KEYS)}}` and
    `{{error_types}}` the sources `plan` chooses (raw windows up to RAW_HOURS, else fleet rollups, or
    per-device hourly rollups when a per-device parameter is set); `{{hist_merge SOURCE (KEYS) COLUMN}}` a
    subquery of KEYS and `h`, the merged histograms (what `hist_merge(list(COLUMN))` per group gives,
    computed by unnest + GROUP BY bucket index: ~20× cheaper than folding thousands of lists)."""
    p = plan(query, bound)
    text = _MERGE.sub(lambda m: merge_sql(m[1], m[2], m[3]), query.sql)
    text = _DEVICES.sub(lambda m: f"SELECT {m[1]}, count(DISTINCT device_id) AS devices FROM {p.presence} "
                                  f"WHERE {FILTER_CLAUSE} GROUP BY ALL", text)
    return (text.replace("{{windows}}", p.windows).replace("{{error_types}}", p.error_types)
            .replace("{{filters}}", FILTER_CLAUSE))


def sql(text: str, params: dict[str, Any] | None = None, source: Source | None = None) -> pd.DataFrame:
    """Run raw read-only SQL."""
    return (source or connect()).query(text, params or {})
