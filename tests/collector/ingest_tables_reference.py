"""The batch tables as collector/ingest_tables.py built them before its per-row work was vectorized
(commit f84a81e), kept unchanged as the oracle of tests/collector/test_ingest_tables.py."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from inferwatch.collector.hist_convert import hist_array, prepare_latency, prepare_linear

_TS = pa.timestamp("us")
CHUNK_ROWS = 16_384
_QUANTILES = pa.list_(pa.struct([("quantile", pa.float64()), ("value", pa.float64())]))


def _codes(values: tuple | list) -> tuple[list, np.ndarray]:
    """(distinct values in first-seen order, int32 code per row)."""
    seen: dict = {}
    idx = np.array([seen.setdefault(v, len(seen)) for v in values], dtype=np.int32)
    return list(seen), idx


def _dict(values: list, index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.DictionaryArray.from_arrays(
        pa.array(index, type=pa.int32(), mask=mask), pa.array(values, type=pa.string())
    )


def _keys(sid: tuple, start: tuple, end: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.array(sid, dtype=np.uint64),
        np.array(start, dtype=np.int64),
        np.array(end, dtype=np.int64),
    )


def _resource_columns(res: tuple) -> tuple[dict, list, np.ndarray]:
    values, idx = _codes(res)
    return (
        {
            "service": _dict([v[0] for v in values], idx),
            "device_id": _dict([v[1] for v in values], idx),
            "target": _dict([v[2] for v in values], idx),
            "hardware": _dict([v[3] for v in values], idx),
        },
        values,
        idx,
    )


def _chunked(build, rows: list[tuple], received_ns: int) -> pa.Table:
    if len(rows) <= CHUNK_ROWS:
        return build(rows, received_ns)
    return pa.concat_tables(
        [build(rows[i : i + CHUNK_ROWS], received_ns) for i in range(0, len(rows), CHUNK_ROWS)]
    )


def inference_table(rows: list[tuple], received_ns: int) -> pa.Table:
    """The `inference_points` batch of rows (sid, start, end, temporality, kind, res, model, version,
    err, hist), built CHUNK_ROWS at a time."""
    return _chunked(_inference_chunk, rows, received_ns)


def metric_table(rows: list[tuple], received_ns: int) -> pa.Table:
    """The `metric_points` batch of rows (sid, start, end, temporality, metric, type, unit, monotonic,
    res, attrs_json, value, hist, quantiles), built CHUNK_ROWS at a time."""
    return _chunked(_metric_chunk, rows, received_ns)


def _inference_chunk(rows: list[tuple], received_ns: int) -> pa.Table:
    """The `inference_points` batch of rows (sid, start, end, temporality, kind, res, model, version,
    err, hist)."""
    n = len(rows)
    sid, start, end, _, kind, res, model, version, err, hists = zip(*rows)
    sid_a, start_a, end_a = _keys(sid, start, end)
    res_cols, _, _ = _resource_columns(res)
    labels, lab_idx = _codes(list(zip(model, version, err)))
    is_lat_list = [k == "lat" for k in kind]
    is_lat = np.array(is_lat_list, dtype=bool)
    lat = [prepare_latency(h) if t else None for h, t in zip(hists, is_lat_list)]
    conf = [None if t else prepare_linear(h) for h, t in zip(hists, is_lat_list)]
    counts = np.array([h[5] if h[0] == "exp" else h[3] for h in hists], dtype=np.int64)
    has_err = np.array([e is not None for e in err], dtype=bool)
    out = {
        "series_id": pa.array(sid_a),
        "start_ns": pa.array(start_a),
        "end_ns": pa.array(end_a),
        "window_start": pa.array(start_a // 1000, type=_TS),
        "window_end": pa.array(end_a // 1000, type=_TS),
        **res_cols,
        "model": _dict([v[0] for v in labels], lab_idx),
        "model_version": _dict([v[1] for v in labels], lab_idx),
        "error_type": _dict([v[2] or "" for v in labels], lab_idx, ~has_err),
        "calls": pa.array(np.where(is_lat, counts, 0)),
        "errors": pa.array(np.where(has_err & is_lat, counts, 0)),
        "latency_hist": hist_array(lat, linear=False, unit=1000.0),
        "confidence_hist": hist_array(conf, linear=True, unit=1.0),
        "received_at": pa.array(np.full(n, received_ns // 1000), type=_TS),
    }
    return pa.table(out)


def _metric_chunk(rows: list[tuple], received_ns: int) -> pa.Table:
    """The `metric_points` batch of (sid, start, end, temporality, metric, type, unit, monotonic, res,
    attrs_json, value, hist, quantiles)."""
    n = len(rows)
    sid, start, end, _, name, kind, unit, monotonic, res, attrs, value, hists, quantiles = zip(*rows)
    sid_a, start_a, end_a = _keys(sid, start, end)
    res_cols, res_values, res_idx = _resource_columns(res)
    names, name_idx = _codes(list(zip(name, kind, unit)))
    attr_values, attr_idx = _codes(attrs)
    value_a = np.array([math.nan if v is None else v for v in value], dtype=np.float64)
    mono_valid = np.array([m is not None for m in monotonic], dtype=bool)
    mono = np.array([bool(m) for m in monotonic], dtype=bool)

    count = np.zeros(n, dtype=np.int64)
    sums = np.full(n, math.nan)
    mins = np.full(n, math.nan)
    maxs = np.full(n, math.nan)
    exp_rows: list = [None] * n
    explicit: list[tuple[int, tuple]] = []
    has_hist = np.zeros(n, dtype=bool)
    for i, h in enumerate(hists):
        if h is None:
            continue
        has_hist[i] = True
        tag = h[0]
        if tag == "exp":
            count[i], sums[i], mins[i], maxs[i] = h[5], h[6], h[7], h[8]
            exp_rows[i] = prepare_latency(h)
        elif tag == "explicit":
            count[i], sums[i], mins[i], maxs[i] = h[3], h[4], h[5], h[6]
            explicit.append((i, h))
        else:  # summary
            count[i], sums[i] = h[1], h[2]

    if explicit:
        bounds = [None] * n
        bucket_counts = [None] * n
        for i, h in explicit:
            bounds[i] = list(h[1])
            bucket_counts[i] = [int(c) for c in h[2]]
        bounds_a = pa.array(bounds, type=pa.list_(pa.float64()))
        counts_a = pa.array(bucket_counts, type=pa.list_(pa.int64()))
    else:
        bounds_a = pa.nulls(n, type=pa.list_(pa.float64()))
        counts_a = pa.nulls(n, type=pa.list_(pa.int64()))
    if any(q is not None for q in quantiles):
        quantiles_a = pa.array(
            [[{"quantile": a, "value": b} for a, b in q] if q is not None else None for q in quantiles],
            type=_QUANTILES,
        )
    else:
        quantiles_a = pa.nulls(n, type=_QUANTILES)
    out = {
        "series_id": pa.array(sid_a),
        "start_ns": pa.array(start_a),
        "end_ns": pa.array(end_a),
        "start_time": pa.array(start_a // 1000, type=_TS),
        "time": pa.array(end_a // 1000, type=_TS),
        "metric": _dict([v[0] for v in names], name_idx),
        "type": _dict([v[1] for v in names], name_idx),
        "unit": _dict([v[2] for v in names], name_idx),
        "monotonic": pa.array(mono, mask=~mono_valid),
        **res_cols,
        "attributes": _dict(attr_values, attr_idx),
        "resource": _dict([v[4] for v in res_values], res_idx),
        "value": pa.array(value_a, mask=np.isnan(value_a)),
        "count": pa.array(count, mask=~has_hist),
        "sum": pa.array(sums, mask=np.isnan(sums)),
        "min": pa.array(mins, mask=np.isnan(mins)),
        "max": pa.array(maxs, mask=np.isnan(maxs)),
        "hist": hist_array(exp_rows, linear=False, unit=1.0),
        "explicit_bounds": bounds_a,
        "bucket_counts": counts_a,
        "quantiles": quantiles_a,
        "received_at": pa.array(np.full(n, received_ns // 1000), type=_TS),
    }
    return pa.table(out)
