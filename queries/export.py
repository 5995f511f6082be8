"""Export inference windows to hive-partitioned Parquet (`date=YYYY-MM-DD/part-0.parquet`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from .params import parse_time
from .source import Source

__all__ = ["export_parquet"]

_DAYS = """
SELECT DISTINCT CAST(window_start AS DATE) AS day FROM inference_windows
WHERE ($since IS NULL OR window_start >= CAST($since AS TIMESTAMP))
  AND ($until IS NULL OR window_start < CAST($until AS TIMESTAMP))
ORDER BY day
"""
_PAGE = """
SELECT * FROM inference_windows
WHERE window_start >= CAST($day AS DATE) AND window_start < CAST($day AS DATE) + INTERVAL 1 DAY
  AND ($since IS NULL OR window_start >= CAST($since AS TIMESTAMP))
  AND ($until IS NULL OR window_start < CAST($until AS TIMESTAMP))
ORDER BY window_start, service, device_id, target, hardware, model, model_version
LIMIT $limit OFFSET $offset
"""
PAGE_ROWS = 50_000  # below the collector's default row limit per answer


def export_parquet(source: Source, directory: str | os.PathLike, *, since: str | None = None,
                   until: str | None = None, progress: Callable[[str], None] | None = None) -> dict:
    """Write one Parquet file per day of windows; returns counts of rows, files and days."""
    bounds = {
        "since": parse_time(since).strftime("%Y-%m-%d %H:%M:%S") if since else None,
        "until": parse_time(until).strftime("%Y-%m-%d %H:%M:%S") if until else None,
    }
    days = [str(d)[:10] for d in source.query(_DAYS, bounds)["day"]]
    root = Path(directory)
    rows = files = 0
    for n, day in enumerate(days, 1):
        target = root / f"date={day}"
        writer, day_rows, offset = None, 0, 0
        while True:
            table = source.arrow(_PAGE, {**bounds, "day": day, "limit": PAGE_ROWS, "offset": offset})
            if table.num_rows:
                if writer is None:
                    target.mkdir(parents=True, exist_ok=True)
                    writer = pq.ParquetWriter(target / "part-0.parquet", table.schema, compression="zstd")
                writer.write_table(table)
                day_rows += table.num_rows
            if table.num_rows < PAGE_ROWS:
                break
            offset += PAGE_ROWS
        if writer is not None:
            writer.close()
            rows += day_rows
            files += 1
        if progress:
            progress(f"[{n}/{len(days)}] date={day}: {day_rows} windows")
    return {"rows": rows, "files": files, "days": len(days)}
