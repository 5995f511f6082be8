"""The background side of the agent: fold buffers into windows, encode, deliver, spool, replay.

A window travels as one gzip'ed OTLP ExportMetricsServiceRequest: in memory, in the spool and on the wire.
"""

from __future__ import annotations

import gzip
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable

from .config import Config
from .encode import SELF_COUNTERS, encode_window
from .memory import MemorySampler
from .overhead import measure_overhead_ns
from .series import BUFFER_CAPACITY, Registry
from .spool import Spool
from .stats import Stats
from .transport import Transport, make_transport
from .window import Window

__all__ = ["Runtime"]

log = logging.getLogger("inferwatch")

FOLD_EVERY_S = 0.25
FOLD_BUSY_S = 0.02  # while buffers fill fast, fold this often instead
MEMORY_EVERY_S = 1.0
MAX_BACKOFF_S = 60.0
PENDING_WITH_SPOOL = 8  # windows held in memory before they go to disk anyway
PENDING_WITHOUT_SPOOL = 256  # bound when there is no spool; past it the oldest is dropped


class Runtime:
    """Two daemon threads for one configuration: a folder (windows) and a sender (delivery)."""

    def __init__(self, config: Config, registry: Registry, stats: Stats, *,
                 transport: Transport | None = None,
                 memory: MemorySampler | None = None,
                 wall_clock: Callable[[], int] = time.time_ns) -> None:
        self.config = config
        self.registry = registry
        self.stats = stats
        self._clock = wall_clock
        self._memory = memory or MemorySampler()
        self.spool = Spool(config.spool_dir, int(config.spool_max_mb * 1024 * 1024)) \
            if config.spool_dir is not None else None
        self._transport = transport or make_transport(config.protocol, config.endpoint, config.headers,
                                                      config.timeout_s)
        self._pending: deque[bytes] = deque()
        self._cond = threading.Condition()
        self._stop_folding = threading.Event()
        self._stop_sending = threading.Event()
        self._wake = threading.Event()  # set to make the folder run now (flush, stop)
        self._close_requested = 0
        self._closed = 0
        self._attempts_failed = 0
        self._retry_at = 0.0
        self._backoff = 0.0
        self._logged: set[str] = set()
        self._reported: dict[str, int] = {}
        self._spool_seen = (0, 0)
        now = self._clock()
        self._window = Window(now, self._boundary_after(now))
        self._folder = threading.Thread(target=self._fold_loop, name="inferwatch-fold", daemon=True)
        self._sender = threading.Thread(target=self._send_loop, name="inferwatch-send", daemon=True)
        self._sync_spool_stats()

    def start(self) -> None:
        self._folder.start()
        self._sender.start()

    # ------------------------------------------------------------------ folding
    def _boundary_after(self, now_ns: int) -> int:
        step = int(self.config.interval_s * 1e9)
        return (now_ns // step + 1) * step

    def _fold_loop(self) -> None:
        last_memory = 0.0
        busy = False
        self._calibrate()
        while True:
            self._wake.wait(min(FOLD_BUSY_S if busy else FOLD_EVERY_S, self.config.interval_s / 4))
            self._wake.clear()
            stopping = self._stop_folding.is_set()
            try:
                folded = 0
                for series in self.registry.all():
                    folded = max(folded, self._window.fold(series))
                busy = folded > BUFFER_CAPACITY // 8  # a buffer filled an eighth between two folds
                mono = time.monotonic()
                if mono - last_memory >= MEMORY_EVERY_S:
                    last_memory = mono
                    self._window.add_memory(self._memory.rss(), self._memory.gpu())
                now = self._clock()
                requested = self._close_requested
                if now >= self._window.end_ns or requested > self._closed or stopping:
                    self._close_window(now)
                    self._closed = requested
                    with self._cond:
                        self._cond.notify_all()
            except Exception:  # the background must survive anything
                log.exception("inferwatch: folding failed; continuing")
            if stopping:
                return

    def _calibrate(self) -> None:
        try:
            self.stats.set_gauge("overhead_ns", measure_overhead_ns())
        except Exception:
            pass

    def _close_window(self, now: int) -> None:
        window = self._window
        end = min(now, window.end_ns) if now < window.end_ns else window.end_ns
        window.end_ns = max(end, window.start_ns + 1)
        self._window = Window(window.end_ns, self._boundary_after(max(now, window.end_ns)))
        self.stats.add_many(window.counters)
        counters = self._counter_deltas()
        request = encode_window(window, self.config.resource_attributes, counters, self.stats.gauges(),
                                self._memory.peak_rss)
        self._enqueue(gzip.compress(request, compresslevel=6))  # compressed once: queue, spool, wire
        self._calibrate()

    def _counter_deltas(self) -> dict[str, int]:
        totals = self.stats.totals()
        deltas = {}
        for key in SELF_COUNTERS:
            deltas[key] = totals.get(key, 0) - self._reported.get(key, 0)
            self._reported[key] = totals.get(key, 0)
        return deltas

    # ------------------------------------------------------------------ outbox
    def _enqueue(self, payload: bytes) -> None:
        with self._cond:
            if self.spool is not None and (len(self.spool) or len(self._pending) >= PENDING_WITH_SPOOL):
                self._spool(payload)  # keep the order: the spool holds older windows
            else:
                self._pending.append(payload)
                if self.spool is None and len(self._pending) > PENDING_WITHOUT_SPOOL:
                    self._pending.popleft()
                    self.stats.add("spool_dropped")
            self._cond.notify_all()

    def _spool(self, payload: bytes) -> None:
        if self.spool is not None and self.spool.put(payload):
            self.stats.add("windows_spooled")
        self._sync_spool_stats()

    def _sync_spool_stats(self) -> None:
        """Publish the spool's size and its new drops and torn files."""
        spool = self.spool
        if spool is None:
            return
        self.stats.add("spool_dropped", spool.dropped - self._spool_seen[0])
        self.stats.add("spool_corrupt", spool.corrupt - self._spool_seen[1])
        self._spool_seen = (spool.dropped, spool.corrupt)
        self.stats.set_gauge("spool_bytes", spool.total_bytes)
        self.stats.set_gauge("spool_files", len(spool))

    def _spill_pending(self) -> None:
        """Make every in-memory window durable (after a failed attempt or at stop)."""
        with self._cond:
            while self.spool is not None and self._pending:
                self._spool(self._pending.popleft())

    def _next(self) -> tuple[str, int, bytes] | None:
        with self._cond:
            if self.spool is not None and len(self.spool):
                found = self.spool.oldest()
                self._sync_spool_stats()
                if found is not None:
                    return "spool", found[0], found[1]
            if self._pending:
                return "memory", 0, self._pending[0]
        return None

    def _done(self, source: str, ident: int, payload: bytes) -> None:
        with self._cond:
            if source == "spool":
                self.spool.remove(ident)
                self._sync_spool_stats()
            elif self._pending and self._pending[0] is payload:  # not spilled meanwhile
                self._pending.popleft()
            self._cond.notify_all()

    # ------------------------------------------------------------------ sending
    def _send_loop(self) -> None:
        while True:
            try:
                if self._send_one():
                    continue
            except Exception:
                log.exception("inferwatch: delivery failed; continuing")
            if self._stop_sending.is_set():
                return
            wait = 0.5 if not self._retry_at else max(0.01, min(0.5, self._retry_at - time.monotonic()))
            with self._cond:
                self._cond.wait(wait)

    def _send_one(self) -> bool:
        """Try to deliver the oldest window; True if there may be more to do right away."""
        if self._retry_at and time.monotonic() < self._retry_at:
            return False
        item = self._next()
        if item is None:
            return False
        source, ident, payload = item
        result = self._transport.send(payload)
        if result.ok:
            self._retry_at = 0.0
            self._backoff = 0.0
            self.stats.add("windows_sent")
            self.stats.add("bytes_sent", result.bytes_sent)
            if result.rejected_points:
                self.stats.add("points_rejected", result.rejected_points)
                self._log_once(f"partial:{result.message}", "inferwatch: the collector rejected %d points: "
                               "%s", result.rejected_points, result.message)
            self._done(source, ident, payload)
            return True
        self.stats.add("export_failures")
        with self._cond:
            self._attempts_failed += 1
            self._cond.notify_all()
        if result.retryable:
            self._spill_pending()
            self._backoff = min(MAX_BACKOFF_S, max(1.0, self._backoff * 2))
            delay = result.retry_after_s if result.retry_after_s is not None else \
                self._backoff * random.uniform(0.8, 1.2)
            self._retry_at = time.monotonic() + min(delay, 300.0)
            self._log_once(f"retry:{result.status}", "inferwatch: %s unreachable (%s: %s); spooling and "
                           "retrying with backoff", self.config.endpoint, result.status, result.message)
            return False
        self.stats.add("windows_rejected")
        self._log_once(f"reject:{result.status}", "inferwatch: %s refused a window with %s (not retried): %s",
                       self.config.endpoint, result.status, result.message)
        self._done(source, ident, payload)
        return True

    def _log_once(self, key: str, message: str, *args) -> None:
        if key not in self._logged and len(self._logged) < 100:
            self._logged.add(key)
            log.warning(message, *args)

    # ------------------------------------------------------------------ control
    def flush(self, timeout_s: float) -> bool:
        """Close the current window and wait for delivery; False if not everything got through."""
        deadline = time.monotonic() + max(0.0, timeout_s)
        if not self._folder.is_alive():
            return False
        with self._cond:
            self._close_requested += 1
            wanted = self._close_requested
            failed_before = self._attempts_failed
        self._wake.set()
        with self._cond:
            while self._closed < wanted:
                left = deadline - time.monotonic()
                if left <= 0 or not self._folder.is_alive():
                    return False
                self._cond.wait(min(left, 0.05))
            self._retry_at = 0.0  # an explicit flush tries now
            self._cond.notify_all()
            while True:
                if not self._pending and (self.spool is None or len(self.spool) == 0):
                    return True
                if self._attempts_failed > failed_before and not self._pending:
                    return False  # tried, failed, and everything is on disk
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))

    def stop(self, timeout_s: float = 5.0) -> None:
        """Close the last window, try to deliver for up to timeout_s, spool the rest, stop threads."""
        deadline = time.monotonic() + timeout_s
        self._stop_folding.set()
        self._wake.set()
        self._folder.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            self._retry_at = 0.0
            self._cond.notify_all()
        while time.monotonic() < deadline:
            with self._cond:
                if not self._pending and (self.spool is None or len(self.spool) == 0):
                    break
                if self._retry_at:  # the endpoint is failing: do not wait out the backoff
                    break
                self._cond.wait(0.05)
        self._stop_sending.set()
        with self._cond:
            self._cond.notify_all()
        self._sender.join(max(0.1, deadline - time.monotonic()))
        self._spill_pending()
        self._transport.close()
        if self.spool is not None:
            self.spool.close()
