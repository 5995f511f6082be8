"""Decode and validate OTLP metrics requests (protobuf or JSON) into flat point records."""

from __future__ import annotations

import hashlib
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from . import hist_convert
from .hist_convert import AGENT_CONFIDENCE_BOUNDS, HistogramTooWide, _ints

__all__ = [
    "CUMULATIVE",
    "DELTA",
    "DecodeFailure",
    "Decoded",
    "INFERENCE_METRICS",
    "decode_json",
    "decode_protobuf",
    "decode_request",
]

DELTA, CUMULATIVE = 1, 2
DURATION = "inferwatch.inference.duration"
CONFIDENCE = "inferwatch.inference.confidence"
INFERENCE_METRICS = (DURATION, CONFIDENCE)
MAX_ATTR_CHARS = 4096  # longer attribute strings are truncated (documented limit)
MAX_COUNT = 2**62
_TARGETS = {"edge", "cloud"}


class DecodeFailure(ValueError):
    """The request body is not a decodable OTLP metrics request (HTTP 400, gRPC INVALID_ARGUMENT)."""


@dataclass
class Decoded:
    """Flat point records of one request plus what was rejected and why."""

    # (series_id, start_ns, end_ns, temporality, kind 'lat'|'conf', res, model, version, error_type, hist)
    inference: list[tuple] = field(default_factory=list)
    # (series_id, start_ns, end_ns, temporality, metric, type, unit, monotonic, res, attrs_json,
    #  value, hist, quantiles)
    metrics: list[tuple] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    # (inference_points, metric_points) Arrow tables of delta points built by a decode worker, or None
    tables: tuple | None = None
    table_rows: int = 0

    @property
    def points(self) -> int:
        """Accepted points."""
        return len(self.inference) + len(self.metrics) + self.table_rows

    def reject(self, n: int, why: str) -> None:
        """Count n rejected points, keeping the first few reasons."""
        self.rejected += n
        if len(self.errors) < 5 and why not in self.errors:
            self.errors.append(why)

    @property
    def error_message(self) -> str:
        """The partial_success error message."""
        return "; ".join(self.errors)


def _value(v: Any) -> Any:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        s = v.string_value
        return s if len(s) <= MAX_ATTR_CHARS else s[:MAX_ATTR_CHARS]
    if kind in ("int_value", "bool_value", "double_value"):
        x = getattr(v, kind)
        return x if kind != "double_value" or math.isfinite(x) else str(x)
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values[:256]]
    if kind == "kvlist_value":
        return {kv.key[:MAX_ATTR_CHARS]: _value(kv.value) for kv in v.kvlist_value.values[:256]}
    if kind == "bytes_value":
        return v.bytes_value[:MAX_ATTR_CHARS].hex()
    return None


def _attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key[:MAX_ATTR_CHARS]: _value(kv.value) for kv in kvs}


def _series_id(*parts: str) -> int:
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _resource_info(rm: Any) -> tuple[tuple, str]:
    return _resource_columns(rm.resource.attributes)


def _resource_columns(kvs: Any) -> tuple[tuple, str]:
    """(service, device, target, hardware, resource JSON) and the resource JSON of resource attributes."""
    attrs = _attrs(kvs)
    service = str(attrs.get("service.name") or "unknown_service")
    device = str(attrs.get("device.id") or attrs.get("host.name") or "")
    target = str(attrs.get("inferwatch.target") or "unknown").lower()
    target = target if target in _TARGETS else "unknown"
    hardware = str(attrs.get("inferwatch.hardware") or "")
    resource_json = json.dumps(attrs, sort_keys=True, default=str)
    return (service, device, target, hardware, resource_json), resource_json


# Caches: devices, metrics and attribute sets repeat every window. Keys are serialized protobuf bytes,
# so equal keys mean equal attributes; values are exactly what the uncached computation gives.
_RESOURCES: dict[bytes, tuple[tuple, str, int]] = {}
_SERIES: dict[tuple, tuple] = {}
_CACHE_MAX = 200_000
_BOUNDS_OK: dict[tuple, bool] = {}


def _resource(rm: Any) -> tuple[tuple, str, int]:
    """(resource columns, resource JSON, cache id) of a ResourceMetrics, cached by its serialized bytes."""
    key = rm.resource.SerializeToString()
    hit = _RESOURCES.get(key)
    if hit is None:
        if len(_RESOURCES) > 10_000 or len(_SERIES) > _CACHE_MAX:
            _RESOURCES.clear()
            _SERIES.clear()
        res, res_json = _resource_info(rm)
        hit = _RESOURCES[key] = (res, res_json, len(_RESOURCES))
    return hit


def _bounds_ok(bounds: tuple) -> bool:
    ok = _BOUNDS_OK.get(bounds)
    if ok is None:
        ok = _finite(*bounds) and all(b < c for b, c in zip(bounds, bounds[1:]))
        if len(_BOUNDS_OK) > 1000:
            _BOUNDS_OK.clear()
        _BOUNDS_OK[bounds] = ok
    return ok


def _series(name: str, scope: str, res_id: int, res_json: str, akey: bytes, dp: Any) -> tuple:
    """(series id, attributes JSON, model, version, error type or None) of a point, cached by its
    metric, scope, resource and serialized attributes."""
    key = (name, scope, res_id, akey)
    hit = _SERIES.get(key)
    if hit is None:
        attrs = _attrs(dp.attributes)
        attrs_json = json.dumps(attrs, sort_keys=True, default=str)
        err = attrs.get("error.type")
        hit = (
            _series_id(name, scope, res_json, attrs_json),
            attrs_json,
            str(attrs.get("inferwatch.model.name", "")),
            str(attrs.get("inferwatch.model.version", "")),
            str(err) if err not in (None, "") else None,
        )
        if len(_SERIES) > _CACHE_MAX:
            _SERIES.clear()
        _SERIES[key] = hit
    return hit


def _finite(*xs: float) -> bool:
    return all(math.isfinite(x) for x in xs)


def _scan(b: bytes) -> list[tuple[int, int, int, int, int]] | None:
    """(field, wire type, tag offset, data offset, end) of each top-level field of a serialized message;
    None for anything unusual (groups), so callers take the plain protobuf path."""
    out = []
    i, n = 0, len(b)
    while i < n:
        t0 = i
        tag, i = _varint(b, i)
        wire = tag & 7
        if wire == 2:
            ln, i = _varint(b, i)
            out.append((tag >> 3, 2, t0, i, i + ln))
            i += ln
        elif wire == 1:
            i += 8
        elif wire == 0:
            while b[i] >= 0x80:
                i += 1
            i += 1
        elif wire == 5:
            i += 4
        else:
            return None
        if wire != 2:
            out.append((tag >> 3, wire, t0, t0, i))
    return out


def _attr_key(ser: bytes, fields: list | None, number: int) -> bytes | None:
    """The bytes spanning every attributes field (field `number`) of a serialized point."""
    if fields is None:
        return ser
    lo = hi = -1
    for f, _, t0, _, e in fields:
        if f == number:
            if lo < 0:
                lo = t0
            hi = e
    return ser[lo:hi] if lo >= 0 else b""


def _point_key(dp: Any, number: int) -> bytes:
    """Attribute cache key of a number or summary point (most carry no attributes)."""
    if not len(dp.attributes):
        return b""
    ser = dp.SerializeToString()
    return _attr_key(ser, _scan(ser), number)


_AGENT_BOUNDS_BYTES = struct.pack(f"<{len(AGENT_CONFIDENCE_BOUNDS)}d", *AGENT_CONFIDENCE_BOUNDS)


def _varint(b: bytes, i: int) -> tuple[int, int]:
    x = shift = 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return x, i


def _lead_key(ser: bytes) -> bytes:
    """The leading attributes fields (field 1) of a serialized exponential histogram point."""
    i, n = 0, len(ser)
    while i < n and ser[i] == 0x0A:
        ln, i = _varint(ser, i + 1)
        i += ln
    return ser[:i]


def _packed_counts(pb: bytes) -> bytes | None:
    """The packed bucket_counts of serialized Buckets (offset = field 1, counts = field 2), or None."""
    i, n = 0, len(pb)
    if i < n and pb[i] == 0x08:
        _, i = _varint(pb, i + 1)
    if i == n:
        return b""
    if pb[i] != 0x12:
        return None
    ln, i = _varint(pb, i + 1)
    return pb[i : i + ln] if i + ln == n else None


def _exp(dp: Any) -> tuple | str:
    positive = dp.positive
    seg = _packed_counts(positive.SerializeToString())
    if seg is not None and seg.isascii():  # every count < 128: one byte each (the usual case)
        total_pos = sum(seg)
        counts = None
    else:
        counts = list(positive.bucket_counts)
        total_pos = sum(counts)
    neg = dp.negative.bucket_counts
    negative = sum(neg) if len(neg) else 0
    count = dp.count
    zero = dp.zero_count
    if count >= MAX_COUNT or zero + total_pos + negative != count:
        return "bucket counts do not add up to count (negative or corrupt counts)"
    if negative:
        return "negative values in an exponential histogram are not supported"
    scale = dp.scale
    if not -10 <= scale <= 20:
        return f"exponential histogram scale {scale} is outside [-10, 20]"
    mn = dp.min if dp.HasField("min") else math.nan
    mx = dp.max if dp.HasField("max") else math.nan
    s = dp.sum
    if not math.isfinite(s) or math.isinf(mn) or math.isinf(mx):
        return "NaN or infinite sum, min or max"
    counts = np.frombuffer(seg, np.uint8).astype(np.int64) if counts is None else np.array(counts, np.int64)
    return ("exp", scale, positive.offset, counts, zero, count, s, mn, mx)


def _explicit(dp: Any, ser: bytes, fields: list | None) -> tuple | str:
    counts = bounds = None
    if fields is not None:
        seen = set()
        for f, w, _, s, e in fields:
            if f in (6, 7):
                if w != 2 or f in seen or (e - s) % 8:
                    counts = bounds = None
                    break
                seen.add(f)
                if f == 6:
                    counts = (s, (e - s) // 8)
                elif ser[s:e] == _AGENT_BOUNDS_BYTES:
                    bounds = AGENT_CONFIDENCE_BOUNDS
                else:
                    bounds = struct.unpack_from(f"<{(e - s) // 8}d", ser, s)
        else:
            if 6 not in seen:
                counts = (0, 0)
            if 7 not in seen:
                bounds = ()
    if counts is None or bounds is None:
        values = list(dp.bucket_counts)
        bounds = tuple(dp.explicit_bounds)
        n = len(values)
        array = np.array(values, np.uint64)
    else:
        offset, n = counts
        values = struct.unpack_from(f"<{n}Q", ser, offset)
        array = np.frombuffer(ser, "<u8", n, offset)
    total = sum(values)
    if dp.count >= MAX_COUNT or (n and total != dp.count):
        return "bucket counts do not add up to count (negative or corrupt counts)"
    if n and n != len(bounds) + 1:
        return "histogram has len(bucket_counts) != len(explicit_bounds) + 1"
    if bounds is not AGENT_CONFIDENCE_BOUNDS and not _bounds_ok(bounds):
        return "explicit bounds must be finite and increasing"
    mn = dp.min if dp.HasField("min") else math.nan
    mx = dp.max if dp.HasField("max") else math.nan
    s = dp.sum if dp.HasField("sum") else math.nan
    if (
        math.isinf(s)
        or math.isinf(mn)
        or math.isinf(mx)
        or (n and dp.count and math.isnan(s) and dp.HasField("sum"))
    ):
        return "NaN or infinite sum, min or max"
    return ("explicit", bounds, array.astype(np.int64), dp.count, s, mn, mx)


def decode_message(request: ExportMetricsServiceRequest, out: Decoded | None = None) -> Decoded:
    """Flatten and validate a parsed request; invalid points are counted, never raised."""
    out = out or Decoded()
    for rm in request.resource_metrics:
        res, res_json, res_id = _resource(rm)
        for sm in rm.scope_metrics:
            scope = sm.scope.name
            for m in sm.metrics:
                name, unit = m.name, m.unit
                kind = m.WhichOneof("data")
                if kind is None:
                    continue
                data = getattr(m, kind)
                points = data.data_points
                temporality = getattr(data, "aggregation_temporality", DELTA)
                if kind != "gauge" and temporality not in (DELTA, CUMULATIVE):
                    out.reject(len(points), f"{name}: aggregation temporality unspecified")
                    continue
                if kind == "gauge":
                    temporality = DELTA
                _decode_points(
                    out,
                    points,
                    name,
                    unit,
                    kind,
                    temporality,
                    scope,
                    res,
                    res_json,
                    res_id,
                    bool(getattr(data, "is_monotonic", False)) if kind == "sum" else None,
                )
    return out


def _decode_points(
    out: Decoded,
    points: Any,
    name: str,
    unit: str,
    kind: str,
    temporality: int,
    scope: str,
    res: tuple,
    res_json: str,
    res_id: int,
    monotonic: bool | None,
) -> None:
    """Validate and flatten the data points of one metric (upb messages) into out."""
    inference, metrics = out.inference, out.metrics
    inferred = name in INFERENCE_METRICS and kind in ("histogram", "exponential_histogram")
    lat = name == DURATION
    kind_tag = "lat" if lat else "conf"
    is_exp = kind == "exponential_histogram"
    is_explicit = kind == "histogram"
    number = kind in ("sum", "gauge")
    for dp in points:
        end = dp.time_unix_nano
        start = dp.start_time_unix_nano
        if end <= 0 or start > end:
            out.reject(1, f"{name}: missing time_unix_nano or start after end")
            continue
        if is_exp:
            hist = _exp(dp)
            akey = _lead_key(dp.SerializeToString())
            if not akey and len(dp.attributes):  # attributes not first: scan every field
                akey = _point_key(dp, 1)
        elif is_explicit:
            ser = dp.SerializeToString()
            fields = _scan(ser)
            hist = _explicit(dp, ser, fields)
            akey = _attr_key(ser, fields, 9)
        else:
            hist = None
            akey = _point_key(dp, 7)
        if hist.__class__ is str:
            out.reject(1, f"{name}: {hist}")
            continue
        sid, attrs_json, model, version, err = _series(name, scope, res_id, res_json, akey, dp)
        if inferred:
            if unit == "ms":
                try:
                    hist = _to_seconds(hist)
                except OverflowError:  # bucket bounds past the largest double (e.g. scale -10)
                    out.reject(1, f"{name}: histogram bucket bounds lie past the largest double")
                    continue
            inference.append(
                (
                    sid,
                    start,
                    end,
                    temporality,
                    kind_tag,
                    res,
                    model,
                    version,
                    err if lat else None,
                    hist,
                )
            )
            continue
        value = None
        quantiles = None
        if number:
            which = dp.WhichOneof("value")
            if which is None:
                out.reject(1, f"{name}: number point without a value")
                continue
            value = float(getattr(dp, which))
            if not math.isfinite(value):
                out.reject(1, f"{name}: NaN or infinite value")
                continue
        elif kind == "summary":
            quantiles = [(q.quantile, q.value) for q in dp.quantile_values]
            if not _finite(dp.sum, *(v for qv in quantiles for v in qv)) or dp.count >= MAX_COUNT:
                out.reject(1, f"{name}: NaN or infinite summary value")
                continue
            hist = ("summary", dp.count, dp.sum)
        metrics.append(
            (
                sid,
                start,
                end,
                temporality,
                name,
                kind,
                unit,
                monotonic,
                res,
                attrs_json,
                value,
                hist,
                quantiles,
            )
        )


def _to_seconds(hist: tuple) -> tuple:
    """An explicit histogram in milliseconds expressed in seconds (exponential ones are re-bucketed later)."""
    if hist[0] == "explicit":
        _, bounds, counts, count, s, mn, mx = hist
        return ("explicit", tuple(b / 1000 for b in bounds), counts, count, s / 1000, mn / 1000, mx / 1000)
    _, scale, offset, counts, zero, count, s, mn, mx = hist
    counts = _ints(counts)
    base = 2.0 ** (2.0**-scale)
    bounds = tuple(base ** (offset + k) / 1000 for k in range(len(counts) + 1))
    return (
        "explicit",
        (0.0,) + bounds if zero else bounds,
        ([zero] if zero else []) + [0] + counts + [0],
        count,
        s / 1000,
        mn / 1000,
        mx / 1000,
    )


def decode_protobuf(body: bytes, out: Decoded | None = None) -> Decoded:
    """Decode a serialized request: the wire fast path (otlp_wire), or upb for unusual encodings;
    DecodeFailure when it is not a request."""
    from .otlp_wire import Unusual, decode_wire

    try:
        decoded = decode_wire(body)
    except Unusual:
        request = ExportMetricsServiceRequest()
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise DecodeFailure(f"cannot decode protobuf ExportMetricsServiceRequest: {exc}") from None
        return decode_message(request, out)
    if out is not None:  # rejections made before (OTLP/JSON negative counts) come first
        for why in decoded.errors:
            out.reject(0, why)
        out.rejected += decoded.rejected
        out.inference, out.metrics = decoded.inference, decoded.metrics
        return out
    return decoded


_COUNT_FIELDS = ("count", "zeroCount", "zero_count")


def _negative(x: Any) -> bool:
    try:
        return int(x) < 0
    except (TypeError, ValueError):
        return False


def _bad_counts(dp: dict) -> bool:
    if any(_negative(dp.get(k)) for k in _COUNT_FIELDS):
        return True
    for key in ("bucketCounts", "bucket_counts"):
        if any(_negative(c) for c in dp.get(key) or ()):
            return True
    for side in ("positive", "negative"):
        b = dp.get(side)
        if isinstance(b, dict) and any(
            _negative(c) for c in b.get("bucketCounts") or b.get("bucket_counts") or ()
        ):
            return True
    return False


def _drop_negative_counts(doc: Any, out: Decoded) -> None:
    """Remove points with negative counts (JSON allows writing them) so the rest of the request survives."""
    if not isinstance(doc, dict):
        raise DecodeFailure("OTLP/JSON body must be a JSON object")
    for rm in doc.get("resourceMetrics") or doc.get("resource_metrics") or []:
        for sm in (rm or {}).get("scopeMetrics") or (rm or {}).get("scope_metrics") or []:
            for m in (sm or {}).get("metrics") or []:
                if not isinstance(m, dict):
                    continue
                for kind in ("histogram", "exponentialHistogram", "exponential_histogram", "summary"):
                    data = m.get(kind)
                    if isinstance(data, dict):
                        points = data.get("dataPoints") or data.get("data_points") or []
                        keep = [p for p in points if not (isinstance(p, dict) and _bad_counts(p))]
                        if len(keep) != len(points):
                            out.reject(len(points) - len(keep), f"{m.get('name')}: negative counts")
                            data["dataPoints" if "dataPoints" in data else "data_points"] = keep


def decode_json(body: bytes) -> tuple[bytes, Decoded]:
    """Parse an OTLP/JSON body (camelCase, int64 as strings, unknown fields ignored):
    (canonical protobuf bytes, decoded points)."""
    out = Decoded()
    try:
        doc = json.loads(body) if body.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeFailure(f"invalid JSON: {exc}") from None
    try:
        _drop_negative_counts(doc, out)
    except (AttributeError, TypeError):
        pass  # malformed structure: ParseDict below says what is wrong
    request = ExportMetricsServiceRequest()
    try:
        json_format.ParseDict(doc, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
        raise DecodeFailure(f"invalid OTLP/JSON: {exc}") from None
    payload = request.SerializeToString()
    return payload, decode_protobuf(payload, out)


def decode_request(body: bytes, is_json: bool) -> tuple[bytes, Decoded]:
    """(canonical protobuf bytes for the WAL, decoded points) of a decompressed request body."""
    canonical, decoded = decode_json(body) if is_json else (body, decode_protobuf(body))
    _drop_unstorable(decoded)
    return canonical, decoded


_CANONICAL = hist_convert.CANONICAL_SCALE
_MAX_INDEX = hist_convert.MAX_INDEX


def _storable(hist: tuple, linear: bool) -> bool:
    """Whether a histogram's stored form stays within MAX_BUCKETS (checked by preparing it, except for the
    forms bounded by construction: explicit buckets placed on the exponential grid, which finite doubles
    bound; _drop_unstorable has already let the agent's confidence buckets through)."""
    if not linear:
        if hist[0] == "explicit":
            return True
        if hist[1] >= _CANONICAL:
            return -_MAX_INDEX <= hist[2] >> (hist[1] - _CANONICAL) <= _MAX_INDEX
    try:
        (hist_convert.prepare_linear if linear else hist_convert.prepare_latency)(hist)
    except HistogramTooWide:
        return False
    return True


def _drop_unstorable(out: Decoded) -> None:
    """Reject histogram points whose stored form would span more than MAX_BUCKETS buckets or whose bucket
    indexes are past any double: converting them would take unbounded time and memory."""
    # the agent's rows are bounded by construction; only the others are prepared to be sure
    agent, lim = AGENT_CONFIDENCE_BOUNDS, hist_convert.MAX_BUCKETS
    suspect = [
        r for r in out.inference
        if (h := r[9])[1] is not agent
        and not (h[0] == "exp" and r[4] == "lat" and h[1] >= _CANONICAL and -lim <= h[2] <= lim)
    ]
    bad_inf = [r for r in suspect if not _storable(r[9], r[4] == "conf")]
    bad_met = [r for r in out.metrics
               if r[11] is not None and r[11][0] == "exp" and not _storable(r[11], False)]
    for rows, bad, name_of in ((out.inference, bad_inf, lambda r: CONFIDENCE if r[4] == "conf" else DURATION),
                               (out.metrics, bad_met, lambda r: r[4])):
        if bad:
            drop = {id(r) for r in bad}
            rows[:] = [r for r in rows if id(r) not in drop]
            for r in bad:
                out.reject(1, f"{name_of(r)}: histogram buckets span more than "
                              f"{hist_convert.MAX_BUCKETS:,} stored buckets or lie past the largest double")
