"""Read-only SQL: one SELECT per request, no external access, time and row limits, rolled back."""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import duckdb
import pyarrow as pa

__all__ = ["QueryError", "QueryResult", "run_query", "to_csv", "to_json_document"]

_ALLOWED = {duckdb.StatementType.SELECT}


class QueryError(ValueError):
    """A query that was refused or failed; the message is DuckDB's or says what is allowed."""


@dataclass
class QueryResult:
    """Columns (name, DuckDB type), the rows as an Arrow table, and whether the row limit cut it."""

    columns: list[tuple[str, str]]
    table: pa.Table
    truncated: bool


def _check(cursor: duckdb.DuckDBPyConnection, sql: str) -> None:
    try:
        statements = cursor.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None
    if len(statements) != 1:
        raise QueryError(f"send exactly one SELECT statement (got {len(statements)})")
    kind = statements[0].type
    if kind not in _ALLOWED:
        raise QueryError(
            f"only read-only SELECT queries are allowed, not {kind.name} "
            "(no DDL/DML, COPY, ATTACH, INSTALL/LOAD, PRAGMA, CALL or SET)"
        )


def run_query(
    cursor_factory: Callable[[], duckdb.DuckDBPyConnection],
    sql: str,
    params: Mapping[str, Any] | list | None = None,
    *,
    max_rows: int = 100_000,
    timeout_s: float = 30.0,
) -> QueryResult:
    """Run one read-only SELECT inside a transaction that is always rolled back."""
    if not isinstance(sql, str) or not sql.strip():
        raise QueryError('the body needs "sql": a SELECT statement as a string')
    cursor = cursor_factory()
    timer = threading.Timer(timeout_s, cursor.interrupt)
    timed_out = threading.Event()
    timer.function = lambda: (timed_out.set(), cursor.interrupt())
    try:
        _check(cursor, sql)
        cursor.execute("BEGIN TRANSACTION")
        timer.start()
        try:
            relation = cursor.sql(sql, params=params or None)
            if relation is None:
                raise QueryError("the statement returned no result")
            columns = [(name, str(kind)) for name, kind in zip(relation.columns, relation.types)]
            reader = relation.to_arrow_reader(min(max_rows + 1, 65_536))
            batches = []
            rows = 0
            truncated = False
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if rows > max_rows:
                    truncated = True
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema).slice(0, max_rows)
        except duckdb.InterruptException:
            raise QueryError(f"the query ran longer than the {timeout_s:g} s limit and was stopped") from None
        except duckdb.Error as exc:
            if timed_out.is_set():
                raise QueryError(
                    f"the query ran longer than the {timeout_s:g} s limit and was stopped"
                ) from None
            raise QueryError(str(exc)) from None
        finally:
            timer.cancel()
            try:
                cursor.execute("ROLLBACK")
            except duckdb.Error:
                pass
        return QueryResult(columns, table, truncated)
    finally:
        timer.cancel()
        cursor.close()


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _rows(table: pa.Table) -> list[list]:
    columns = [col.to_pylist() for col in table.columns]
    return [[_plain(v) for v in row] for row in zip(*columns)] if columns else []


def to_json_document(result: QueryResult) -> dict:
    """{"columns": [{"name", "type"}], "rows": [[...]], "truncated": bool} as DESIGN.md specifies."""
    return {
        "columns": [{"name": n, "type": t} for n, t in result.columns],
        "rows": _rows(result.table),
        "truncated": result.truncated,
    }


def to_csv(result: QueryResult) -> str:
    """The result as CSV with a header row (nested values as JSON)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([n for n, _ in result.columns])
    for row in _rows(result.table):
        w.writerow([json.dumps(v) if isinstance(v, dict | list) else ("" if v is None else v) for v in row])
    return buf.getvalue()
