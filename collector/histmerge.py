"""Merging the bucket counts of many histograms per group in numpy (the fleet minute rollups' hot loop).

What `histsql.merge_sql` computes in SQL (unnest + GROUP BY group × bucket index), ~10× cheaper: the counts
arrive as one flat array (one `unnest` of a list column, the cheapest way out of DuckDB), each count is
sent to its slot in one dense array of every group's bucket range, and added with `np.add.at` in chunks
that stay in cache."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["merge_counts", "merge_groups"]

_CHUNK = 1 << 18  # counts per np.add.at call: the index temporaries stay in L2


def merge_counts(gid: np.ndarray, n_groups: int, valid: np.ndarray, idx0: np.ndarray, lens: np.ndarray,
                 values: np.ndarray) -> tuple[np.ndarray, np.ndarray, pa.ListArray]:
    """Per group, what merge_sql gives for the histograms of the rows with `valid` set: (valid rows,
    idx0, counts). Row r's counts are values[off[r]:off[r] + lens[r]] (off: the running sum of lens, every
    row's counts back to back, valid or not) for buckets idx0[r], idx0[r] + 1, ...

    A group of one valid row keeps that row's idx0 and counts as they are (idx0 NULL stays NULL: idx0 is
    a masked array or plain); a group of more sums its counts per bucket index and cuts zero buckets at
    either end (idx0 0 and no counts when none is positive); a group of none gets idx0 0, no counts."""
    idx0_mask = np.ma.getmaskarray(idx0)
    idx0 = np.ma.getdata(idx0).astype(np.int64)
    lens = lens.astype(np.int64)
    off = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=off[1:])
    n = np.bincount(gid[valid], minlength=n_groups)
    use = valid & (lens > 0) & (n[gid] > 1)
    g_use = gid[use]
    lo = np.full(n_groups, np.iinfo(np.int64).max)
    hi = np.full(n_groups, np.iinfo(np.int64).min)
    np.minimum.at(lo, g_use, idx0[use])
    np.maximum.at(hi, g_use, idx0[use] + lens[use])
    size = np.where(hi > lo, hi - lo, 0)
    base = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(size, out=base[1:])
    dump = int(base[-1])  # counts of rows not merged go to [dump, dump + their length)
    start = np.where(use, base[gid] + idx0 - np.where(use, lo[gid], 0), dump)
    shift = start - off[:-1]  # count e of the flat array goes to slot e + shift[its row]
    sums = np.zeros(dump + (int(lens.max()) if len(lens) else 0), dtype=np.int64)
    rows = np.flatnonzero(lens)
    if len(rows):
        # chunks of whole rows holding about _CHUNK counts
        bounds = np.unique(np.searchsorted(off[rows + 1], np.arange(0, int(off[-1]), _CHUNK), side="right"))
        bounds = np.append(bounds[bounds < len(rows)], len(rows))
        for a, b in zip(np.concatenate(([0], bounds[:-1])), bounds):
            if a == b:
                continue
            r = rows[a:b]
            e0, e1 = int(off[r[0]]), int(off[r[-1] + 1])
            slot = np.repeat(shift[r] + e0, lens[r])
            slot += np.arange(e1 - e0)
            np.add.at(sums, slot, values[e0:e1])
    # cut zero buckets at either end of every merged group
    positive = np.flatnonzero(sums[:dump] > 0)
    first = np.searchsorted(positive, base[:-1])
    last = np.searchsorted(positive, base[1:]) - 1
    merged = (n > 1) & (first <= last)
    out_idx0 = np.zeros(n_groups, dtype=np.int64)
    out_null = np.zeros(n_groups, dtype=bool)
    pieces, lengths = [], np.zeros(n_groups, dtype=np.int64)
    single = np.full(n_groups, -1, dtype=np.int64)
    vrows = np.flatnonzero(valid)
    single[gid[vrows]] = vrows  # the only valid row of groups with n == 1
    for g in range(n_groups):
        if n[g] == 1:
            r = single[g]
            out_idx0[g], out_null[g] = idx0[r], idx0_mask[r]
            piece = values[off[r]:off[r + 1]]
        elif merged[g]:
            i, j = positive[first[g]], positive[last[g]]
            out_idx0[g] = lo[g] + i - base[g]
            piece = sums[i:j + 1]
        else:
            continue
        pieces.append(piece)
        lengths[g] = len(piece)
    offsets = np.zeros(n_groups + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    counts = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat.astype(np.int64, copy=False)))
    return n, np.ma.masked_array(out_idx0, out_null), counts


def merge_groups(con, points_where: str, group_rows: pa.ChunkedArray | pa.ListArray,
                 columns: dict[str, str]) -> dict[str, tuple] | None:
    """Per group of inference_points rows (`group_rows`: a list of rowids per group, together every row
    matching `points_where`, a filter the scan applies itself so that the list columns never pass through a
    join), each histogram column merged by merge_counts: column → (valid histograms, idx0, counts) per
    group. None when a histogram it cannot merge exactly is there (counts NULL in a valid histogram, idx0
    NULL with counts, NULL counts inside a list) or rows cannot be matched by position (the caller then
    merges in SQL)."""
    order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    if str(order).lower() != "true":
        return None  # the counts are fetched by a query of their own and matched to rows by position
    per = ", ".join(f"{c}.count AS {p}_c, {c}.idx0 AS {p}_i, len({c}.counts) AS {p}_l"
                    for c, p in columns.items())
    rows = con.sql(f"SELECT rowid AS iw_row, {per} FROM inference_points WHERE {points_where}"
                   ).to_arrow_table()
    rowid = rows.column("iw_row").to_numpy()
    if isinstance(group_rows, pa.ChunkedArray):
        group_rows = group_rows.combine_chunks()
    n_groups = len(group_rows)
    member = group_rows.flatten().to_numpy(zero_copy_only=False)
    if len(member) != len(rowid) or (len(rowid) > 1 and not (rowid[1:] > rowid[:-1]).all()):
        return None  # rows not in rowid order, or not the rows of the groups
    pos = np.searchsorted(rowid, member)
    if len(pos) and (pos.max() >= len(rowid) or (rowid[pos] != member).any()):
        return None
    gid = np.empty(len(rowid), dtype=np.int64)
    sizes = pc.fill_null(pc.list_value_length(group_rows), 0).to_numpy(zero_copy_only=False)
    gid[pos] = np.repeat(np.arange(n_groups), sizes)
    out = {}
    for c, p in columns.items():
        valid = pc.fill_null(pc.greater(rows.column(f"{p}_c"), 0), False).to_numpy(zero_copy_only=False)
        lens_col, idx_col = rows.column(f"{p}_l"), rows.column(f"{p}_i")
        lens = pc.fill_null(lens_col, 0).to_numpy().astype(np.int64)
        idx_null = pc.is_null(idx_col).to_numpy(zero_copy_only=False)
        if (valid & (pc.is_null(lens_col).to_numpy(zero_copy_only=False) | (idx_null & (lens > 0)))).any():
            return None  # counts NULL (merge_sql keeps such a histogram as it is when alone) or idx0 NULL
        idx0 = np.ma.masked_array(pc.fill_null(idx_col, 0).to_numpy(), idx_null)
        flat = con.sql(f"SELECT unnest({c}.counts) AS c FROM inference_points WHERE {points_where}"
                       ).to_arrow_table().column(0)
        if len(flat) != int(lens.sum()) or flat.null_count:
            return None  # (NULL counts inside a list: merge_sql's sum skips them)
        out[c] = merge_counts(gid, n_groups, valid, idx0, lens, flat.to_numpy())
    return out
