"""Bring histograms to the stored forms: exponential at the canonical scale, linear confidence buckets."""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pyarrow as pa

from .schema import CANONICAL_SCALE, CONFIDENCE_WIDTH

__all__ = [
    "AGENT_CONFIDENCE_BOUNDS",
    "COMPILED",
    "HIST_ARROW_TYPE",
    "MAX_BUCKETS",
    "MAX_INDEX",
    "HistogramTooWide",
    "delta_of",
    "hist_array",
    "prepare_latency",
    "prepare_linear",
]

HIST_ARROW_TYPE = pa.struct(
    [
        ("scale", pa.int32()),
        ("width", pa.float64()),
        ("idx0", pa.int32()),
        ("counts", pa.list_(pa.int64())),
        ("zero_count", pa.int64()),
        ("count", pa.int64()),
        ("sum", pa.float64()),
        ("min", pa.float64()),
        ("max", pa.float64()),
        ("unit", pa.float64()),
    ]
)
# The bounds our agent sends for confidence; they map one to one onto the stored linear buckets.
AGENT_CONFIDENCE_BOUNDS = tuple(round(i * CONFIDENCE_WIDTH, 3) for i in range(1, 200))
_AGENT_CONFIDENCE_BOUNDS = AGENT_CONFIDENCE_BOUNDS
# Counts in decoded histograms are numpy arrays, lists of ints or, for exponential histograms read from
# the wire, `bytes` holding the packed varints as sent (decoded for a whole batch by hist_array);
# helpers that need list arithmetic go through _ints.


# The widest dense range one stored histogram may span. Canonical buckets: 2^(65,536/16) is far past the
# largest double, so no real value range needs more; linear confidence buckets: values within ±327.
MAX_BUCKETS = 1 << 16
MAX_INDEX = MAX_BUCKETS * 16  # bucket indexes past this lie past any double on either grid


class HistogramTooWide(ValueError):
    """The stored form of a histogram would span more than MAX_BUCKETS buckets (a hostile or corrupt point:
    e.g. a confidence bucket at 2^60, or scale -10 buckets split into 16,384 canonical ones each)."""


def _check_span(lo: int, hi: int) -> None:
    if hi - lo + 1 > MAX_BUCKETS or max(abs(lo), abs(hi)) > MAX_INDEX:
        raise HistogramTooWide(f"buckets {lo}..{hi} span more than {MAX_BUCKETS:,}")


def _ints(counts) -> list[int]:
    if counts.__class__ is bytes:
        return varint_segments([counts])[0].astype(np.int64).tolist()
    return counts.tolist() if isinstance(counts, np.ndarray) else list(counts)


def decode_varints(buf: bytes) -> np.ndarray:
    """The uint64 values of concatenated varints (every varint complete, at most 10 bytes)."""
    b = np.frombuffer(buf, dtype=np.uint8)
    term = b < 0x80
    ends = np.flatnonzero(term)
    if len(ends) == len(b):  # all single-byte: the usual case for per-minute counts
        return b.astype(np.uint64)
    starts = np.empty(len(ends), dtype=np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    lengths = ends - starts + 1
    values = (b[starts] & 0x7F).astype(np.uint64)
    for k in range(1, int(lengths.max(initial=1))):
        m = lengths > k
        values[m] |= (b[starts[m] + k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
    return values


def varint_segments(segs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(uint64 values of all segments of packed varints in order, number of values per segment)."""
    buf = b"".join(segs)
    seg_bytes = np.fromiter(map(len, segs), dtype=np.int64, count=len(segs))
    ends = np.cumsum(seg_bytes)
    if buf.isascii():
        return np.frombuffer(buf, dtype=np.uint8).astype(np.uint64), seg_bytes
    term = np.concatenate(([0], np.cumsum(np.frombuffer(buf, dtype=np.uint8) < 0x80)))
    return decode_varints(buf), term[ends] - term[ends - seg_bytes]


def _canonical_index(value: float) -> int:
    """The canonical-scale bucket index of a positive value."""
    return math.ceil(math.log2(value) * (1 << CANONICAL_SCALE)) - 1


def _upscale(scale: int, offset: int, counts: list[int]) -> tuple[int, list[int]]:
    """Split each bucket of a coarser scale evenly into 2^d canonical buckets (an approximation)."""
    d = 1 << (CANONICAL_SCALE - scale)
    counts = _ints(counts)
    if counts:
        _check_span(offset * d, (offset + len(counts)) * d - 1)
    out: list[int] = []
    for c in counts:
        q, r = divmod(c, d)
        out.extend(q + (1 if j < r else 0) for j in range(d))
    return offset * d, out


def _explicit_to_exp(bounds: tuple, counts: list[int], mn: float, mx: float) -> tuple[int, int, list[int]]:
    """Explicit buckets placed at the canonical bucket of each bucket's (clamped) geometric middle."""
    zero = 0
    placed: dict[int, int] = {}
    counts = _ints(counts)
    n = len(counts)
    for k, c in enumerate(counts):
        if not c:
            continue
        lo = bounds[k - 1] if k > 0 else -math.inf
        hi = bounds[k] if k < n - 1 else math.inf
        if not math.isnan(mn):
            lo = max(lo, mn)
        if not math.isnan(mx):
            hi = min(hi, mx)
        if hi <= 0:
            zero += c
            continue
        if lo <= 0 or not math.isfinite(lo):
            lo = hi / 2 if math.isfinite(hi) else 1.0
        if not math.isfinite(hi):
            hi = lo * 2
        j = _canonical_index(math.sqrt(lo * hi))
        placed[j] = placed.get(j, 0) + c
    if not placed:
        return zero, 0, []
    lo_i, hi_i = min(placed), max(placed)
    _check_span(lo_i, hi_i)
    return zero, lo_i, [placed.get(i, 0) for i in range(lo_i, hi_i + 1)]


def _prepare_latency(hist: tuple) -> tuple:
    """(scale, offset, counts, zero, count, sum, min, max) with scale ≥ canonical, ready for hist_array."""
    if hist[0] == "exp":
        _, scale, offset, counts, zero, count, s, mn, mx = hist
        if scale < CANONICAL_SCALE:
            offset, counts = _upscale(scale, offset, counts)
            scale = CANONICAL_SCALE
        return scale, offset, counts, zero, count, s, mn, mx
    _, bounds, counts, count, s, mn, mx = hist
    zero, offset, dense = _explicit_to_exp(bounds, counts, mn, mx)
    return CANONICAL_SCALE, offset, dense, zero, count, s, mn, mx


def _prepare_linear(hist: tuple) -> tuple:
    """(0, offset, counts, 0, count, sum, min, max) on the 0.005-wide linear grid."""
    if hist[0] == "explicit":
        _, bounds, counts, count, s, mn, mx = hist
        if bounds is _AGENT_CONFIDENCE_BOUNDS or bounds == _AGENT_CONFIDENCE_BOUNDS:
            return 0, 0, counts, 0, count, s, mn, mx
        counts = _ints(counts)
    else:
        _, scale, offset, exp_counts, zero, count, s, mn, mx = hist
        base = 2.0 ** (2.0**-scale)
        try:
            bounds = (0.0,) + tuple(base ** (offset + k) for k in range(len(exp_counts) + 1))
        except OverflowError:
            raise HistogramTooWide(f"bucket offset {offset} at scale {scale} is past any double") from None
        counts = [zero, 0] + _ints(exp_counts) + [0]
    placed: dict[int, int] = {}
    n = len(counts)
    for k, c in enumerate(counts):
        if not c:
            continue
        lo = bounds[k - 1] if k > 0 else (mn if not math.isnan(mn) else bounds[0] if bounds else 0.0)
        hi = bounds[k] if k < n - 1 else (mx if not math.isnan(mx) else lo)
        mid = (lo + hi) / 2 if math.isfinite(lo) and math.isfinite(hi) else (lo if math.isfinite(lo) else hi)
        j = math.ceil(mid / CONFIDENCE_WIDTH - 1e-9) - 1
        placed[j] = placed.get(j, 0) + c
    if not placed:
        return 0, 0, [], 0, count, s, mn, mx
    lo_i, hi_i = min(placed), max(placed)
    _check_span(lo_i, hi_i)
    return 0, lo_i, [placed.get(i, 0) for i in range(lo_i, hi_i + 1)], 0, count, s, mn, mx


def _flat_counts(counts: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(int64 counts of every row in order, counts per row) from packed-varint bytes, arrays and lists:
    one numpy pass per representation rather than one numpy call per row."""
    n = len(counts)
    packed = [k for k, c in enumerate(counts) if c.__class__ is bytes]
    if len(packed) == n:
        values, lengths = varint_segments(list(counts))
        return values.astype(np.int64), lengths
    if not packed:
        lengths = np.fromiter(map(len, counts), dtype=np.int64, count=n)
        if not lengths.sum():
            return np.zeros(0, dtype=np.int64), lengths
        return np.concatenate(counts, dtype=np.int64, casting="unsafe"), lengths
    others = [k for k, c in enumerate(counts) if c.__class__ is not bytes]
    pv, pl = varint_segments([counts[k] for k in packed])
    ol = np.fromiter((len(counts[k]) for k in others), dtype=np.int64, count=len(others))
    ov = (
        np.concatenate([counts[k] for k in others], dtype=np.int64, casting="unsafe")
        if ol.sum()
        else np.zeros(0, dtype=np.int64)
    )
    lengths = np.zeros(n, dtype=np.int64)
    lengths[packed] = pl
    lengths[others] = ol
    starts = np.cumsum(lengths) - lengths
    flat = np.empty(int(lengths.sum()), dtype=np.int64)
    for idx, vals, lens in ((packed, pv.astype(np.int64), pl), (others, ov, ol)):
        if len(vals):
            within = np.arange(len(vals)) - np.repeat(np.cumsum(lens) - lens, lens)
            flat[np.repeat(starts[idx], lens) + within] = vals
    return flat, lengths


_NO_COUNTS = np.zeros(0, dtype=np.int64)


def hist_array(rows: list[tuple], linear: bool, unit: float) -> pa.StructArray:
    """An Arrow array of `hist` structs from prepared rows (None rows become NULL): per-row work in C
    (`_wire.hist_columns`) when it is built and reads the rows, else vectorized numpy. Same result."""
    if _hist_columns is not None:
        cols = _hist_columns(rows, linear)
        if cols is not None:
            return _compiled_struct(cols, linear, unit)
    return _numpy_hist_array(rows, linear, unit)


def _compiled_struct(cols: tuple, linear: bool, unit: float) -> pa.StructArray:
    """hist_array from _wire.hist_columns' buffers: numpy views of them, no per-element Python work."""
    null, idx0, offsets, values, has, zero, count, sums, mn, mx = cols
    offsets = np.frombuffer(offsets, dtype=np.int32)
    counts = pa.ListArray.from_arrays(pa.array(offsets), pa.array(np.frombuffer(values, dtype=np.int64)))
    return _struct(
        linear,
        unit,
        np.frombuffer(null, dtype=bool),
        np.frombuffer(idx0, dtype=np.int32).astype(np.int64),
        np.diff(offsets).astype(np.int64),
        np.frombuffer(has, dtype=bool),
        counts,
        np.frombuffer(zero, dtype=np.int64),
        np.frombuffer(count, dtype=np.int64),
        np.frombuffer(sums, dtype=np.float64),
        np.frombuffer(mn, dtype=np.float64),
        np.frombuffer(mx, dtype=np.float64),
    )


def _numpy_hist_array(rows: list[tuple], linear: bool, unit: float) -> pa.StructArray:
    """hist_array vectorized with numpy: the reference the compiled path must equal."""
    n = len(rows)
    valid = np.fromiter((r is not None for r in rows), dtype=bool, count=n)
    # NULL rows get empty counts of the batch's representation, so _flat_counts keeps its one-kind path
    first = next((r for r in rows if r is not None), None)
    empty_counts = b"" if first is not None and first[2].__class__ is bytes else _NO_COUNTS
    empty = (CANONICAL_SCALE, 0, empty_counts, 0, 0, 0.0, math.nan, math.nan)
    cols = list(zip(*[r if r is not None else empty for r in rows])) if n else [()] * 8
    scale = np.array(cols[0], dtype=np.int64)
    offset = np.array(cols[1], dtype=np.int64)
    flat, lengths = _flat_counts(cols[2])
    # Only non-empty buckets are touched: the agent's 200 confidence buckets are mostly empty, and
    # per-element work on every bucket of a batch dominated. Bucket k of point p goes to canonical index
    # (offset + k) >> (scale - canonical) (linear: shift 0); a point keeps the dense range from its first
    # to its last non-empty canonical bucket, zeros inside (what merging then trimming gives).
    nz = np.flatnonzero(flat)
    has = np.zeros(n, dtype=bool)
    idx0 = np.zeros(n, dtype=np.int64)
    per_point = np.zeros(n, dtype=np.int64)
    if len(nz):
        ends = np.cumsum(lengths)
        pid = np.searchsorted(ends, nz, side="right")
        tgt = offset[pid] + (nz - (ends - lengths)[pid])
        shift = None if linear else scale - CANONICAL_SCALE
        if shift is not None and shift.any():
            tgt >>= shift[pid]
        vals = flat[nz]
        change = np.empty(len(nz), dtype=bool)
        change[0] = True
        change[1:] = (pid[1:] != pid[:-1]) | (tgt[1:] != tgt[:-1])
        seg = np.flatnonzero(change)
        seg_sum = np.add.reduceat(vals, seg)
        seg_pid, seg_tgt = pid[seg], tgt[seg]
        edge = np.flatnonzero(seg_pid[1:] != seg_pid[:-1])
        first = np.concatenate(([0], edge + 1))
        last = np.concatenate((edge, [len(seg) - 1]))
        owners = seg_pid[first]
        has[owners] = True
        idx0[owners] = seg_tgt[first]
        per_point[owners] = seg_tgt[last] - seg_tgt[first] + 1
        out_start = np.cumsum(per_point) - per_point
        values = np.zeros(int(per_point.sum()), dtype=np.int64)
        values[out_start[seg_pid] + (seg_tgt - idx0[seg_pid])] = seg_sum
    else:
        values = np.zeros(0, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(per_point, out=offsets[1:])
    counts = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa.int64()))
    return _struct(
        linear,
        unit,
        ~valid,
        idx0,
        per_point,
        has,
        counts,
        np.array(cols[3], dtype=np.int64),
        np.array(cols[4], dtype=np.int64),
        np.array(cols[5], dtype=np.float64),
        np.array(cols[6], dtype=np.float64),
        np.array(cols[7], dtype=np.float64),
    )


def _struct(linear, unit, null, idx0, per_point, has, counts, zero, count, sums, mn, mx) -> pa.StructArray:
    """The struct array of both paths from per-point columns (idx0 and per_point int64, min/max/sum with
    their NaNs) and the `counts` list array."""
    n = len(null)
    if linear:
        width = np.full(n, CONFIDENCE_WIDTH)
        out_scale = np.zeros(n, dtype=np.int32)
        lo_b = idx0 * CONFIDENCE_WIDTH
        hi_b = (idx0 + per_point) * CONFIDENCE_WIDTH
    else:
        width = np.zeros(n)
        out_scale = np.full(n, CANONICAL_SCALE, dtype=np.int32)
        lo_b = np.where(zero > 0, 0.0, np.exp2(idx0 / (1 << CANONICAL_SCALE)))
        hi_b = np.exp2((idx0 + per_point) / (1 << CANONICAL_SCALE))
    # Unknown min/max: the edges of the occupied buckets.
    mn = np.where(np.isnan(mn) & has, lo_b, mn)
    mx = np.where(np.isnan(mx) & has, hi_b, mx)
    mn = np.where(np.isnan(mn), 0.0, mn)
    mx = np.where(np.isnan(mx), 0.0, mx)
    sums = np.where(np.isnan(sums), 0.0, sums)
    arrays = [
        pa.array(out_scale),
        pa.array(width),
        pa.array(idx0.astype(np.int32)),
        counts,
        pa.array(zero),
        pa.array(count),
        pa.array(sums),
        pa.array(mn),
        pa.array(mx),
        pa.array(np.full(n, unit)),
    ]
    return pa.StructArray.from_arrays(arrays, fields=list(HIST_ARROW_TYPE), mask=pa.array(null))


def _exp_down(scale: int, offset: int, counts: list[int], to: int) -> tuple[int, list[int]]:
    shift = scale - to
    out: dict[int, int] = {}
    for k, c in enumerate(_ints(counts)):
        j = (offset + k) >> shift
        out[j] = out.get(j, 0) + c
    if not out:
        return 0, []
    lo, hi = min(out), max(out)
    return lo, [out.get(i, 0) for i in range(lo, hi + 1)]


def delta_of(cur: tuple, prev: tuple) -> tuple | None:
    """cur - prev for two cumulative histograms of one series, or None when it is a reset."""
    if cur[0] != prev[0]:
        return None
    if cur[0] == "explicit":
        _, bounds, counts, count, s, mn, mx = cur
        _, pbounds, pcounts, pcount, ps, _, _ = prev
        counts, pcounts = _ints(counts), _ints(pcounts)
        if bounds != pbounds or len(counts) != len(pcounts) or count < pcount:
            return None
        diff = [a - b for a, b in zip(counts, pcounts)]
        if any(d < 0 for d in diff):
            return None
        return ("explicit", bounds, diff, count - pcount, s - ps, mn, mx)  # run-wide min/max: valid bounds
    _, scale, offset, counts, zero, count, s, mn, mx = cur
    _, pscale, poffset, pcounts, pzero, pcount, ps, _, _ = prev
    counts, pcounts = _ints(counts), _ints(pcounts)
    if count < pcount or zero < pzero:
        return None
    to = min(scale, pscale)
    if scale != to:
        offset, counts = _exp_down(scale, offset, counts, to)
    if pscale != to:
        poffset, pcounts = _exp_down(pscale, poffset, pcounts, to)
    if not counts:
        return None if pcounts else ("exp", to, 0, [], zero - pzero, count - pcount, s - ps, mn, mx)
    lo = min(offset, poffset) if pcounts else offset
    hi = max(offset + len(counts), poffset + len(pcounts))
    diff = [0] * (hi - lo)
    for k, c in enumerate(counts):
        diff[offset - lo + k] += c
    for k, c in enumerate(pcounts):
        diff[poffset - lo + k] -= c
    if any(d < 0 for d in diff):
        return None
    return ("exp", to, lo, diff, zero - pzero, count - pcount, s - ps, mn, mx)


# The compiled path (collector/_wire.c, as otlp_wire uses it) reads the usual rows in C and hands the
# rest to the Python functions above; INFERWATCH_NO_COMPILED=1 turns it off.
try:
    from . import _wire
except ImportError:
    _wire = None
_hist_columns = None
prepare_latency = _prepare_latency
prepare_linear = _prepare_linear
if _wire is not None and not os.environ.get("INFERWATCH_NO_COMPILED"):
    try:
        _wire.hist_configure(
            CANONICAL_SCALE, AGENT_CONFIDENCE_BOUNDS, np.ndarray, _prepare_latency, _prepare_linear
        )
        _hist_columns = _wire.hist_columns
        prepare_latency = _wire.prepare_latency
        prepare_linear = _wire.prepare_linear
    except (AttributeError, TypeError) as exc:  # a build that does not match this module
        warnings.warn(f"compiled histogram columns not used: {exc!r}", RuntimeWarning, stacklevel=1)
COMPILED: bool = _hist_columns is not None
