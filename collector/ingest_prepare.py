"""One received export request turned into what the WAL and the writer need: gunzip, decode, validate,
drop points past raw retention and, for decode workers, build the Arrow tables of its delta points.

The same function runs in the HTTP handler (small requests, gRPC, `--decode-workers 0`) and in the
decode worker processes (collector/decode_pool.py), so both give the same answer and the same rows.
"""

from __future__ import annotations

import os
import time
import zlib
from dataclasses import dataclass

from .otlp_decode import CUMULATIVE, Decoded, DecodeFailure, decode_request
from .wal import GZIP_MAGIC

__all__ = ["Prepared", "TooLarge", "gunzip", "prepare"]


# python-isal's zlib-compatible inflate (Intel ISA-L) decompresses the benchmark's gzip bodies in 0.8 µs per
# histogram point against zlib's 1.84; same output, same errors, same max_length/unconsumed_tail. Optional:
# zlib when it is not installed or INFERWATCH_NO_COMPILED is set.
try:
    if os.environ.get("INFERWATCH_NO_COMPILED"):
        raise ImportError
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - exercised where isal is absent
    _inflate = zlib


class TooLarge(Exception):
    """The request is larger than the limit, before or after decompression (HTTP 413)."""


@dataclass
class Prepared:
    """A decoded request: `payload` is what the WAL stores (None: the bytes as received)."""

    payload: bytes | None
    decoded: Decoded


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip (or zlib) data, refusing output past limit bytes (gzip bombs)."""
    d = _inflate.decompressobj(wbits=47)  # auto-detect gzip or zlib header
    try:
        out = d.decompress(data, limit + 1)
    except _inflate.error as exc:
        raise DecodeFailure(f"invalid gzip body: {exc}") from None
    if len(out) > limit or d.unconsumed_tail:
        raise TooLarge()
    if not d.eof:
        raise DecodeFailure("truncated gzip body")
    return out


def _drop_too_old(decoded: Decoded, oldest_ns: int) -> None:
    """Reject points that end (inference: start and end) before oldest_ns: past raw retention."""
    inference = [r for r in decoded.inference if r[1] >= oldest_ns or r[2] >= oldest_ns]
    metrics = [r for r in decoded.metrics if r[2] >= oldest_ns]
    dropped = len(decoded.inference) - len(inference) + len(decoded.metrics) - len(metrics)
    if dropped:
        decoded.inference, decoded.metrics = inference, metrics
        decoded.reject(dropped, "points older than the raw retention window")


def _build_tables(decoded: Decoded) -> None:
    """Move the delta points into Arrow tables (decoded.tables); cumulative ones stay rows, because
    turning them into deltas needs the per-series state only the writer holds."""
    from .ingest_tables import inference_table, metric_table

    received_ns = time.time_ns()
    inf = [r for r in decoded.inference if r[3] != CUMULATIVE]
    met = [r for r in decoded.metrics if r[3] != CUMULATIVE]
    if not inf and not met:
        return
    if len(inf) != len(decoded.inference) or len(met) != len(decoded.metrics):
        decoded.inference = [r for r in decoded.inference if r[3] == CUMULATIVE]
        decoded.metrics = [r for r in decoded.metrics if r[3] == CUMULATIVE]
    else:
        decoded.inference, decoded.metrics = [], []
    decoded.tables = (
        inference_table(inf, received_ns) if inf else None,
        metric_table(met, received_ns) if met else None,
    )
    decoded.table_rows = len(inf) + len(met)


def prepare(
    received: bytes, *, is_json: bool, gzipped: bool, limit: int, oldest_ns: int, tables: bool = False
) -> Prepared:
    """Decode one request body as received (gzip'ed when `gzipped`); raises DecodeFailure or TooLarge.
    `oldest_ns`: points ending before it are rejected; `tables`: build the Arrow tables of its delta
    points (worth it for large requests, done in decode workers)."""
    body = gunzip(received, limit) if gzipped else received
    canonical, decoded = decode_request(body, is_json)
    _drop_too_old(decoded, oldest_ns)
    if tables:
        _build_tables(decoded)
    # A protobuf request is logged as the gzip member it came in (~10x fewer bytes to write and fsync).
    if not is_json and (received.startswith(GZIP_MAGIC) or not gzipped):
        return Prepared(None, decoded)
    return Prepared(canonical, decoded)
