"""SQL text for merging many histograms fast (no imports: the named queries use it without duckdb)."""

from __future__ import annotations

__all__ = ["merge_sql"]


def merge_sql(source: str, keys: str, col: str) -> str:
    """SQL of (keys..., h): per group of `keys`, the histograms of column `col` of `source` merged — the
    value `hist_merge(list(col))` gives — by unnesting the buckets and summing them per bucket index."""
    return f"""
        WITH v AS (SELECT {keys}, {col} AS h FROM {source} WHERE {col} IS NOT NULL AND {col}.count > 0),
        s AS (
            SELECT {keys}, any_value(h.scale) AS scale, any_value(h.width) AS width,
                   any_value(h.unit) AS unit,
                   sum(h.zero_count)::BIGINT AS zero_count, sum(h.count)::BIGINT AS count, sum(h.sum) AS sum,
                   min(h.min) AS min, max(h.max) AS max
            FROM v GROUP BY ALL
        ), b AS (
            SELECT {keys}, j, sum(c)::BIGINT AS c
            FROM (SELECT {keys}, h.idx0 + unnest(range(len(h.counts))) AS j, unnest(h.counts) AS c FROM v)
            GROUP BY ALL HAVING sum(c) > 0
        ), bl AS (
            SELECT {keys}, min(j) AS lo, list(j ORDER BY j) AS js, list(c ORDER BY j) AS cs
            FROM b GROUP BY ALL
        )
        SELECT {", ".join("s." + k for k in keys.split(", "))},
               {{scale: s.scale, width: s.width, idx0: coalesce(bl.lo, 0)::INTEGER,
                 counts: coalesce(hist__from_buckets(bl.js, bl.cs), []::BIGINT[]), zero_count: s.zero_count,
                 count: s.count, sum: s.sum, min: s.min, max: s.max, unit: s.unit}}::hist AS h
        FROM s LEFT JOIN bl ON {" AND ".join(f"bl.{k} IS NOT DISTINCT FROM s.{k}" for k in keys.split(", "))}
    """
