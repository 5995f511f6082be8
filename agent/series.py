"""Per-(model, version) sample buffers that the hot path appends to and the background drains."""

from __future__ import annotations

import threading

__all__ = ["BUFFER_CAPACITY", "Registry", "Series"]

# Samples one series holds between two background folds (every 0.25 s). Past it, samples are
# dropped and counted: memory is bounded at ~BUFFER_CAPACITY * 36 bytes per series.
BUFFER_CAPACITY = 65_536


class Series:
    """Buffers of one (model, version): durations (ns), failed calls, confidences."""

    __slots__ = ("capacity", "confidences", "durations", "errors", "key", "_counts", "_lock")

    def __init__(self, model: str, version: str) -> None:
        self.key = (model, version)
        self.durations: list[int] = []
        self.errors: list[tuple[int, type]] = []
        self.confidences: list[object] = []
        self.capacity = BUFFER_CAPACITY
        self._lock = threading.Lock()
        self._counts = {"dropped": 0, "confidence_errors": 0, "invalid_records": 0}

    # Slow paths: called on errors, drops and confidence failures only.
    def on_error(self, duration_ns: int, exc_type: type) -> None:
        """Record a failed call (never raises)."""
        if len(self.errors) < self.capacity:
            self.errors.append((duration_ns, exc_type))
        else:
            self.count("dropped")

    def on_confidence(self, value: object) -> None:
        """Record a confidence value; the background validates it."""
        if len(self.confidences) < self.capacity:
            self.confidences.append(value)

    def count(self, what: str, n: int = 1) -> None:
        """Increment one of the series' exact counters."""
        with self._lock:
            self._counts[what] += n

    def take_counts(self) -> dict[str, int]:
        """Return and reset the counters."""
        with self._lock:
            counts = self._counts
            self._counts = dict.fromkeys(counts, 0)
        return counts

    def peek_counts(self) -> dict[str, int]:
        """The counters, without resetting them."""
        with self._lock:
            return dict(self._counts)

    def drain(self) -> tuple[list[int], list[tuple[int, type]], list[object]]:
        """Take what the hot path appended so far (atomic slices under the GIL, no lock)."""
        out = []
        for buf in (self.durations, self.errors, self.confidences):
            n = len(buf)
            taken = buf[:n]
            del buf[:n]
            out.append(taken)
        return out[0], out[1], out[2]


class Registry:
    """All series of a process; observe() and record() look series up here."""

    def __init__(self) -> None:
        self._series: dict[tuple[str, str], Series] = {}
        self._lock = threading.Lock()
        self.capacity = BUFFER_CAPACITY

    def series(self, model: str, version: str) -> Series:
        """The series for (model, version), created on first use."""
        key = (model, version)
        found = self._series.get(key)
        if found is None:
            with self._lock:
                found = self._series.get(key)
                if found is None:
                    found = self._series[key] = Series(model, version)
                    found.capacity = self.capacity
        return found

    def all(self) -> list[Series]:
        """A snapshot of every series."""
        return list(self._series.values())

    def set_capacity(self, capacity: int) -> None:
        """Change how many samples each buffer holds (0 while disabled)."""
        self.capacity = capacity
        for s in self.all():
            s.capacity = capacity
