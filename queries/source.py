"""Where queries run: a collector's `/v1/query`, or a DuckDB file no collector holds."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa

from inferwatch.errors import InferwatchError

__all__ = ["CollectorSource", "DataUnavailable", "DuckDBSource", "QueryError", "Source", "connect"]

DEFAULT_COLLECTOR = "http://127.0.0.1:4318"
ARROW_STREAM = "application/vnd.apache.arrow.stream"


class QueryError(InferwatchError, ValueError):
    """The SQL was refused or failed; the message is DuckDB's (or the collector's)."""


class DataUnavailable(InferwatchError, ConnectionError):
    """No collector answers, or the database file cannot be opened."""


class Source(Protocol):
    """Runs read-only SQL with named parameters and returns a DataFrame."""

    description: str

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame: ...

    def arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table: ...


class CollectorSource:
    """A running collector, through `POST /v1/query` (JSON answer)."""

    def __init__(self, url: str = DEFAULT_COLLECTOR, token: str | None = None, timeout_s: float = 60.0):
        import requests

        self.url = url.rstrip("/")
        self.description = self.url
        self._session = requests.Session()
        self._timeout = timeout_s
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._requests = requests

    def _post(self, sql: str, params: dict[str, Any] | None, accept: str):
        try:
            response = self._session.post(f"{self.url}/v1/query", json={"sql": sql, "params": params or {}},
                                          headers={"Accept": accept}, timeout=self._timeout)
        except self._requests.RequestException:
            raise DataUnavailable(
                f"no collector answers at {self.url} — start one with "
                "`inferwatch collector --db ./inferwatch.duckdb`, or read a file with --db PATH") from None
        if response.status_code == 401:
            raise DataUnavailable(f"the collector at {self.url} refused the query token — pass --token "
                                  "or set INFERWATCH_TOKEN to its --query-token")
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = {}
            message = body.get("message") or body.get("error") or response.text[:500]
            raise QueryError(str(message))
        return response

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run SQL on the collector; raise QueryError or DataUnavailable with the fix."""
        return _frame(self._post(sql, params, "application/json").json())

    def arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Run SQL on the collector and get an Arrow table (nested histogram columns intact)."""
        response = self._post(sql, params, ARROW_STREAM)
        return pa.ipc.open_stream(response.content).read_all()


def _frame(body: dict) -> pd.DataFrame:
    columns = body.get("columns", [])
    names = [c["name"] for c in columns]
    frame = pd.DataFrame(body.get("rows", []), columns=names)
    for column in columns:
        kind = str(column.get("type", "")).upper()
        name = column["name"]
        if kind.startswith("TIMESTAMP") or kind == "DATE":
            frame[name] = pd.to_datetime(frame[name], utc=kind.endswith("WITH TIME ZONE") or None)
        elif kind in ("DOUBLE", "FLOAT", "REAL") or kind.startswith("DECIMAL"):
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    frame.attrs["truncated"] = bool(body.get("truncated", False))
    return frame


class DuckDBSource:
    """A DuckDB file opened read-only (only possible while no collector holds it)."""

    def __init__(self, path: str | os.PathLike) -> None:
        import duckdb

        self.path = Path(path)
        self.description = str(self.path)
        if not self.path.exists():
            raise DataUnavailable(f"no database file at {str(self.path)!r} — check --db, or query a running "
                                  "collector with --collector URL")
        try:
            self._con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise DataUnavailable(
                    f"{str(self.path)!r} is locked by a running collector — query it through the collector "
                    "with --collector URL (default http://127.0.0.1:4318)") from None
            raise DataUnavailable(f"cannot open {str(self.path)!r}: {exc}") from None
        self._duckdb = duckdb

    def _run(self, sql: str, params: dict[str, Any] | None, fetch):
        try:
            cursor = self._con.cursor()
            try:
                return fetch(cursor, sql, params or None)
            finally:
                cursor.close()
        except self._duckdb.Error as exc:
            raise QueryError(str(exc)) from None

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run SQL on the file; raise QueryError with DuckDB's message."""
        return self._run(sql, params, lambda cursor, text, values: cursor.execute(text, values).df())

    def arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        """Run SQL on the file and get an Arrow table."""
        return self._run(sql, params,
                         lambda cursor, text, values: cursor.sql(text, params=values).to_arrow_table())

    def close(self) -> None:
        self._con.close()


def connect(collector: str | None = None, db: str | os.PathLike | None = None,
            token: str | None = None) -> Source:
    """A Source from --db, else --collector / INFERWATCH_COLLECTOR, else the local default."""
    if db:
        return DuckDBSource(db)
    url = collector or os.environ.get("INFERWATCH_COLLECTOR") or DEFAULT_COLLECTOR
    return CollectorSource(url, token or os.environ.get("INFERWATCH_TOKEN"))
