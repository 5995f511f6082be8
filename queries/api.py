"""Run named queries and raw SQL through a Source."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from inferwatch.collector.histsql import merge_sql

from .catalog import FILTER_CLAUSE, NamedQuery, get_query
from .params import bind_params
from .source import Source, connect

__all__ = ["RAW_HOURS", "describe", "render", "run", "sql"]

# Ranges longer than this read the hourly rollups: minute resolution is not needed there, and merging
# a day of a 1,000-device fleet's 1-minute windows (~8.6 M histograms) cannot be interactive.
RAW_HOURS = 6
# Hourly rollups, except hours the collector has not rolled up yet (normally the current one, rolled up
# every minute): those are read from the raw windows, so fresh points count at once and exactly once.
_HOURLY = """(SELECT * FROM inference_windows_1h WHERE window_start NOT IN (SELECT hour FROM rollup_dirty)
    UNION ALL BY NAME
    SELECT * FROM inference_windows_pending
) AS inference_windows_1h"""
# {{hist_merge SOURCE (KEYS) COLUMN}}: per group of KEYS, the histograms of COLUMN merged (column h).
_MERGE = re.compile(r"\{\{hist_merge (\w+) \(([\w, ]+)\) (\w+)\}\}")
_FMT = "%Y-%m-%d %H:%M:%S.%f"


def describe(name: str) -> NamedQuery:
    """The named query with its title, description and parameters."""
    return get_query(name)


def run(name: str, params: dict[str, Any] | None = None, source: Source | None = None, *,
        now: datetime | None = None) -> pd.DataFrame:
    """Run a named query with parameters (CLI text or Python values); defaults fill the rest."""
    query = get_query(name)
    bound = bind_params(query.params, dict(params or {}), name, now)
    return (source or connect()).query(render(query, bound), bound)


def render(query: NamedQuery, bound: dict[str, Any]) -> str:
    """The SQL to run: `{{filters}}` becomes the standard filters, `{{windows}}` the raw view or,
    for ranges longer than RAW_HOURS, the hourly rollup, and `{{hist_merge SOURCE (KEYS) COLUMN}}` a
    subquery of KEYS and `h`, the merged histograms (what `hist_merge(list(COLUMN))` per group gives,
    computed by unnest + GROUP BY bucket index: ~20× cheaper than folding thousands of lists)."""
    windows = "inference_windows"
    if query.rollup == "auto" and bound.get("since") and bound.get("until"):
        span = datetime.strptime(bound["until"], _FMT) - datetime.strptime(bound["since"], _FMT)
        if span > timedelta(hours=RAW_HOURS):
            windows = _HOURLY
    text = _MERGE.sub(lambda m: merge_sql(m[1], m[2], m[3]), query.sql)
    return text.replace("{{windows}}", windows).replace("{{filters}}", FILTER_CLAUSE)


def sql(text: str, params: dict[str, Any] | None = None, source: Source | None = None) -> pd.DataFrame:
    """Run raw read-only SQL."""
    return (source or connect()).query(text, params or {})
