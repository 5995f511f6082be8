"""The Edge vs cloud page's one read: per version, target and hardware, sums and merged histograms.

Everything the page shows for a model comes from this one query (plus `cost_inputs`): the per-version
table (the `edge_vs_cloud` named query's columns), the percentiles per target behind the verdict, the CDF
and the confidence distribution. Before, four queries (`edge_vs_cloud`, `regression_inputs`,
`fleet_overview`, `latency_cdf`) merged the same windows' histograms again and again; on the month
database one query like this costs about what `regression_inputs` alone did.

It is the dashboard's own query, not a named one: rendered by `inferwatch.queries` like them (rollups
past 6 hours, the standard filters), listed nowhere.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from inferwatch.queries import api
from inferwatch.queries.catalog import parse_query

from .histograms import merge, quantiles

__all__ = ["INPUTS_SQL", "TABLE_COLUMNS", "bound_sql", "table"]

INPUTS_SQL = """-- title: Edge vs cloud inputs (dashboard)
-- description: Per model, version, target and hardware: calls, errors, memory sums, the time covered,
-- description: devices per version and target, and the merged latency and confidence histograms.
-- filters: standard (since, until, service, model, version, target, hardware)
-- rollup: auto
WITH f AS (
    SELECT model, model_version, target, hardware, calls, errors, window_start, window_end,
           mem_avg_n, mem_avg_sum, mem_peak_max, latency_hist, confidence_hist
    FROM {{windows}}
    WHERE {{filters}}
), g AS (
    SELECT model, model_version, target, hardware,
           sum(calls)::BIGINT AS calls, sum(errors)::BIGINT AS errors,
           sum(mem_avg_sum) AS mem_avg_sum, sum(mem_avg_n) AS mem_avg_n, max(mem_peak_max) AS mem_peak_max,
           min(window_start) AS first_start, max(window_end) AS last_end
    FROM f GROUP BY ALL
), d AS ({{devices (model, model_version, target)}}
), lat AS ({{hist_merge f (model, model_version, target, hardware) latency_hist}}
), conf AS ({{hist_merge f (model, model_version, target, hardware) confidence_hist}}
)
SELECT g.*, coalesce(d.devices, 0) AS devices, lat.h AS latency_hist, conf.h AS confidence_hist
FROM g LEFT JOIN d USING (model, model_version, target)
    LEFT JOIN lat USING (model, model_version, target, hardware)
    LEFT JOIN conf USING (model, model_version, target, hardware)
ORDER BY g.model, g.model_version, g.target, g.hardware
"""
_QUERY = parse_query("edge_vs_cloud_inputs", INPUTS_SQL)
TABLE_COLUMNS = ["model", "model_version", "target", "devices", "calls", "error_rate", "latency_ms_p50",
                 "latency_ms_p95", "latency_ms_p99", "latency_ms_mean", "confidence_mean", "confidence_p05",
                 "memory_rss_avg_bytes", "memory_rss_max_bytes", "calls_per_s"]


def bound_sql(params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The query's SQL for these filters (as the named queries take them) and its bound parameters."""
    return api.bound_sql(_QUERY, params)


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _mean(h: dict[str, Any] | None) -> float:
    return h["unit"] * h["sum"] / h["count"] if h is not None and h["count"] else math.nan


def table(inputs: pd.DataFrame) -> pd.DataFrame:
    """Per model, version and target: what the `edge_vs_cloud` named query answers, from the inputs."""
    rows = []
    keys = ["model", "model_version", "target"]
    for (model, version, target), part in (inputs.groupby(keys, sort=True) if not inputs.empty else []):
        lat, conf = merge(part["latency_hist"]), merge(part["confidence_hist"])
        p50, p95, p99 = quantiles(lat, (0.50, 0.95, 0.99))
        calls = int(part["calls"].sum())
        span = pd.Timestamp(part["last_end"].max()) - pd.Timestamp(part["first_start"].min())
        rows.append({
            "model": model, "model_version": version, "target": target,
            "devices": int(part["devices"].iloc[0]),  # per version and target, on each hardware's row
            "calls": calls, "error_rate": _ratio(float(part["errors"].sum()), calls),
            "latency_ms_p50": p50, "latency_ms_p95": p95, "latency_ms_p99": p99,
            "latency_ms_mean": _mean(lat), "confidence_mean": _mean(conf),
            "confidence_p05": quantiles(conf, (0.05,))[0],
            "memory_rss_avg_bytes": _ratio(float(part["mem_avg_sum"].sum()), float(part["mem_avg_n"].sum())),
            "memory_rss_max_bytes": part["mem_peak_max"].max(),
            "calls_per_s": _ratio(calls, span.total_seconds()),
        })
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
