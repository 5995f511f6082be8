"""Fast path of the OTLP/protobuf decoder: walks the wire bytes of a request instead of upb objects.

`decode_wire(body)` gives exactly what `otlp_decode.decode_message(parse(body))` gives (same rows, same
rejections) for requests encoded the way every OTLP exporter encodes them: fields of known types, packed
repeated numbers, no exemplars or metadata. It raises `Unusual` for anything else (other encodings,
unknown fields, corrupt bytes), and the caller takes the upb path, which also gives the right
DecodeFailure for undecodable bodies. A point it cannot read alone (exemplars, attributes not in one
run, unpacked counts) is parsed by upb on its own and goes through the per-point code of otlp_decode.

Why: reading fields through upb wrappers costs 0.1–0.4 µs per access and creating the wrappers of every
metric and point dominated the decode; here a point costs one pass over its tags, the bucket counts stay
as their packed bytes (converted for a whole write batch at once by `hist_convert.hist_array`), and
attribute sets are looked up by their serialized bytes.

When the C extension `_wire` (collector/_wire.c) is built, decode_wire first lets it read the request;
it builds the same rows from the same caches, and gives up (None) on anything but the common case,
for the Python walker (`_walk`) below. `COMPILED` says whether it is in use.
"""

from __future__ import annotations

import math
import os
import struct
import sys
import warnings

import numpy as np
from google.protobuf.message import DecodeError
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from . import otlp_decode as _d
from .hist_convert import AGENT_CONFIDENCE_BOUNDS, varint_segments

__all__ = ["COMPILED", "Unusual", "decode_wire"]

_Q = struct.Struct("<Q").unpack_from
_D = struct.Struct("<d").unpack_from
_q = struct.Struct("<q").unpack_from
_NAN = math.nan
_isfinite = math.isfinite
_isinf = math.isinf
_AGENT_BOUNDS_BYTES = struct.pack(f"<{len(AGENT_CONFIDENCE_BOUNDS)}d", *AGENT_CONFIDENCE_BOUNDS)
_MAX_COUNT = _d.MAX_COUNT
_COUNTS_MSG = "bucket counts do not add up to count (negative or corrupt counts)"
_NONFINITE_MSG = "NaN or infinite sum, min or max"
# Below this many deferred count checks per request they run in Python (numpy's fixed cost per request,
# ~50 µs, is more than a few Python sums); above, in numpy.
_VECTOR_CHECK_POINTS = 16

_NumberDataPoint = metrics_pb2.NumberDataPoint
_HistogramDataPoint = metrics_pb2.HistogramDataPoint
_ExpDataPoint = metrics_pb2.ExponentialHistogramDataPoint
_SummaryDataPoint = metrics_pb2.SummaryDataPoint

_SCOPES: dict[bytes, str] = {}


class Unusual(Exception):
    """The request is not in the encoding the fast path reads: decode it with upb instead."""


def _vlong(b: bytes, i: int, x: int) -> tuple[int, int]:
    """Finish a varint whose first byte x (≥ 0x80) was read; (value, next offset)."""
    x &= 0x7F
    shift = 7
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7F) << shift
        if c < 0x80:
            return x, i
        shift += 7
        if shift > 63:
            raise Unusual


def _fields(b: bytes, i: int, e: int) -> list[tuple[int, int, int]]:
    """(tag, start, end) of each length-delimited field of b[i:e]; varint fields as (tag, value, -1)."""
    out = []
    while i < e:
        tag = b[i]
        i += 1
        if tag >= 0x80:
            tag, i = _vlong(b, i, tag)
        w = tag & 7
        if w == 2:
            ln = b[i]
            i += 1
            if ln >= 0x80:
                ln, i = _vlong(b, i, ln)
            j = i + ln
            if j > e:
                raise Unusual
            out.append((tag, i, j))
            i = j
        elif w == 0:
            v = b[i]
            i += 1
            if v >= 0x80:
                v, i = _vlong(b, i, v)
            out.append((tag, v, -1))
        else:
            raise Unusual  # no fixed-width fields at these levels
    if i != e:
        raise Unusual
    return out


def _text(b: bytes, s: int, e: int) -> str:
    try:
        return b[s:e].decode("utf-8")
    except UnicodeDecodeError:
        raise Unusual from None


def _resource(key: bytes) -> tuple[tuple, str, int]:
    hit = _d._RESOURCES.get(key)
    if hit is None:
        try:
            attrs = Resource.FromString(key).attributes
        except DecodeError:
            raise Unusual from None
        if len(_d._RESOURCES) > 10_000 or len(_d._SERIES) > _d._CACHE_MAX:
            _d._RESOURCES.clear()
            _d._SERIES.clear()
        res, res_json = _d._resource_columns(attrs)
        hit = _d._RESOURCES[key] = (res, res_json, len(_d._RESOURCES))
    return hit


def _scope(key: bytes) -> str:
    name = _SCOPES.get(key)
    if name is None:
        try:
            name = InstrumentationScope.FromString(key).name
        except DecodeError:
            raise Unusual from None
        if len(_SCOPES) > 10_000:
            _SCOPES.clear()
        _SCOPES[key] = name
    return name


def _series(name: str, scope: str, res_id: int, res_json: str, akey: bytes, cls) -> tuple:
    key = (name, scope, res_id, akey)
    hit = _d._SERIES.get(key)
    if hit is None:
        try:
            dp = cls.FromString(akey)
        except DecodeError:
            raise Unusual from None
        hit = _d._series(name, scope, res_id, res_json, akey, dp)
    return hit


def decode_wire(b: bytes) -> _d.Decoded:
    """Rows of a serialized ExportMetricsServiceRequest (see the module docstring); raises Unusual."""
    if _compiled is not None:  # the C path (collector/_wire.c), None when it gives up
        got = _compiled(b)
        if got is not None:
            return got
    return _walk(b)


def _walk(b: bytes) -> _d.Decoded:
    """decode_wire's Python walker: the reference the compiled path must equal."""
    out = _d.Decoded()
    defer: list = []
    try:
        for tag, s, e in _fields(b, 0, len(b)):
            if tag != 0x0A:
                raise Unusual
            _resource_metrics(b, s, e, out, defer)
    except (IndexError, struct.error, RecursionError):
        raise Unusual from None
    if defer:
        _check_deferred(out, defer)
    return out


def _resource_metrics(b: bytes, s: int, e: int, out: _d.Decoded, defer: list) -> None:
    res_key = None
    scopes = []
    for tag, fs, fe in _fields(b, s, e):
        if tag == 0x12:
            scopes.append((fs, fe))
        elif tag == 0x0A and res_key is None:
            res_key = b[fs:fe]
        elif tag == 0x1A:
            _text(b, fs, fe)
        else:
            raise Unusual
    res, res_json, res_id = _resource(res_key or b"")
    for ss, se in scopes:
        scope_key = None
        metrics = []
        for tag, fs, fe in _fields(b, ss, se):
            if tag == 0x12:
                metrics.append((fs, fe))
            elif tag == 0x0A and scope_key is None:
                scope_key = b[fs:fe]
            elif tag == 0x1A:
                _text(b, fs, fe)
            else:
                raise Unusual
        scope = _scope(scope_key) if scope_key else ""
        for ms, me in metrics:
            _metric(b, ms, me, out, defer, res, res_json, res_id, scope)


_KINDS = {
    0x2A: "gauge",
    0x3A: "sum",
    0x4A: "histogram",
    0x52: "exponential_histogram",
    0x5A: "summary",
}


def _lone_number_point(b: bytes, s: int, e: int) -> int:
    """Where the point starts when a metric is name, [description], [unit], then a gauge or sum whose
    first field is one plain 27-byte number point (what agents send for counters and gauges); else -1."""
    if b[s] != 0x0A or b[s + 1] >= 0x80:
        return -1
    i = s + 2 + b[s + 1]
    while i < e and (b[i] == 0x12 or b[i] == 0x1A) and b[i + 1] < 0x80:
        i += 2 + b[i + 1]
    if (
        i + 4 < e
        and (b[i] == 0x2A or b[i] == 0x3A)
        and b[i + 1] < 0x80
        and i + 2 + b[i + 1] == e
        and b[i + 2] == 0x0A
        and b[i + 3] == 27
        and i + 31 <= e
        and b[i + 4] == 0x11
        and b[i + 13] == 0x19
        and (b[i + 22] == 0x21 or b[i + 22] == 0x31)
    ):
        return i + 4
    return -1


# (metric bytes before its lone number point, bytes after it: no further points) -> (name, unit, kind,
# temporality, monotonic): those bytes and the point's fixed layout decide all _metric reads outside it.
_NUMBER_HEADS: dict[tuple[bytes, bytes], tuple] = {}


def _metric(b, s, e, out, defer, res, res_json, res_id, scope) -> None:
    ps = _lone_number_point(b, s, e)
    if ps >= 0:
        head_key = (b[s:ps], b[ps + 27 : e])
        head = _NUMBER_HEADS.get(head_key)
        if head is None:
            head = _head(b, s, e)
            points = head[5]
            if len(points) == 1:  # more points follow in the bytes after it: never cached
                if len(_NUMBER_HEADS) > 10_000:
                    _NUMBER_HEADS.clear()
                _NUMBER_HEADS[head_key] = head[:5]
        else:
            points = [(ps, ps + 27)]
        name, unit, kind, temporality, monotonic = head[:5]
    else:
        head = _head(b, s, e)
        if head is None:
            return
        name, unit, kind, temporality, monotonic, points = head
    _points(b, out, defer, res, res_json, res_id, scope, name, unit, kind, temporality, monotonic, points)


def _head(b: bytes, s: int, e: int) -> tuple | None:
    """(name, unit, kind, temporality, monotonic, point spans) of a metric; None when it has no data."""
    name = unit = ""
    kind = None
    ds = de = 0
    for tag, fs, fe in _fields(b, s, e):
        if tag == 0x0A:
            name = _text(b, fs, fe)
        elif tag == 0x1A:
            unit = _text(b, fs, fe)
        elif tag == 0x12:
            _text(b, fs, fe)
        elif tag in _KINDS and kind is None:
            kind = _KINDS[tag]
            ds, de = fs, fe
        else:
            raise Unusual  # metadata, a second data field, unknown fields
    if kind is None:
        return None
    points = []
    temporality = 0
    monotonic = False
    for tag, fs, fe in _fields(b, ds, de):
        if tag == 0x0A:
            points.append((fs, fe))
        elif tag == 0x10 and kind in ("sum", "histogram", "exponential_histogram"):
            temporality = fs
        elif tag == 0x18 and kind == "sum":
            monotonic = bool(fs)
        else:
            raise Unusual
    return name, unit, kind, temporality, monotonic, points


def _points(b, out, defer, res, res_json, res_id, scope, name, unit, kind, temporality, monotonic, points):
    """Rows (or rejections) of the points of one metric."""
    if kind in ("gauge", "summary"):
        temporality = _d.DELTA
    if kind == "exponential_histogram":
        cls = _ExpDataPoint
    elif kind == "histogram":
        cls = _HistogramDataPoint
    elif kind == "summary":
        cls = _SummaryDataPoint
    else:
        cls = _NumberDataPoint
    if kind not in ("gauge", "summary") and temporality not in (_d.DELTA, _d.CUMULATIVE):
        for ps, pe in points:  # refused unread: still undecodable bytes must fail the request as upb does
            _validate(cls, b, ps, pe)
        out.reject(len(points), f"{name}: aggregation temporality unspecified")
        return
    if not points:
        return
    inferred = name in _d.INFERENCE_METRICS and kind in ("histogram", "exponential_histogram")
    lat = name == _d.DURATION
    kind_tag = "lat" if lat else "conf"
    if kind != "sum":
        monotonic = None
    ms_unit = inferred and unit == "ms"
    rows = out.inference if inferred else out.metrics
    if kind == "exponential_histogram":
        reader = None if ms_unit else _exp_point
    elif kind == "histogram":
        reader = None if ms_unit else _explicit_point
    elif kind == "summary":
        reader = None
    else:
        reader = _number_point
    for ps, pe in points:
        got = reader(b, ps, pe) if reader is not None else None
        if got is None:  # this point needs the general decoder
            try:
                dp = cls.FromString(b[ps:pe])
            except DecodeError:
                raise Unusual from None
            _d._decode_points(
                out, [dp], name, unit, kind, temporality, scope, res, res_json, res_id, monotonic
            )
            continue
        start, end, akey, hist, check = got
        if end <= 0 or start > end:
            _validate(cls, b, ps, pe)
            out.reject(1, f"{name}: missing time_unix_nano or start after end")
            continue
        if hist.__class__ is str:
            _validate(cls, b, ps, pe)
            out.reject(1, f"{name}: {hist}")
            continue
        sid, attrs_json, model, version, err = _series(name, scope, res_id, res_json, akey, cls)
        if check is not None:
            defer.append((rows, len(rows), check, name))
        if inferred:
            rows.append(
                (sid, start, end, temporality, kind_tag, res, model, version, err if lat else None, hist)
            )
        elif hist.__class__ is tuple:
            rows.append(
                (sid, start, end, temporality, name, kind, unit, monotonic, res, attrs_json, None, hist, None)
            )
        else:  # a number point: hist is its value
            rows.append(
                (sid, start, end, temporality, name, kind, unit, monotonic, res, attrs_json, hist, None, None)
            )


def _validate(cls, b: bytes, s: int, e: int) -> None:
    """Parse a point refused without reading its attributes, so bad bytes fail as on the upb path."""
    try:
        cls.FromString(b[s:e])
    except DecodeError:
        raise Unusual from None


def _exp_point(b: bytes, i: int, e: int):
    """(start, end, attribute key, hist tuple or rejection, deferred count check) or None."""
    a0 = i
    while i < e and b[i] == 0x0A:
        ln = b[i + 1]
        i += 2
        if ln >= 0x80:
            ln, i = _vlong(b, i, ln)
        i += ln
    akey = b[a0:i]
    start = end = count = zero = scale = offset = 0
    s = 0.0
    mn = mx = _NAN
    seg = None
    neg = b""
    while i < e:
        t = b[i]
        if t == 0x11:
            start = _Q(b, i + 1)[0]
            i += 9
        elif t == 0x19:
            end = _Q(b, i + 1)[0]
            i += 9
        elif t == 0x21:
            count = _Q(b, i + 1)[0]
            i += 9
        elif t == 0x29:
            s = _D(b, i + 1)[0]
            i += 9
        elif t == 0x30:
            v = b[i + 1]
            i += 2
            if v >= 0x80:
                v, i = _vlong(b, i, v)
            if v >= 1 << 32:
                return None
            scale = (v >> 1) ^ -(v & 1)
        elif t == 0x39:
            zero = _Q(b, i + 1)[0]
            i += 9
        elif t == 0x42 or t == 0x4A:
            if (t == 0x42 and seg is not None) or (t == 0x4A and neg):
                return None  # a repeated sub-message: merge semantics
            ln = b[i + 1]
            j = i + 2
            if ln >= 0x80:
                ln, j = _vlong(b, j, ln)
            pe = j + ln
            off = 0
            counts = b""
            if j < pe and b[j] == 0x08:
                v = b[j + 1]
                j += 2
                if v >= 0x80:
                    v, j = _vlong(b, j, v)
                if v >= 1 << 32:
                    return None
                off = (v >> 1) ^ -(v & 1)
            if j < pe:
                if b[j] != 0x12:
                    return None
                cl = b[j + 1]
                j += 2
                if cl >= 0x80:
                    cl, j = _vlong(b, j, cl)
                counts = b[j : j + cl]
                j += cl
                if counts and counts[-1] >= 0x80:
                    return None
            if j != pe:
                return None
            if t == 0x42:
                seg, offset = counts, off
            else:
                neg = counts or b"\x00"
            i = pe
        elif t == 0x61:
            mn = _D(b, i + 1)[0]
            i += 9
        elif t == 0x69:
            mx = _D(b, i + 1)[0]
            i += 9
        elif t == 0x71:
            i += 9
        elif t == 0x50:
            v = b[i + 1]
            i += 2
            if v >= 0x80:
                v, i = _vlong(b, i, v)
        else:
            return None  # attributes after other fields, exemplars, unknown fields
    if i != e:
        return None
    if seg is None:
        seg = b""
    negative = 0
    if neg:
        negative = sum(neg) if neg.isascii() else _py_varint_sum(neg)
    check = None
    if count >= _MAX_COUNT:
        return start, end, akey, _COUNTS_MSG, None
    if seg.isascii():
        if zero + sum(seg) + negative != count:
            return start, end, akey, _COUNTS_MSG, None
    else:
        check = count - zero - negative
        if check < 0:
            return start, end, akey, _COUNTS_MSG, None
        check = (seg, check, True)
    if negative:
        return start, end, akey, "negative values in an exponential histogram are not supported", None
    if not -10 <= scale <= 20:
        return start, end, akey, f"exponential histogram scale {scale} is outside [-10, 20]", None
    if not _isfinite(s) or _isinf(mn) or _isinf(mx):
        return start, end, akey, _NONFINITE_MSG, None
    return start, end, akey, ("exp", scale, offset, seg, zero, count, s, mn, mx), check


def _explicit_point(b: bytes, i: int, e: int):
    """Like _exp_point for an explicit-bucket histogram point."""
    a0 = a1 = -1
    start = end = count = 0
    s = mn = mx = _NAN
    has_sum = False
    cs = ce = bs = be = -1
    while i < e:
        t = b[i]
        if t == 0x11:
            start = _Q(b, i + 1)[0]
            i += 9
        elif t == 0x19:
            end = _Q(b, i + 1)[0]
            i += 9
        elif t == 0x21:
            count = _Q(b, i + 1)[0]
            i += 9
        elif t == 0x29:
            s = _D(b, i + 1)[0]
            has_sum = True
            i += 9
        elif t == 0x32 or t == 0x3A or t == 0x4A:
            ln = b[i + 1]
            j = i + 2
            if ln >= 0x80:
                ln, j = _vlong(b, j, ln)
            if t == 0x4A:
                if a0 < 0:
                    a0 = i
                elif a1 != i:
                    return None  # attributes interrupted by other fields
                a1 = j + ln
            elif t == 0x32:
                if cs >= 0 or ln % 8:
                    return None
                cs, ce = j, j + ln
            else:
                if bs >= 0 or ln % 8:
                    return None
                bs, be = j, j + ln
            i = j + ln
        elif t == 0x59:
            mn = _D(b, i + 1)[0]
            i += 9
        elif t == 0x61:
            mx = _D(b, i + 1)[0]
            i += 9
        elif t == 0x50:
            v = b[i + 1]
            i += 2
            if v >= 0x80:
                v, i = _vlong(b, i, v)
        else:
            return None
    if i != e:
        return None
    akey = b[a0:a1] if a0 >= 0 else b""
    if bs < 0:
        bounds = ()
    elif be - bs == len(_AGENT_BOUNDS_BYTES) and b[bs:be] == _AGENT_BOUNDS_BYTES:
        bounds = AGENT_CONFIDENCE_BOUNDS
    else:
        bounds = struct.unpack_from(f"<{(be - bs) // 8}d", b, bs)
    n = (ce - cs) // 8 if cs >= 0 else 0
    counts = np.frombuffer(b[cs:ce], "<u8") if n else np.zeros(0, np.uint64)
    check = None
    if count >= _MAX_COUNT:
        return start, end, akey, _COUNTS_MSG, None
    if n:
        check = (counts, count, False)
    if n and n != len(bounds) + 1:
        return start, end, akey, "histogram has len(bucket_counts) != len(explicit_bounds) + 1", None
    if bounds is not AGENT_CONFIDENCE_BOUNDS and not _d._bounds_ok(bounds):
        return start, end, akey, "explicit bounds must be finite and increasing", None
    if _isinf(s) or _isinf(mn) or _isinf(mx) or (n and count and has_sum and s != s):
        return start, end, akey, _NONFINITE_MSG, None
    if not has_sum:
        s = _NAN
    return start, end, akey, ("explicit", bounds, counts, count, s, mn, mx), check


def _number_point(b: bytes, i: int, e: int):
    """(start, end, attribute key, value or rejection, None) of a number point, or None."""
    if e - i == 27 and b[i] == 0x11 and b[i + 9] == 0x19:  # no attributes, one value: the usual point
        t = b[i + 18]
        if t == 0x21:
            start, end, value = _QQd(b, i)
        elif t == 0x31:
            start, end, value = _QQq(b, i)
            value = float(value)
        else:
            return None
        if not _isfinite(value):
            return start, end, b"", "NaN or infinite value", None
        return start, end, b"", value, None
    a0 = a1 = -1
    start = end = 0
    value = None
    while i < e:
        t = b[i]
        if t == 0x11:
            start = _Q(b, i + 1)[0]
            i += 9
        elif t == 0x19:
            end = _Q(b, i + 1)[0]
            i += 9
        elif t == 0x21:
            value = _D(b, i + 1)[0]
            i += 9
        elif t == 0x31:
            value = float(_q(b, i + 1)[0])
            i += 9
        elif t == 0x3A:
            ln = b[i + 1]
            j = i + 2
            if ln >= 0x80:
                ln, j = _vlong(b, j, ln)
            if a0 < 0:
                a0 = i
            elif a1 != i:
                return None
            i = a1 = j + ln
        elif t == 0x40:
            v = b[i + 1]
            i += 2
            if v >= 0x80:
                v, i = _vlong(b, i, v)
        else:
            return None
    if i != e:
        return None
    akey = b[a0:a1] if a0 >= 0 else b""
    if value is None:
        return start, end, akey, "number point without a value", None
    if not _isfinite(value):
        return start, end, akey, "NaN or infinite value", None
    return start, end, akey, value, None


_QQd = struct.Struct("<xQxQxd").unpack_from
_QQq = struct.Struct("<xQxQxq").unpack_from


def _py_varint_sum(seg: bytes) -> int:
    total = x = shift = 0
    for c in seg:
        x |= (c & 0x7F) << shift
        if c < 0x80:
            total += x
            x = shift = 0
        else:
            shift += 7
    return total


def _py_sum(counts, varint: bool) -> int:
    if varint:
        return _py_varint_sum(counts)
    return sum(counts.tolist())


def _check_deferred(out: _d.Decoded, defer: list) -> None:
    """Check the bucket count sums left for later (multi-byte varints, fixed64 counts); drop bad points."""
    items = defer[:]
    defer.clear()
    if len(items) < _VECTOR_CHECK_POINTS:
        sums = [_py_sum(c, v) for _, _, (c, _, v), _ in items]
        bad = [k for k, (item, total) in enumerate(zip(items, sums)) if total != item[2][1]]
    else:
        bad = _vector_bad(items)
    if not bad:
        return
    drop: dict[int, set] = {}
    lists = {}
    for k in bad:
        rows, idx, _, name = items[k]
        drop.setdefault(id(rows), set()).add(idx)
        lists[id(rows)] = rows
        out.reject(1, f"{name}: {_COUNTS_MSG}")
    for key, rows in lists.items():
        gone = drop[key]
        rows[:] = [r for k, r in enumerate(rows) if k not in gone]


def _vector_bad(items: list) -> list[int]:
    """Indexes of deferred checks whose counts do not add up (numpy over the whole request)."""
    var = [k for k, it in enumerate(items) if it[2][2]]
    fix = [k for k, it in enumerate(items) if not it[2][2]]
    bad = []
    for group, varint in ((var, True), (fix, False)):
        if not group:
            continue
        if varint:
            segs = [items[k][2][0] for k in group]
            values, lengths = varint_segments(segs)
        else:
            arrays = [items[k][2][0] for k in group]
            lengths = np.array([len(a) for a in arrays], dtype=np.int64)
            values = np.concatenate(arrays)
        expected = np.array([items[k][2][1] for k in group], dtype=np.uint64)
        ends = np.cumsum(lengths)
        csum = np.concatenate(([0], np.cumsum(values, dtype=np.uint64)))
        fsum = np.concatenate(([0.0], np.cumsum(values.astype(np.float64))))
        starts = ends - lengths
        total = csum[ends] - csum[starts]
        ftotal = fsum[ends] - fsum[starts]
        # Exact in uint64 unless it wrapped; a wrap means a sum ≥ 2^64, far past any valid count.
        wrong = (total != expected) | (ftotal > 2.0**63) | (values.max(initial=0) >= _MAX_COUNT)
        if wrong.any():
            big = values >= _MAX_COUNT
            if big.any():  # a bucket alone past the limit: only the points holding it are wrong
                owner = np.repeat(np.arange(len(group)), lengths)
                has_big = np.zeros(len(group), dtype=bool)
                has_big[owner[big]] = True
                wrong = (total != expected) | (ftotal > 2.0**63) | has_big
            bad += [group[k] for k in np.flatnonzero(wrong).tolist()]
    return sorted(bad)


# The compiled path reads the common case in C and gives up on the rest (see collector/_wire.c); it is
# absent when the package was built without a C compiler. INFERWATCH_NO_COMPILED=1 turns it off.
try:
    from . import _wire
except ImportError:
    _wire = None
_compiled = None
if _wire is not None and not os.environ.get("INFERWATCH_NO_COMPILED"):
    try:
        _wire.configure(sys.modules[__name__], _d, np)
        _compiled = _wire.decode
    except (AttributeError, TypeError) as exc:  # a build that does not match these modules
        warnings.warn(f"compiled OTLP decoder not used: {exc!r}", RuntimeWarning, stacklevel=1)
COMPILED: bool = _compiled is not None
