"""Thread-safe counters and gauges behind `inferwatch.stats()` and the `inferwatch.agent.*` metrics."""

from __future__ import annotations

import threading
from collections.abc import Mapping

__all__ = ["Stats"]

COUNTERS = (
    "calls", "errors", "dropped", "confidence_errors", "confidence_invalid", "invalid_records",
    "windows_sent", "windows_spooled", "spool_dropped", "spool_corrupt", "export_failures",
    "windows_rejected", "points_rejected", "bytes_sent",
)
GAUGES = ("spool_bytes", "spool_files", "overhead_ns")


class Stats:
    """Cumulative counters (since the process started) and last-value gauges."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = dict.fromkeys(COUNTERS, 0)
        self._gauges: dict[str, float] = {}

    def add(self, key: str, n: int = 1) -> None:
        """Increment a counter."""
        if n:
            with self._lock:
                self._counters[key] = self._counters.get(key, 0) + n

    def add_many(self, counts: Mapping[str, int]) -> None:
        """Increment several counters at once."""
        with self._lock:
            for key, n in counts.items():
                self._counters[key] = self._counters.get(key, 0) + n

    def set_gauge(self, key: str, value: float) -> None:
        """Set a gauge to its latest value."""
        with self._lock:
            self._gauges[key] = value

    def totals(self) -> dict[str, int]:
        """A copy of the counters."""
        with self._lock:
            return dict(self._counters)

    def gauges(self) -> dict[str, float]:
        """A copy of the gauges."""
        with self._lock:
            return dict(self._gauges)
