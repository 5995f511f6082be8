"""Populations from stored windows: the adapter between `inferwatch.queries` and the engine."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from .gcpause import gc_paused
from .model import ConfidenceHistogram, LatencyHistogram, Memory, Population, Sample

__all__ = ["fetch_populations", "population_from_row", "populations_from_table", "rows_from_table"]

_HISTS = ("latency_hist", "confidence_hist")


def _sample(n: Any, mean: Any, sd: Any, mx: Any) -> Sample | None:
    try:
        n = int(n or 0)
    except (TypeError, ValueError):
        return None
    if n == 0 or mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return None
    return Sample(n, float(mean), float(sd or 0.0), float(mx))


def _units(windows: Any, devices: Any) -> Any:
    """Independent units behind memory statistics: the devices, at most the windows (the windows when
    the row has no device count, e.g. one device against its cohort)."""
    if windows is None or devices is None or _missing(windows) or _missing(devices) or int(devices) <= 0:
        return windows
    return min(int(windows), int(devices))


def _missing(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


def population_from_row(row: Mapping[str, Any]) -> Population:
    """A Population from one row of the `regression_inputs` named query."""
    latency = row.get("latency_hist")
    confidence = row.get("confidence_hist")
    # The memory test's units are devices: a device's windows share its RSS level, so counting windows as
    # independent overstates the evidence (A/A: 8–9 significant memory checks in 1,350 pairs where ~0.5
    # were due). n = devices (at most the windows) with the window-level sd is conservative: the sd of
    # device means is at most the sd of the windows.
    units = _units(row.get("memory_windows"), row.get("devices"))
    avg = _sample(
        units,
        row.get("memory_avg_mean"),
        row.get("memory_avg_sd"),
        row.get("memory_avg_max"),
    )
    peak = _sample(
        units,
        row.get("memory_peak_mean"),
        row.get("memory_peak_sd"),
        row.get("memory_peak_max"),
    )
    return Population(
        calls=int(row["calls"]),
        errors=int(row["errors"]),
        latency=LatencyHistogram.from_mapping(latency) if isinstance(latency, Mapping) else None,
        confidence=ConfidenceHistogram.from_mapping(confidence)
        if isinstance(confidence, Mapping) and confidence.get("count")
        else None,
        memory=Memory(avg, peak) if avg is not None and peak is not None else None,
        windows=int(row.get("windows") or 0),
    )


def rows_from_table(table: pa.Table) -> list[dict[str, Any]]:
    """The rows of an Arrow table as dicts (what `table.to_pylist()` gives), with histogram columns read a
    column at a time: each histogram's `counts` is a slice of one list of all buckets, not a list built
    value by value (~10× faster for the ~400,000 buckets of 2,000 cohorts)."""
    names = [n for n in table.column_names if n not in _HISTS]
    rows = table.select(names).to_pylist()
    for name in _HISTS:
        if name in table.column_names:
            for row, h in zip(rows, _hists(table.column(name))):
                row[name] = h
    return rows


def _hists(column: pa.ChunkedArray) -> list[dict[str, Any] | None]:
    """A `hist` struct column as dicts (None where NULL), counts sliced from the flat bucket array."""
    out: list[dict[str, Any] | None] = []
    for chunk in column.chunks:
        fields = {f.name: child for f, child in zip(chunk.type, chunk.flatten())}
        counts = fields.pop("counts")
        offsets = counts.offsets.to_numpy().tolist()
        flat = np.asarray(counts.values.to_numpy(zero_copy_only=False), dtype=np.int64).tolist()
        scalars = {k: v.to_pylist() for k, v in fields.items()}
        has_counts = counts.is_valid().to_pylist()
        for i, ok in enumerate(chunk.is_valid().to_pylist()):
            if not ok:
                out.append(None)
                continue
            h = {k: v[i] for k, v in scalars.items()}
            h["counts"] = flat[offsets[i]:offsets[i + 1]] if has_counts[i] else None
            out.append(h)
    return out


def populations_from_table(table: pa.Table) -> list[tuple[dict[str, str], Population]]:
    """(key, Population) per row of a `regression_inputs` Arrow table (`population_from_row` per row)."""
    with gc_paused():  # a dozen acyclic objects per row (see gcpause)
        return [({"model": str(r["model"]), "target": str(r["target"]), "hardware": str(r["hardware"])},
                 population_from_row(r)) for r in rows_from_table(table)]


def fetch_populations(source: Any, params: Mapping[str, Any]) -> list[tuple[dict[str, str], Population]]:
    """(key, Population) per model, target and hardware matching the filters in `params`."""
    from inferwatch import queries

    return populations_from_table(queries.run_arrow("regression_inputs", dict(params), source))
