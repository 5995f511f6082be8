"""inferwatch.queries: named SQL queries and raw SQL against a collector or a DuckDB file.

    from inferwatch import queries
    source = queries.connect(collector="http://127.0.0.1:4318")      # or db="inferwatch.duckdb"
    queries.list_queries()                                            # what is there
    df = queries.run("edge_vs_cloud", {"since": "-24h"}, source)      # a pandas DataFrame
    t = queries.run_arrow("regression_inputs", {"since": "-1h"}, source)  # a pyarrow Table
    df = queries.sql("SELECT count(*) FROM inference_windows", source=source)

The dashboard and the CLI both go through this module; nothing else talks to the database.
"""

from __future__ import annotations

from .api import describe, run, run_arrow, sql
from .catalog import NamedQuery, QueryNotFound, get_query, list_queries
from .params import Param, ParamError
from .source import CollectorSource, DataUnavailable, DuckDBSource, QueryError, Source, connect

__all__ = [
    "CollectorSource",
    "DataUnavailable",
    "DuckDBSource",
    "NamedQuery",
    "Param",
    "ParamError",
    "QueryError",
    "QueryNotFound",
    "Source",
    "connect",
    "describe",
    "get_query",
    "list_queries",
    "run",
    "run_arrow",
    "sql",
]
