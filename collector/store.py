"""The DuckDB side: one owning connection, Arrow batch inserts with deduplication, rollups, retention."""

from __future__ import annotations

import math
import os
import pickle
from datetime import datetime, timedelta, timezone

import duckdb
import numpy as np
import pyarrow as pa

from .hist_convert import hist_array, prepare_latency, prepare_linear
from .histsql import merge_sql as _merge_sql
from .schema import migrate

__all__ = ["Store"]

_NS_HOUR = 3600 * 10**9
_DIMS = "service, device_id, target, hardware, model, model_version"


def _dict_column(values: list, index: np.ndarray) -> pa.Array:
    """A dictionary-encoded string column from unique values and per-row indices."""
    return pa.DictionaryArray.from_arrays(
        pa.array(index, type=pa.int32()), pa.array(values, type=pa.string())
    )


class _Interner:
    """Maps values to small integer codes (for dictionary-encoded Arrow columns)."""

    def __init__(self) -> None:
        self.codes: dict = {}
        self.values: list = []

    def __call__(self, value) -> int:
        code = self.codes.get(value)
        if code is None:
            code = self.codes[value] = len(self.values)
            self.values.append(value)
        return code


class Store:
    """Owns the DuckDB file; every write goes through this object on the writer thread."""

    def __init__(self, path: str | os.PathLike, *, threads: int | None = None) -> None:
        self.path = str(path)
        self.con = duckdb.connect(self.path)
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        migrate(self.con)
        # No file or network table functions for anyone using this instance (the query API).
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")

    # ---------------------------------------------------------------- metadata
    def meta(self, key: str, default: str | None = None) -> str | None:
        """A value of the collector_meta table."""
        row = self.con.execute("SELECT value FROM collector_meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def committed_seq(self) -> int:
        """The last write-ahead-log sequence number whose points are in the database."""
        return int(self.meta("wal_seq", "0"))

    def load_cumulative_state(self) -> dict[int, tuple]:
        """series_id -> (start_ns, end_ns, last cumulative value) as stored by save_cumulative_state."""
        rows = self.con.execute("SELECT series_id, start_ns, end_ns, state FROM cumulative_state").fetchall()
        return {sid: (start, end, pickle.loads(state)) for sid, start, end, state in rows}

    # ---------------------------------------------------------------- writes
    def write(
        self,
        inference: list[tuple],
        metrics: list[tuple],
        upto_seq: int,
        cumulative: dict[int, tuple],
        received_ns: int,
    ) -> tuple[int, int]:
        """Insert one batch in one transaction (skipping stored points); returns (inserted, duplicates)."""
        con = self.con
        con.execute("BEGIN")
        try:
            inserted = duplicates = 0
            hours: set[int] = set()
            if inference:
                n, d = self._insert(
                    con, "inference_points", self._inference_table(inference, received_ns), inference
                )
                inserted += n
                duplicates += d
                hours.update(r[1] // _NS_HOUR for r in inference)
            if metrics:
                n, d = self._insert(con, "metric_points", self._metric_table(metrics, received_ns), metrics)
                inserted += n
                duplicates += d
                hours.update(r[1] // _NS_HOUR for r in metrics if r[4] == "inferwatch.process.memory.usage")
            if hours:
                con.execute(
                    "INSERT OR IGNORE INTO rollup_dirty SELECT make_timestamp(unnest(?::BIGINT[]) * "
                    "3600000000)",
                    [sorted(hours)],
                )
            if cumulative:
                ids = list(cumulative)
                con.execute(
                    "DELETE FROM cumulative_state WHERE series_id IN (SELECT unnest(?::UBIGINT[]))", [ids]
                )
                table = pa.table(
                    {
                        "series_id": pa.array(ids, type=pa.uint64()),
                        "start_ns": pa.array([cumulative[i][0] for i in ids], type=pa.int64()),
                        "end_ns": pa.array([cumulative[i][1] for i in ids], type=pa.int64()),
                        "state": pa.array([pickle.dumps(cumulative[i][2]) for i in ids], type=pa.binary()),
                    }
                )
                con.register("iw_state", table)
                con.execute("INSERT INTO cumulative_state SELECT * FROM iw_state")
                con.unregister("iw_state")
            con.execute("INSERT OR REPLACE INTO collector_meta VALUES ('wal_seq', ?)", [str(upto_seq)])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return inserted, duplicates

    @staticmethod
    def _insert(
        con: duckdb.DuckDBPyConnection, table: str, batch: pa.Table, rows: list[tuple]
    ) -> tuple[int, int]:
        keys = np.empty(len(rows), dtype=[("s", "<u8"), ("a", "<i8"), ("b", "<i8")])
        keys["s"] = np.fromiter((r[0] for r in rows), dtype=np.uint64, count=len(rows))
        keys["a"] = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        keys["b"] = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
        _, first = np.unique(keys, return_index=True)
        within = len(rows) - len(first)
        if within:
            batch = batch.take(pa.array(np.sort(first)))
        lo, hi = int(keys["b"].min()), int(keys["b"].max())
        con.register("iw_batch", batch)
        try:
            n = con.execute(
                f"INSERT INTO {table} SELECT b.* FROM iw_batch b WHERE NOT EXISTS (SELECT 1 FROM {table} t "
                f"WHERE t.end_ns BETWEEN {lo} AND {hi} AND t.series_id = b.series_id "
                f"AND t.start_ns = b.start_ns AND t.end_ns = b.end_ns)"
            ).fetchone()[0]
        finally:
            con.unregister("iw_batch")
        return int(n), len(rows) - int(n)

    @staticmethod
    def _common(rows: list[tuple], res_pos: int) -> tuple[dict, list[_Interner], np.ndarray]:
        n = len(rows)
        cols = {
            "series_id": pa.array(np.fromiter((r[0] for r in rows), dtype=np.uint64, count=n)),
            "start_ns": pa.array(np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)),
            "end_ns": pa.array(np.fromiter((r[2] for r in rows), dtype=np.int64, count=n)),
        }
        res = _Interner()
        res_idx = np.fromiter((res(r[res_pos]) for r in rows), dtype=np.int32, count=n)
        return cols, [res], res_idx

    def _inference_table(self, rows: list[tuple], received_ns: int) -> pa.Table:
        cols, (res,), res_idx = self._common(rows, 5)
        n = len(rows)
        start = cols["start_ns"].to_numpy()
        end = cols["end_ns"].to_numpy()
        labels = _Interner()
        lab_idx = np.fromiter((labels((r[6], r[7], r[8])) for r in rows), dtype=np.int32, count=n)
        is_lat = np.fromiter((r[4] == "lat" for r in rows), dtype=bool, count=n)
        lat = [prepare_latency(r[9]) if r[4] == "lat" else None for r in rows]
        conf = [prepare_linear(r[9]) if r[4] == "conf" else None for r in rows]
        counts = np.fromiter(
            (r[9][5] if r[9][0] == "exp" else r[9][3] for r in rows), dtype=np.int64, count=n
        )
        calls = np.where(is_lat, counts, 0)
        has_err = np.fromiter((r[8] is not None for r in rows), dtype=bool, count=n)
        resources = res.values
        out = {
            **cols,
            "window_start": pa.array(start // 1000, type=pa.timestamp("us")),
            "window_end": pa.array(end // 1000, type=pa.timestamp("us")),
            "service": _dict_column([v[0] for v in resources], res_idx),
            "device_id": _dict_column([v[1] for v in resources], res_idx),
            "target": _dict_column([v[2] for v in resources], res_idx),
            "hardware": _dict_column([v[3] for v in resources], res_idx),
            "model": _dict_column([v[0] for v in labels.values], lab_idx),
            "model_version": _dict_column([v[1] for v in labels.values], lab_idx),
            "error_type": pa.DictionaryArray.from_arrays(
                pa.array(lab_idx, type=pa.int32(), mask=~has_err),
                pa.array([v[2] or "" for v in labels.values], type=pa.string()),
            ),
            "calls": pa.array(calls),
            "errors": pa.array(np.where(has_err & is_lat, counts, 0)),
            "latency_hist": hist_array(lat, linear=False, unit=1000.0),
            "confidence_hist": hist_array(conf, linear=True, unit=1.0),
            "received_at": pa.array(np.full(n, received_ns // 1000), type=pa.timestamp("us")),
        }
        return pa.table(out)

    def _metric_table(self, rows: list[tuple], received_ns: int) -> pa.Table:
        cols, (res,), res_idx = self._common(rows, 8)
        n = len(rows)
        start = cols["start_ns"].to_numpy()
        end = cols["end_ns"].to_numpy()
        names = _Interner()
        name_idx = np.fromiter((names((r[4], r[5], r[6])) for r in rows), dtype=np.int32, count=n)
        attrs = _Interner()
        attr_idx = np.fromiter((attrs(r[9]) for r in rows), dtype=np.int32, count=n)
        value = np.fromiter((math.nan if r[10] is None else r[10] for r in rows), dtype=np.float64, count=n)
        hists = [r[11] if r[11] is not None and r[11][0] != "summary" else None for r in rows]
        exp_rows = [prepare_latency(h) if h is not None and h[0] == "exp" else None for h in hists]
        count = np.fromiter(
            (
                0 if h is None else (h[5] if h[0] == "exp" else h[3] if h[0] == "explicit" else h[1])
                for h in (r[11] for r in rows)
            ),
            dtype=np.int64,
            count=n,
        )
        has_hist = np.fromiter((r[11] is not None for r in rows), dtype=bool, count=n)

        def field(pos_exp: int, pos_exp_other: int, pos_summary: int | None) -> np.ndarray:
            def get(h):
                if h is None:
                    return math.nan
                if h[0] == "exp":
                    return h[pos_exp]
                if h[0] == "explicit":
                    return h[pos_exp_other]
                return h[pos_summary] if pos_summary is not None else math.nan

            return np.fromiter((get(r[11]) for r in rows), dtype=np.float64, count=n)

        sums, mins, maxs = field(6, 4, 2), field(7, 5, None), field(8, 6, None)
        explicit = [h if h is not None and h[0] == "explicit" else None for h in hists]
        monotonic = [r[7] for r in rows]
        resources = res.values
        out = {
            **cols,
            "start_time": pa.array(start // 1000, type=pa.timestamp("us")),
            "time": pa.array(end // 1000, type=pa.timestamp("us")),
            "metric": _dict_column([v[0] for v in names.values], name_idx),
            "type": _dict_column([v[1] for v in names.values], name_idx),
            "unit": _dict_column([v[2] for v in names.values], name_idx),
            "monotonic": pa.array(monotonic, type=pa.bool_()),
            "service": _dict_column([v[0] for v in resources], res_idx),
            "device_id": _dict_column([v[1] for v in resources], res_idx),
            "target": _dict_column([v[2] for v in resources], res_idx),
            "hardware": _dict_column([v[3] for v in resources], res_idx),
            "attributes": _dict_column(attrs.values, attr_idx),
            "resource": _dict_column([v[4] for v in resources], res_idx),
            "value": pa.array(value, mask=np.isnan(value)),
            "count": pa.array(count, mask=~has_hist),
            "sum": pa.array(sums, mask=np.isnan(sums)),
            "min": pa.array(mins, mask=np.isnan(mins)),
            "max": pa.array(maxs, mask=np.isnan(maxs)),
            "hist": hist_array(exp_rows, linear=False, unit=1.0),
            "explicit_bounds": pa.array(
                [list(h[1]) if h else None for h in explicit], type=pa.list_(pa.float64())
            ),
            "bucket_counts": pa.array([h[2] if h else None for h in explicit], type=pa.list_(pa.int64())),
            "quantiles": pa.array(
                [
                    [{"quantile": q, "value": v} for q, v in r[12]] if r[12] is not None else None
                    for r in rows
                ],
                type=pa.list_(pa.struct([("quantile", pa.float64()), ("value", pa.float64())])),
            ),
            "received_at": pa.array(np.full(n, received_ns // 1000), type=pa.timestamp("us")),
        }
        return pa.table(out)

    # ---------------------------------------------------------------- maintenance
    def rollup(self, now: datetime) -> int:
        """Recompute the hourly rollups of every hour that received points; returns hours rolled up.

        Histograms are merged by bucket index with unnest + GROUP BY (`_merge_sql`), ~20× cheaper than
        folding `hist_merge` over thousands of lists; the result is what `hist_merge(list(h))` returns."""
        con = self.con
        hours = [r[0] for r in con.execute("SELECT hour FROM rollup_dirty ORDER BY hour").fetchall()]
        if not hours:
            return 0
        keys = f"hour, {_DIMS}"
        on = " AND ".join(f"{{a}}.{k} IS NOT DISTINCT FROM agg.{k}" for k in keys.split(", "))
        con.execute("BEGIN")
        try:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE iw_hours AS SELECT unnest(?::TIMESTAMP[]) AS hour", [hours]
            )
            con.execute("DELETE FROM inference_rollup_1h WHERE window_start IN (SELECT hour FROM iw_hours)")
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE iw_p AS
                SELECT time_bucket(INTERVAL 1 HOUR, window_start) AS hour, {_DIMS}, calls, errors,
                       latency_hist, confidence_hist, window_start
                FROM inference_points
                WHERE window_start >= ? AND window_start < ?
                  AND time_bucket(INTERVAL 1 HOUR, window_start) IN (SELECT hour FROM iw_hours)""",
                [hours[0], hours[-1] + timedelta(hours=1)],
            )
            con.execute(
                f"""
                INSERT INTO inference_rollup_1h
                WITH agg AS (
                    SELECT {keys}, sum(calls)::BIGINT AS calls, sum(errors)::BIGINT AS errors,
                           count(DISTINCT window_start) AS windows
                    FROM iw_p GROUP BY ALL
                ), lat AS ({_merge_sql("iw_p", keys, "latency_hist")}
                ), conf AS ({_merge_sql("iw_p", keys, "confidence_hist")}
                ), mem AS (
                    SELECT time_bucket(INTERVAL 1 HOUR, start_time) AS hour, service, device_id,
                           sum(sum) AS s, sum(count)::BIGINT AS c, max(max) AS m
                    FROM metric_points WHERE metric = 'inferwatch.process.memory.usage'
                        AND start_time >= ? AND start_time < ?
                        AND time_bucket(INTERVAL 1 HOUR, start_time) IN (SELECT hour FROM iw_hours)
                    GROUP BY ALL
                )
                SELECT agg.hour, agg.hour + INTERVAL 1 HOUR, agg.service, agg.device_id, agg.target,
                       agg.hardware, agg.model, agg.model_version, agg.calls, agg.errors,
                       lat.h, conf.h, mem.s, mem.c, mem.m, agg.windows
                FROM agg LEFT JOIN lat ON {on.format(a="lat")} LEFT JOIN conf ON {on.format(a="conf")}
                LEFT JOIN mem ON mem.hour = agg.hour AND mem.service IS NOT DISTINCT FROM agg.service
                    AND mem.device_id IS NOT DISTINCT FROM agg.device_id""",
                [hours[0], hours[-1] + timedelta(hours=1)],
            )
            con.execute("DELETE FROM rollup_dirty WHERE hour IN (SELECT hour FROM iw_hours)")
            con.execute("DROP TABLE iw_hours")
            con.execute("DROP TABLE iw_p")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return len(hours)

    def enforce_retention(self, now: datetime, raw_hours: float, rollup_days: float) -> tuple[int, int]:
        """Delete raw points older than raw_hours and rollups older than rollup_days (whole hours)."""
        raw_cut = self.raw_cutoff(now, raw_hours)
        roll_cut = now.replace(tzinfo=None) - timedelta(days=rollup_days)
        con = self.con
        con.execute("BEGIN")
        try:
            a = con.execute("DELETE FROM inference_points WHERE window_start < ?", [raw_cut]).fetchone()[0]
            a += con.execute("DELETE FROM metric_points WHERE time < ?", [raw_cut]).fetchone()[0]
            b = con.execute("DELETE FROM inference_rollup_1h WHERE window_start < ?", [roll_cut]).fetchone()[
                0
            ]
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return int(a), int(b)

    @staticmethod
    def raw_cutoff(now: datetime, raw_hours: float) -> datetime:
        """The start of the oldest hour whose raw points are kept."""
        cut = now.astimezone(timezone.utc).replace(tzinfo=None) - timedelta(hours=raw_hours)
        return cut.replace(minute=0, second=0, microsecond=0)

    def size_bytes(self) -> int:
        """Bytes of the database file and its DuckDB WAL."""
        total = 0
        for suffix in ("", ".wal"):
            try:
                total += os.path.getsize(self.path + suffix)
            except OSError:
                pass
        return total

    def checkpoint(self) -> None:
        """Fold DuckDB's own WAL into the file."""
        self.con.execute("CHECKPOINT")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the same database instance (for readers)."""
        return self.con.cursor()

    def close(self) -> None:
        """Checkpoint and close."""
        try:
            self.checkpoint()
        finally:
            self.con.close()

    def counts(self) -> dict[str, int]:
        """Row counts of the stored tables (for health and tests)."""
        out = {}
        for t in ("inference_points", "metric_points", "inference_rollup_1h"):
            out[t] = int(self.con.cursor().execute(f"SELECT count(*) FROM {t}").fetchone()[0])
        return out
