"""SQL text for merging many histograms fast (no imports: the named queries use it without duckdb)."""

from __future__ import annotations

__all__ = ["merge_sql"]


def merge_sql(source: str, keys: str, col: str) -> str:
    """SQL of (keys..., h): per group of `keys`, the histograms of column `col` of `source` merged — the
    value `hist_merge(list(col))` gives — by unnesting the buckets and summing them per bucket index.

    Groups are numbered first (dense_rank), so the big GROUP BY over (group, bucket index) hashes two
    integers rather than the keys; the summed buckets of a group are usually contiguous (they are unless
    its histograms' ranges do not overlap), and then the ordered list of sums is the counts already —
    otherwise `hist__from_buckets` fills the gaps. Zero buckets at either end are cut (as stored ones are).
    A group of one histogram is that histogram (as `hist_merge` returns it), with no unnesting."""
    names = keys.split(", ")
    return f"""
        WITH v1 AS (SELECT dense_rank() OVER (ORDER BY {keys}) AS iw_g,
                           count(*) OVER (PARTITION BY {keys}) AS iw_n, {keys}, {col} AS h
                    FROM {source} WHERE {col} IS NOT NULL AND {col}.count > 0),
        v AS (SELECT * FROM v1 WHERE iw_n > 1),
        s AS (
            SELECT iw_g, {", ".join(f"any_value({k}) AS {k}" for k in names)},
                   any_value(h.scale) AS scale, any_value(h.width) AS width, any_value(h.unit) AS unit,
                   sum(h.zero_count)::BIGINT AS zero_count, sum(h.count)::BIGINT AS count, sum(h.sum) AS sum,
                   min(h.min) AS min, max(h.max) AS max
            FROM v GROUP BY iw_g
        ), b AS (
            SELECT iw_g, j, sum(c)::BIGINT AS c
            FROM (SELECT iw_g, h.idx0 + generate_subscripts(h.counts, 1) - 1 AS j, unnest(h.counts) AS c
                  FROM v)
            GROUP BY iw_g, j
        ), bl AS (
            SELECT iw_g, min(j) AS j0, max(j) AS j1, count(*) AS n,
                   min(j) FILTER (WHERE c > 0) AS lo, max(j) FILTER (WHERE c > 0) AS hi,
                   list(j ORDER BY j) AS js, list(c ORDER BY j) AS cs
            FROM b GROUP BY iw_g
        )
        SELECT {", ".join("s." + k for k in names)},
               {{scale: s.scale, width: s.width, idx0: coalesce(bl.lo, 0)::INTEGER,
                 counts: CASE WHEN bl.lo IS NULL THEN []::BIGINT[] ELSE list_slice(
                     CASE WHEN bl.j1 - bl.j0 + 1 = bl.n THEN bl.cs ELSE hist__from_buckets(bl.js, bl.cs) END,
                     bl.lo - bl.j0 + 1, bl.hi - bl.j0 + 1) END,
                 zero_count: s.zero_count, count: s.count, sum: s.sum, min: s.min, max: s.max,
                 unit: s.unit}}::hist AS h
        FROM s LEFT JOIN bl USING (iw_g)
        UNION ALL
        SELECT {", ".join(names)}, h FROM v1 WHERE iw_n = 1
    """
