"""Populations from stored windows: the adapter between `inferwatch.queries` and the engine."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .model import ConfidenceHistogram, LatencyHistogram, Memory, Population, Sample

__all__ = ["fetch_populations", "population_from_row"]


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


def fetch_populations(source: Any, params: Mapping[str, Any]) -> list[tuple[dict[str, str], Population]]:
    """(key, Population) per model, target and hardware matching the filters in `params`."""
    from inferwatch import queries

    frame = queries.run("regression_inputs", dict(params), source)
    out = []
    for row in frame.to_dict("records"):
        key = {"model": str(row["model"]), "target": str(row["target"]), "hardware": str(row["hardware"])}
        out.append((key, population_from_row(row)))
    return out
