"""The Collector: wires the store, write-ahead log and writer; the ingest core HTTP and gRPC share."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .decode_pool import DecodePool, WorkerLost
from .findings import RolloutWatch
from .ingest_prepare import Prepared, prepare
from .otlp_decode import Decoded, decode_request
from .store import Store
from .wal import WriteAheadLog
from .writer import Writer

__all__ = ["Collector", "CollectorSettings", "IngestResult", "Overloaded", "WorkerLost"]

log = logging.getLogger("inferwatch.collector")
_ROOM_POLL_S = 0.01  # how often a request waiting for room in the write queue looks again


class Overloaded(RuntimeError):
    """The write queue is full: answer 503 with Retry-After (gRPC UNAVAILABLE)."""

    retry_after_s = 2


@dataclass
class CollectorSettings:
    """Everything the collector can be told (the CLI fills it)."""

    db: str
    host: str = "127.0.0.1"
    port: int = 4318
    grpc_port: int | None = None
    ingest_token: str | None = None
    query_token: str | None = None
    max_request_bytes: int = 16 * 1024 * 1024
    max_queue_points: int = 500_000
    # a request that finds the write queue full waits this long for room before its 503: clients are then
    # slowed to the writer's pace instead of all backing off for Retry-After at once (docs/collector.md)
    full_queue_wait_s: float = 2.0
    batch_points: int = 250_000  # larger transactions commit cheaper per point (docs/collector.md, Limits)
    batch_delay_s: float = 0.25
    raw_retention_hours: float = 48.0
    retention_days: float = 30.0
    maintenance_interval_s: float = 60.0
    rollout_scan_interval_s: float = 300.0  # compare each model's newest version with the one before
    query_timeout_s: float = 30.0
    query_max_rows: int = 100_000
    wal_dir: str | None = None
    fsync: bool = True
    decode_workers: int = 0  # processes decoding large OTLP/HTTP requests; 0: in the collector's process
    decode_min_bytes: int = 16 * 1024  # smaller requests (as received) are decoded in-process


@dataclass
class IngestResult:
    """What one export request came to."""

    accepted: int
    rejected: int
    error_message: str


class Collector:
    """Owns the database and the ingest pipeline; servers call ingest_async / ingest_sync."""

    def __init__(self, settings: CollectorSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.started_at = clock()
        self.store = Store(settings.db)
        wal_dir = settings.wal_dir or (str(Path(settings.db)) + ".wal.d")
        self.wal = WriteAheadLog(wal_dir, fsync=settings.fsync)
        self.writer = Writer(
            self.store,
            batch_points=settings.batch_points,
            max_delay_s=settings.batch_delay_s,
            max_queue_points=settings.max_queue_points,
            maintenance_interval_s=settings.maintenance_interval_s,
            raw_retention_hours=settings.raw_retention_hours,
            retention_days=settings.retention_days,
            clock=clock,
            on_committed=self._committed,
        )
        self.rollout_watch = RolloutWatch(self.store.con, settings.rollout_scan_interval_s,
                                          first_after_s=settings.maintenance_interval_s, clock=clock)
        self.decode_pool: DecodePool | None = None
        self.requests = 0
        self.requests_decoded_in_workers = 0
        self.points_accepted = 0
        self.points_rejected = 0
        self.requests_refused = 0  # 503: queue full
        self.requests_invalid = 0  # 400/413/415
        self.replayed = 0
        self._lock = threading.Lock()
        self._stopped = False

    # ------------------------------------------------------------- lifecycle
    def start(self) -> Collector:
        """Replay the WAL (points acknowledged but not yet in the database), then accept new ones."""
        # Ingest allocates many short-lived tuples; default GC thresholds cost ~30% of throughput.
        gc.set_threshold(max(gc.get_threshold()[0], 200_000), 50, 1000)
        self.writer.start()
        for seq, payload in self.wal.replay(self.writer.committed_seq):
            _, decoded = decode_request(payload, False)  # the same checks as when it was received
            self.writer.put(seq, decoded)
            self.replayed += 1
        self.wal.start()
        if self.settings.decode_workers > 0:
            self.decode_pool = DecodePool(self.settings.decode_workers).start()
        self.rollout_watch.start()
        if self.replayed:
            log.info("inferwatch collector: replayed %d requests from the write-ahead log", self.replayed)
            self.writer.wait_idle(timeout_s=600)
        return self

    def stop(self) -> None:
        """Stop accepting, commit everything acknowledged, checkpoint and close the database."""
        if self._stopped:
            return
        self._stopped = True
        self.rollout_watch.stop()
        if self.decode_pool is not None:
            self.decode_pool.close()
        self.wal.close()
        self.writer.stop()
        self.wal.release(self.writer.committed_seq)
        self.store.close()

    def _committed(self, seq: int) -> None:
        self.wal.release(seq)

    # ------------------------------------------------------------- ingest
    def _oldest_ns(self) -> int:
        """Points ending before this are past raw retention (Store.oldest_kept_ns at the clock's now)."""
        return Store.oldest_kept_ns(self.clock(), self.settings.raw_retention_hours)

    def _waiting_for_room(self, decoded: Decoded, deadline: float) -> bool:
        """Whether a request should wait longer for room in the write queue (then _admit decides)."""
        points = decoded.points
        return bool(points) and not self.writer.has_room(points) and time.monotonic() < deadline

    def _admit(self, decoded: Decoded) -> None:
        with self._lock:
            self.requests += 1
        if decoded.points and not self.writer.has_room(decoded.points + 0):
            with self._lock:
                self.requests_refused += 1
            raise Overloaded("the collector's write queue is full")

    def _result(self, decoded: Decoded) -> IngestResult:
        with self._lock:
            self.points_accepted += decoded.points
            self.points_rejected += decoded.rejected
        return IngestResult(decoded.points, decoded.rejected, decoded.error_message)

    async def ingest_async(self, received: bytes, is_json: bool, gzipped: bool = False) -> IngestResult:
        """Decode, validate, append to the WAL and return once durable (raises DecodeFailure, TooLarge,
        Overloaded or WorkerLost). `received`: the body as it arrived (gzip'ed when `gzipped`); requests
        of at least decode_min_bytes go to the decode workers when there are any."""
        limit = self.settings.max_request_bytes
        kwargs = dict(is_json=is_json, gzipped=gzipped, limit=limit, oldest_ns=self._oldest_ns())
        if self.decode_pool is not None and len(received) >= self.settings.decode_min_bytes:
            with self._lock:
                self.requests_decoded_in_workers += 1
            prepared = await self.decode_pool.prepare(received, **kwargs)
        else:
            prepared = prepare(received, **kwargs)
        decoded = prepared.decoded
        deadline = time.monotonic() + self.settings.full_queue_wait_s
        while self._waiting_for_room(decoded, deadline):
            await asyncio.sleep(_ROOM_POLL_S)
        self._admit(decoded)
        if decoded.points:
            loop = asyncio.get_running_loop()
            future = loop.create_future()

            def done(seq: int, item: Decoded) -> None:
                self.writer.put(seq, item)
                loop.call_soon_threadsafe(_resolve, future, seq)

            self.wal.submit(_payload(prepared, received), decoded, done)
            await future
        return self._result(decoded)

    def ingest_sync(self, body: bytes, is_json: bool = False) -> IngestResult:
        """The blocking form of ingest_async for an uncompressed body (gRPC handlers run in a thread
        pool), always decoded in-process."""
        prepared = prepare(
            body, is_json=is_json, gzipped=False, limit=self.settings.max_request_bytes,
            oldest_ns=self._oldest_ns(),
        )
        decoded = prepared.decoded
        deadline = time.monotonic() + self.settings.full_queue_wait_s
        while self._waiting_for_room(decoded, deadline):
            time.sleep(_ROOM_POLL_S)
        self._admit(decoded)
        if decoded.points:
            self.wal.append(_payload(prepared, body), decoded, lambda seq, item: self.writer.put(seq, item))
        return self._result(decoded)

    # ------------------------------------------------------------- health and metrics
    def stats(self) -> dict:
        """The collector's own metrics."""
        w = self.writer.stats
        p99 = self.writer.write_latency_p99()
        return {
            "uptime_s": round(self.clock() - self.started_at, 3),
            "requests": self.requests,
            "requests_refused": self.requests_refused,
            "requests_invalid": self.requests_invalid,
            "points_accepted": self.points_accepted,
            "points_rejected": self.points_rejected,
            "points_written": w.points_written,
            "points_duplicate": w.points_duplicate,
            "points_too_old": w.points_too_old,
            "batches": w.batches,
            "write_errors": w.write_errors,
            "queue_points": self.writer.queued_points,
            "queue_capacity_points": self.writer.max_queue_points,
            "write_latency_last_s": round(w.last_write_s, 6),
            "write_latency_p99_s": None if p99 != p99 else round(p99, 6),
            "wal_bytes": self.wal.size_bytes(),
            "wal_fsyncs": self.wal.fsyncs,
            "wal_replayed_requests": self.replayed,
            "decode_workers": self.decode_pool.workers if self.decode_pool else 0,
            "requests_decoded_in_workers": self.requests_decoded_in_workers,
            "decode_worker_restarts": self.decode_pool.restarts if self.decode_pool else 0,
            "db_bytes": self.store.size_bytes(),
            "rollup_runs": w.rollup_runs,
        }

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every acknowledged point is committed to the database (tests, benchmarks)."""
        deadline = time.monotonic() + timeout_s
        while self.wal.pending and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.writer.wait_idle(max(0.0, deadline - time.monotonic()))


def _payload(prepared: Prepared, received: bytes) -> bytes:
    return received if prepared.payload is None else prepared.payload


def _resolve(future: asyncio.Future, seq: int) -> None:
    if not future.done():
        future.set_result(seq)


def default_db_path() -> str:
    """The database path used when none is given."""
    return os.environ.get("INFERWATCH_DB", "./inferwatch.duckdb")
