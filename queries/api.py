"""Run named queries and raw SQL through a Source."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from .catalog import FILTER_CLAUSE, NamedQuery, get_query
from .params import bind_params
from .source import Source, connect

__all__ = ["RAW_HOURS", "describe", "render", "run", "sql"]

# Ranges longer than this read the hourly rollups (the collector keeps 1-minute windows this long).
RAW_HOURS = 48
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
    for long ranges, the hourly rollup."""
    windows = "inference_windows"
    if query.rollup == "auto" and bound.get("since") and bound.get("until"):
        span = datetime.strptime(bound["until"], _FMT) - datetime.strptime(bound["since"], _FMT)
        if span > timedelta(hours=RAW_HOURS):
            windows = "inference_windows_1h"
    return query.sql.replace("{{windows}}", windows).replace("{{filters}}", FILTER_CLAUSE)


def sql(text: str, params: dict[str, Any] | None = None, source: Source | None = None) -> pd.DataFrame:
    """Run raw read-only SQL."""
    return (source or connect()).query(text, params or {})
