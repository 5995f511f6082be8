"""Run named queries and raw SQL through a Source."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from .catalog import NamedQuery, get_query
from .params import bind_params
from .source import Source, connect

__all__ = ["describe", "run", "sql"]


def describe(name: str) -> NamedQuery:
    """The named query with its title, description and parameters."""
    return get_query(name)


def run(name: str, params: dict[str, Any] | None = None, source: Source | None = None, *,
        now: datetime | None = None) -> pd.DataFrame:
    """Run a named query with parameters (CLI text or Python values); defaults fill the rest."""
    query = get_query(name)
    bound = bind_params(query.params, dict(params or {}), name, now)
    return (source or connect()).query(query.sql, bound)


def sql(text: str, params: dict[str, Any] | None = None, source: Source | None = None) -> pd.DataFrame:
    """Run raw read-only SQL."""
    return (source or connect()).query(text, params or {})
