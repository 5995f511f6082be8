"""Decode worker processes: large OTLP/HTTP requests are gunzip'ed, decoded, validated and turned into
Arrow tables off the collector's process, so its GIL is left for HTTP, the WAL and DuckDB.

Workers are started with `spawn` (never fork a process that has DuckDB open and threads running) and
hold no state the answer depends on: what they return is what `ingest_prepare.prepare` returns in the
collector's process. A worker that dies breaks the pool; the requests it held are answered 503 with
Retry-After (nothing of theirs was acknowledged: acknowledgement follows the WAL append, which follows
decoding) and a fresh pool takes the next ones. Workers exit by themselves when the collector dies,
even by `kill -9` (they watch their parent process id).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures.process import BrokenProcessPool

import pyarrow as pa

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux
    fcntl = None

from .ingest_prepare import Prepared, prepare

__all__ = ["WORKER_NICE", "DecodePool", "WorkerLost", "default_decode_workers"]

log = logging.getLogger("inferwatch.collector")
_PIPE_BYTES = 1 << 20
# Workers decode at a lower CPU priority than the collector's process. Decoding scales out; the single
# DuckDB writer does not, and when workers and writer shared the cores evenly the writer fell behind,
# the write queue filled and clients got 503s: gateway shape 18,900–25,600 histogram points/s committed
# at equal priority, 38,400–39,400 at nice +10 and 37,900–40,100 at +19 (benchmarks/collector_ingest.py).
WORKER_NICE = 10


class WorkerLost(RuntimeError):
    """A decode worker died while holding the request: answer 503 with Retry-After."""

    retry_after_s = 1


def default_decode_workers() -> int:
    """Decode workers when none are configured: one per core, 2 to 4 (0 on one core, where they only
    add work). On 2 cores, gateway requests: 2 workers 21–25k histogram points/s, 1 worker 14k, 3 workers
    12k, none 14–19k (docs/collector.md)."""
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, 4)


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # re-parented: the collector is gone (kill -9 included)
            os._exit(0)
        time.sleep(0.5)


def _init_worker(parent: int) -> None:
    # Ctrl-C reaches the whole process group: the collector shuts the workers down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.set_threshold(200_000, 50, 1000)  # as the collector: decoding allocates many short-lived tuples
    try:
        os.nice(WORKER_NICE)
    except OSError:  # pragma: no cover - not allowed here: decode at the collector's priority
        pass
    threading.Thread(target=_watch_parent, args=(parent,), name="inferwatch-parent", daemon=True).start()


def _to_ipc(table: pa.Table | None) -> bytes | None:
    if table is None:
        return None
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes | None) -> pa.Table | None:
    return None if data is None else pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _prepare_in_worker(received: bytes, kwargs: dict) -> Prepared:
    """prepare() with the tables as Arrow IPC streams: reading one back costs the collector ~0.35 µs per
    histogram point against ~2–3 µs to unpickle a table (pickle re-creates every buffer in Python)."""
    prepared = prepare(received, tables=True, **kwargs)
    tables = prepared.decoded.tables
    if tables is not None:
        prepared.decoded.tables = (_to_ipc(tables[0]), _to_ipc(tables[1]))
    return prepared


def _widen_pipes(executor: concurrent.futures.ProcessPoolExecutor) -> None:
    """Give the pool's pipes 1 MiB (Linux) instead of 64 KiB: a gateway request's tables (~450 KB) then
    cross in one write and one read instead of ~7 of each, 176 against ~430 µs of the collector's CPU per
    answer (measured). Best effort: the pipes belong to ProcessPoolExecutor's internals."""
    setsz = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if setsz is None:
        return
    try:
        with open("/proc/sys/fs/pipe-max-size") as f:
            size = min(_PIPE_BYTES, int(f.read()))
        for queue in (executor._result_queue, executor._call_queue):
            fcntl.fcntl(queue._reader.fileno(), setsz, size)
    except (AttributeError, OSError, ValueError) as exc:
        log.debug("inferwatch collector: decode pipes keep their size (%s)", exc)


def _ready() -> int:
    from . import ingest_tables, otlp_wire  # noqa: F401  (imported by the first request otherwise, ~0.5 s)

    return os.getpid()


class DecodePool:
    """A pool of `workers` spawned processes running `prepare`; restarted when a worker dies."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("a decode pool needs at least one worker")
        self.workers = workers
        self.restarts = 0
        self._lock = threading.Lock()
        self._executor = self._new_executor()

    def _new_executor(self) -> concurrent.futures.ProcessPoolExecutor:
        executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(os.getpid(),),
        )
        _widen_pipes(executor)
        return executor

    def start(self, timeout_s: float = 120.0) -> DecodePool:
        """Start every worker now (each imports the decoder, ~1 s) rather than on the first requests."""
        futures = [self._executor.submit(_ready) for _ in range(self.workers)]
        concurrent.futures.wait(futures, timeout=timeout_s)
        return self

    async def prepare(self, received: bytes, **kwargs) -> Prepared:
        """`ingest_prepare.prepare(received, tables=True, **kwargs)` in a worker; WorkerLost if it died."""
        executor = self._executor
        loop = asyncio.get_running_loop()
        try:
            prepared = await loop.run_in_executor(executor, _prepare_in_worker, received, kwargs)
        except BrokenProcessPool:
            self._replace(executor)
            raise WorkerLost("a decode worker died while decoding the request") from None
        tables = prepared.decoded.tables
        if tables is not None:
            prepared.decoded.tables = (_from_ipc(tables[0]), _from_ipc(tables[1]))
        return prepared

    def _replace(self, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is not broken:
                return  # another request already replaced it
            self.restarts += 1
            log.warning("inferwatch collector: a decode worker died; starting a new pool")
            self._executor = self._new_executor()
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the workers (after the HTTP server stopped: nothing waits on them any more)."""
        with self._lock:
            executor = self._executor
        executor.shutdown(wait=True, cancel_futures=True)
