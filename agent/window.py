"""One export window: samples folded into histograms per series, ready to encode."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

from .histogram import ExponentialHistogram, LinearHistogram
from .series import Series

__all__ = ["SeriesWindow", "Window", "error_type_name"]

_NAME_CACHE: dict[type, str] = {}


def error_type_name(exc_type: type | str) -> str:
    """`error.type` as OpenTelemetry spells it: `TimeoutError` for builtins, else `module.QualName`."""
    if isinstance(exc_type, str):
        return exc_type or "_OTHER"
    name = _NAME_CACHE.get(exc_type)
    if name is None:
        module = getattr(exc_type, "__module__", "builtins")
        qual = getattr(exc_type, "__qualname__", getattr(exc_type, "__name__", "_OTHER"))
        name = qual if module in ("builtins", "__builtin__") else f"{module}.{qual}"
        if len(_NAME_CACHE) < 4096:
            _NAME_CACHE[exc_type] = name
    return name


def _valid_confidence(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        v = float(value)
    except Exception:
        return None
    return v if 0.0 <= v <= 1.0 else None  # NaN fails both comparisons


@dataclass
class SeriesWindow:
    """Everything one (model, version) did in one window."""

    ok: ExponentialHistogram = field(default_factory=ExponentialHistogram)
    failed: dict[str, ExponentialHistogram] = field(default_factory=dict)
    confidence: LinearHistogram = field(default_factory=LinearHistogram)

    @property
    def calls(self) -> int:
        return self.ok.count + sum(h.count for h in self.failed.values())


@dataclass
class Window:
    """An open window [start_ns, end_ns) of wall-clock time, folded incrementally."""

    start_ns: int
    end_ns: int
    series: dict[tuple[str, str], SeriesWindow] = field(default_factory=dict)
    memory: ExponentialHistogram = field(default_factory=ExponentialHistogram)
    gpu_memory: dict[str, ExponentialHistogram] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int) -> None:
        """Increment a self-telemetry counter of this window."""
        if n:
            self.counters[what] = self.counters.get(what, 0) + n

    def fold(self, series: Series) -> int:
        """Move a series' buffered samples into this window; returns how many calls it took."""
        durations, errors, confidences = series.drain()
        counts = series.take_counts()
        for key, n in counts.items():
            self.add(key, n)
        if not (durations or errors or confidences):
            return 0
        sw = self.series.get(series.key)
        if sw is None:
            sw = self.series[series.key] = SeriesWindow()
        if durations:
            sw.ok.add_many([d * 1e-9 for d in durations])
        grouped: dict[str, list[float]] = {}
        for ns, exc_type in errors:
            grouped.setdefault(error_type_name(exc_type), []).append(ns * 1e-9)
        for name, seconds in grouped.items():
            hist = sw.failed.get(name)
            if hist is None:
                hist = sw.failed[name] = ExponentialHistogram()
            hist.add_many(seconds)
        if confidences:
            valid = []
            for value in confidences:
                v = _valid_confidence(value)
                if v is None:
                    self.add("confidence_invalid", 1)
                else:
                    valid.append(v)
            sw.confidence.add_many(valid)
        calls = len(durations) + len(errors)
        self.add("calls", calls)
        self.add("errors", len(errors))
        return calls

    def add_memory(self, rss_bytes: int, gpu: dict[str, int] | None = None) -> None:
        """Fold one memory sample (RSS, and per-GPU bytes when present)."""
        if rss_bytes > 0:
            self.memory.add_many((float(rss_bytes),))
        for hw_id, used in (gpu or {}).items():
            if used >= 0 and math.isfinite(used):
                h = self.gpu_memory.get(hw_id)
                if h is None:
                    h = self.gpu_memory[hw_id] = ExponentialHistogram()
                h.add_many((float(used),))
