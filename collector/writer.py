"""The single writer: drains decoded requests in WAL order, turns cumulative into delta, writes batches."""

from __future__ import annotations

import collections
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc

from .hist_convert import delta_of
from .otlp_decode import CUMULATIVE, Decoded
from .store import Store

__all__ = ["Writer", "WriterStats"]

log = logging.getLogger("inferwatch.collector")


class WriterStats:
    """Counters the writer keeps (read from other threads; plain ints are safe enough to read)."""

    def __init__(self) -> None:
        self.points_written = 0
        self.points_duplicate = 0
        self.points_too_old = 0
        self.batches = 0
        self.write_errors = 0
        self.last_write_s = 0.0
        self.write_seconds = collections.deque(maxlen=256)
        self.rollup_runs = 0
        self.minute_rollup_runs = 0
        self.retention_runs = 0


class Writer:
    """One thread owns all writes; items arrive already durable in the WAL, in sequence order."""

    def __init__(
        self,
        store: Store,
        *,
        batch_points: int = 250_000,
        max_delay_s: float = 0.25,
        max_queue_points: int = 500_000,
        maintenance_interval_s: float = 60.0,
        minute_rollup_interval_s: float = 5.0,
        raw_retention_hours: float = 48.0,
        retention_days: float = 30.0,
        clock: Callable[[], float] = time.time,
        on_committed: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.batch_points = batch_points
        self.max_delay_s = max_delay_s
        self.max_queue_points = max_queue_points
        self.maintenance_interval_s = maintenance_interval_s
        # fleet minute rollups of the minutes just written (cheap), so queries read few raw points
        self.minute_rollup_interval_s = minute_rollup_interval_s
        self._minute_rollup_due = time.monotonic() + minute_rollup_interval_s
        self.raw_retention_hours = raw_retention_hours
        self.retention_days = retention_days
        self.clock = clock
        self.on_committed = on_committed
        self.stats = WriterStats()
        self._queue: queue.Queue = queue.Queue()
        self._queued_points = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cumulative = store.load_cumulative_state()
        self.committed_seq = store.committed_seq()
        self._enqueued_seq = self.committed_seq
        self._idle = threading.Condition()
        self._maintenance_due = time.monotonic() + maintenance_interval_s
        self._maintenance_now = threading.Event()
        self._resumed = threading.Event()
        self._resumed.set()

    # ------------------------------------------------------------- producer side
    @property
    def queued_points(self) -> int:
        """Points waiting to be written."""
        return self._queued_points

    def has_room(self, points: int) -> bool:
        """Whether `points` more points fit in the bounded queue."""
        return self._queued_points + points <= self.max_queue_points or self._queued_points == 0

    def put(self, seq: int, decoded: Decoded) -> None:
        """Hand over a durable request (called in WAL sequence order)."""
        with self._lock:
            self._queued_points += decoded.points
            self._enqueued_seq = seq
        self._queue.put((seq, decoded))

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything handed over is committed to the database."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self.committed_seq < self._enqueued_seq:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def pause(self) -> None:
        """Hold writes (e.g. while copying the database file); requests queue up to the bound."""
        self._resumed.clear()

    def resume(self) -> None:
        """Continue writing after pause()."""
        self._resumed.set()

    def request_maintenance(self) -> None:
        """Run rollups and retention at the next opportunity."""
        self._maintenance_now.set()
        self._queue.put(None)

    # ------------------------------------------------------------- writer thread
    def start(self) -> Writer:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="inferwatch-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Write everything queued, then stop."""
        self._stop.set()
        self._resumed.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            batch: list[tuple[int, Decoded]] = []
            points = 0
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                item = None
            if item is not None:
                batch.append(item)
                points += item[1].points
                deadline = time.monotonic() + self.max_delay_s
                while points < self.batch_points:
                    try:
                        item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        break
                    if item is None:
                        if self._stop.is_set():
                            break
                        continue
                    batch.append(item)
                    points += item[1].points
            if batch:
                self._resumed.wait()
                self._write(batch, points)
            if time.monotonic() >= self._minute_rollup_due:
                self.rollup_minutes()
            if self._maintenance_now.is_set() or time.monotonic() >= self._maintenance_due:
                self._maintenance_now.clear()
                self.run_maintenance()
            if self._stop.is_set() and self._queue.empty():
                return

    def _write(self, batch: list[tuple[int, Decoded]], points: int) -> None:
        now_s = self.clock()
        now_ns = int(now_s * 1e9)
        oldest_ns = Store.oldest_kept_ns(now_s, self.raw_retention_hours)
        inference: list[tuple] = []
        metrics: list[tuple] = []
        tables: list[tuple] = []
        touched: dict[int, tuple] = {}
        for _, decoded in batch:
            if decoded.tables is not None:
                inf_table, met_table = decoded.tables
                # as for rows below: inference points are too old by their start, metric points by their end
                recent_inf = self._recent(inf_table, "start_ns", oldest_ns)
                tables.append((recent_inf, self._recent(met_table, "end_ns", oldest_ns)))
            for row in decoded.inference:
                row = self._delta(row, 9, touched) if row[3] == CUMULATIVE else row
                if row is not None:
                    if row[1] < oldest_ns:
                        self.stats.points_too_old += 1
                        continue
                    inference.append(row)
            for row in decoded.metrics:
                if row[3] == CUMULATIVE:
                    if row[5] == "sum" and row[7]:
                        row = self._delta(row, 10, touched)
                    elif row[5] in ("histogram", "exponential_histogram"):
                        row = self._delta(row, 11, touched)
                if row is not None:
                    if row[2] < oldest_ns:
                        self.stats.points_too_old += 1
                        continue
                    metrics.append(row)
        started = time.perf_counter()
        upto = batch[-1][0]
        while True:
            try:
                inserted, duplicates = self.store.write(inference, metrics, upto, touched, now_ns, tables)
                break
            except Exception:  # a broken batch must not stop ingestion: log, count, retry once
                self.stats.write_errors += 1
                log.exception("inferwatch collector: writing a batch of %d points failed", points)
                if self._stop.is_set():
                    raise
                time.sleep(1.0)
        elapsed = time.perf_counter() - started
        self.stats.last_write_s = elapsed
        self.stats.write_seconds.append(elapsed)
        self.stats.batches += 1
        self.stats.points_written += inserted
        self.stats.points_duplicate += duplicates
        with self._lock:
            self._queued_points -= points
        with self._idle:
            self.committed_seq = upto
            self._idle.notify_all()
        if self.on_committed is not None:
            self.on_committed(upto)

    def _recent(self, table: pa.Table | None, key: str, oldest_ns: int) -> pa.Table | None:
        """The rows of a worker-built table still within raw retention (it may have moved since)."""
        if table is None or pc.min(table.column(key)).as_py() >= oldest_ns:
            return table
        keep = pc.greater_equal(table.column(key), oldest_ns)
        self.stats.points_too_old += table.num_rows - pc.sum(keep).as_py()
        return table.filter(keep)

    def _delta(self, row: tuple, pos: int, touched: dict[int, tuple]) -> tuple | None:
        """The delta of a cumulative point against the series' previous one; None for a repeat."""
        sid, start, end = row[0], row[1], row[2]
        prev = touched.get(sid) or self._cumulative.get(sid)
        value = row[pos]
        state = (start, end, value)
        if prev is not None and prev[0] == start and end <= prev[1]:
            return None  # already seen (replay or out of order)
        delta = None
        if prev is not None and prev[0] == start:
            if isinstance(value, tuple):
                delta = delta_of(value, prev[2])
            elif value >= prev[2]:
                delta = value - prev[2]
        touched[sid] = state
        self._cumulative[sid] = state
        if delta is None:  # first point of the series or a reset: everything since start
            return row
        new_start = prev[1]
        out = list(row)
        out[1] = new_start
        out[pos] = delta
        return tuple(out)

    def rollup_minutes(self) -> None:
        """Roll up the minutes written since the last run into the fleet minute rollups."""
        self._minute_rollup_due = time.monotonic() + self.minute_rollup_interval_s
        try:
            self.store.rollup_minutes()
            self.stats.minute_rollup_runs += 1
        except Exception:
            log.exception("inferwatch collector: minute rollup failed")

    def run_maintenance(self) -> None:
        """Roll up dirty minutes and hours, enforce retention, checkpoint."""
        self._maintenance_due = time.monotonic() + self.maintenance_interval_s
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        self.rollup_minutes()
        try:
            self.store.rollup(now)
            self.stats.rollup_runs += 1
            self.store.enforce_retention(now, self.raw_retention_hours, self.retention_days)
            self.stats.retention_runs += 1
        except Exception:
            log.exception("inferwatch collector: maintenance failed")

    def write_latency_p99(self) -> float:
        """p99 of recent batch write times in seconds."""
        values = sorted(self.stats.write_seconds)
        if not values:
            return math.nan
        return values[min(len(values) - 1, int(0.99 * len(values)))]
