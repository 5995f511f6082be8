"""The fast ingest paths give exactly what the general ones give (property-style, seeded random inputs).

- `otlp_wire.decode_wire` (wire bytes) vs `otlp_decode.decode_message` (upb objects): same rows, same
  rejections, on random requests with every metric type, odd values and encodings the fast path hands
  to upb (exemplars, unusual fields), and on truncated or corrupted bodies.
- `hist_convert.hist_array` (bulk numpy over a batch, packed varint bytes or arrays) vs a per-point
  Python conversion to the canonical buckets.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from inferwatch.collector import otlp_decode
from inferwatch.collector.hist_convert import (
    AGENT_CONFIDENCE_BOUNDS,
    _ints,
    decode_varints,
    hist_array,
    varint_segments,
)
from inferwatch.collector.otlp_decode import DecodeFailure, decode_message, decode_protobuf
from inferwatch.collector.otlp_wire import Unusual, decode_wire

MINUTE = 60 * 10**9
NOW = 1_800_000_000 * 10**9


def _kv(k, v):
    if isinstance(v, bool):
        return KeyValue(key=k, value=AnyValue(bool_value=v))
    if isinstance(v, int):
        return KeyValue(key=k, value=AnyValue(int_value=v))
    return KeyValue(key=k, value=AnyValue(string_value=v))


def _attrs(rng: random.Random) -> list:
    pool = [
        ("inferwatch.model.name", rng.choice(["digits", "resnet"])),
        ("inferwatch.model.version", rng.choice(["1.0", "2.0"])),
        ("error.type", "TimeoutError"),
        ("hw.id", rng.randrange(4)),
        ("flag", rng.random() < 0.5),
        ("long", "x" * rng.choice([10, 5000])),
    ]
    return [_kv(k, v) for k, v in rng.sample(pool, rng.randrange(len(pool) + 1))]


def _count(rng: random.Random) -> int:
    return rng.choice([0, 1, 5, 100, 127, 128, 300, 20_000, 2**40])


def _times(p, rng):
    start = NOW - rng.randrange(1, 100) * MINUTE
    p.start_time_unix_nano = rng.choice([start, start, start, 0, NOW + MINUTE])
    p.time_unix_nano = rng.choice([start + MINUTE] * 8 + [0])


def _odd_float(rng: random.Random, x: float) -> float:
    return rng.choice([x] * 12 + [math.nan, math.inf, -math.inf])


def _exp_point(m, rng):
    p = m.exponential_histogram.data_points.add()
    p.attributes.extend(_attrs(rng))
    _times(p, rng)
    p.scale = rng.choice([3, 4, 5, 6, 8, 20, 21, -11])
    p.positive.offset = rng.randrange(-200, 200)
    counts = [
        rng.choice([0, 0, 1, 3]) if rng.random() < 0.7 else _count(rng) for _ in range(rng.randrange(0, 40))
    ]
    p.positive.bucket_counts.extend(counts)
    p.zero_count = rng.choice([0, 0, 2])
    total = sum(counts) + p.zero_count
    if rng.random() < 0.1:
        p.negative.bucket_counts.extend([1, 0, 2])
        total += 3
    p.count = rng.choice([total] * 9 + [total + 1, 2**63 + 5])
    p.sum = _odd_float(rng, rng.random() * 10)
    if rng.random() < 0.8:
        p.min, p.max = _odd_float(rng, 0.001), _odd_float(rng, 9.0)
    if rng.random() < 0.05:
        e = p.exemplars.add()
        e.as_double, e.time_unix_nano = 1.0, 5


def _explicit_point(m, rng):
    p = m.histogram.data_points.add()
    _times(p, rng)
    if rng.random() < 0.5:
        bounds = list(AGENT_CONFIDENCE_BOUNDS)
    else:
        bounds = sorted(rng.sample(range(1, 1000), rng.randrange(0, 12)))
        bounds = [b / 100 for b in bounds]
        if bounds and rng.random() < 0.1:
            bounds[0] = math.inf
    n = len(bounds) + 1 if rng.random() < 0.95 else len(bounds) + 2
    counts = [_count(rng) if rng.random() < 0.2 else 0 for _ in range(n)]
    if rng.random() < 0.05:
        counts = []
    p.bucket_counts.extend(counts)
    p.explicit_bounds.extend(bounds)
    p.count = rng.choice([sum(counts)] * 9 + [sum(counts) + 1, 2**62])
    if rng.random() < 0.8:
        p.sum = _odd_float(rng, 3.0)
    if rng.random() < 0.8:
        p.min, p.max = 0.01, 0.99
    p.attributes.extend(_attrs(rng))


def _number_point(m, rng, kind):
    p = getattr(m, kind).data_points.add()
    _times(p, rng)
    r = rng.random()
    if r < 0.45:
        p.as_int = rng.randrange(-(2**40), 2**40)
    elif r < 0.95:
        p.as_double = _odd_float(rng, rng.random())
    if rng.random() < 0.3:
        p.attributes.extend(_attrs(rng))
    if rng.random() < 0.03:
        e = p.exemplars.add()
        e.as_int = 3


def random_request(rng: random.Random) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    for _ in range(rng.randrange(1, 4)):
        rm = req.resource_metrics.add()
        rm.resource.attributes.extend(
            [
                _kv("service.name", "svc"),
                _kv("device.id", f"d{rng.randrange(3)}"),
                _kv("inferwatch.target", "edge"),
            ]
        )
        for _ in range(rng.randrange(1, 3)):
            sm = rm.scope_metrics.add()
            sm.scope.name = rng.choice(["", "inferwatch", "other"])
            for _ in range(rng.randrange(1, 8)):
                m = sm.metrics.add()
                kind = rng.choice(["exp", "explicit", "sum", "gauge", "summary", "none"])
                m.unit = rng.choice(["s", "ms", "1", "By"])
                temporality = rng.choice([1, 1, 1, 2, 0])
                if kind == "exp":
                    m.name = rng.choice(
                        ["inferwatch.inference.duration", "inferwatch.process.memory.usage", "x.hist"]
                    )
                    m.exponential_histogram.aggregation_temporality = temporality
                    for _ in range(rng.randrange(0, 5)):
                        _exp_point(m, rng)
                elif kind == "explicit":
                    m.name = rng.choice(
                        ["inferwatch.inference.confidence", "inferwatch.inference.duration", "http.dur"]
                    )
                    m.histogram.aggregation_temporality = temporality
                    for _ in range(rng.randrange(0, 5)):
                        _explicit_point(m, rng)
                elif kind in ("sum", "gauge"):
                    m.name = f"inferwatch.agent.{kind}{rng.randrange(3)}"
                    if kind == "sum":
                        m.sum.aggregation_temporality = temporality
                        m.sum.is_monotonic = rng.random() < 0.7
                    for _ in range(rng.randrange(0, 5)):
                        _number_point(m, rng, kind)
                elif kind == "summary":
                    m.name = "rpc.latency"
                    p = m.summary.data_points.add()
                    _times(p, rng)
                    p.count, p.sum = 3, _odd_float(rng, 1.0)
                    q = p.quantile_values.add()
                    q.quantile, q.value = 0.5, 0.2
                else:
                    m.name = "no.data"
                if rng.random() < 0.1:
                    m.description = "described"
    return req


def _norm(x):
    if isinstance(x, bytes | np.ndarray | list):
        return ("counts", tuple(_ints(x)))
    if isinstance(x, tuple):
        return tuple(_norm(y) for y in x)
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    return x


def _same(a: otlp_decode.Decoded, b: otlp_decode.Decoded) -> None:
    assert [_norm(r) for r in a.inference] == [_norm(r) for r in b.inference]
    assert [_norm(r) for r in a.metrics] == [_norm(r) for r in b.metrics]
    assert a.rejected == b.rejected
    # A point failing two checks may name the other reason on the fast path (its count-sum check of
    # multi-byte counts runs after the other checks); the metrics named are the same.
    assert bool(a.errors) == bool(b.errors)
    if len(b.errors) < 5:
        assert {e.split(":")[0] for e in a.errors} == {e.split(":")[0] for e in b.errors}


@pytest.mark.parametrize("seed", range(40))
def test_wire_decode_equals_upb_decode(seed):
    rng = random.Random(seed)
    req = random_request(rng)
    body = req.SerializeToString()
    _same(decode_protobuf(body), decode_message(ExportMetricsServiceRequest.FromString(body)))
    for _ in range(2):  # the second time, counters and gauges are read with their cached metric heads
        try:
            fast = decode_wire(body)
        except Unusual:
            return  # (e.g. metric descriptions are read, metadata is not): the upb path, compared above
        _same(fast, decode_message(ExportMetricsServiceRequest.FromString(body)))


def test_wire_decode_reads_agent_requests_without_fallback():
    rng = random.Random(7)
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend([_kv("service.name", "a"), _kv("device.id", "d")])
    m = rm.scope_metrics.add().metrics.add()
    m.name, m.unit = "inferwatch.inference.duration", "s"
    m.exponential_histogram.aggregation_temporality = 1
    p = m.exponential_histogram.data_points.add()
    p.attributes.extend([_kv("inferwatch.model.name", "m")])
    p.start_time_unix_nano, p.time_unix_nano = NOW - MINUTE, NOW
    counts = [rng.randrange(0, 100_000) for _ in range(50)]  # multi-byte varints
    p.positive.bucket_counts.extend(counts)
    p.scale, p.count, p.sum, p.min, p.max = 6, sum(counts), 1.0, 0.1, 0.9
    body = req.SerializeToString()
    fast = decode_wire(body)
    assert len(fast.inference) == 1 and fast.inference[0][9][3].__class__ is bytes
    _same(fast, decode_message(ExportMetricsServiceRequest.FromString(body)))
    p.count += 1  # now the counts do not add up: rejected by the deferred check
    fast = decode_wire(req.SerializeToString())
    assert not fast.inference and fast.rejected == 1


@pytest.mark.parametrize("seed", range(25))
def test_corrupt_bodies_fail_or_decode_like_upb(seed):
    rng = random.Random(1000 + seed)
    body = bytearray(random_request(rng).SerializeToString())
    if rng.random() < 0.5:
        body = body[: rng.randrange(len(body) + 1)]
    else:
        for _ in range(rng.randrange(1, 5)):
            body[rng.randrange(len(body))] = rng.randrange(256)
    body = bytes(body)
    try:
        expected = decode_message(ExportMetricsServiceRequest.FromString(body))
    except Exception:
        with pytest.raises(DecodeFailure):
            decode_protobuf(body)
        return
    _same(decode_protobuf(body), expected)


def _varint(x: int) -> bytes:
    out = bytearray()
    while True:
        b = x & 0x7F
        x >>= 7
        if x:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def test_varint_decoding():
    rng = random.Random(3)
    values = [rng.choice([0, 1, 127, 128, 300, 2**35, 2**62 - 1, 2**64 - 1]) for _ in range(500)]
    buf = b"".join(_varint(v) for v in values)
    assert decode_varints(buf).tolist() == values
    segs, k = [], 0
    while k < len(values):
        n = rng.randrange(0, 6)
        segs.append(values[k : k + n])
        k += n
    got, lengths = varint_segments([b"".join(_varint(v) for v in s) for s in segs])
    assert got.tolist() == values and lengths.tolist() == [len(s) for s in segs]


def _reference(row, linear: bool) -> tuple[int, list[int]]:
    """Per-point conversion: canonical index of every bucket, summed, trimmed."""
    scale, offset, counts = row[0], row[1], _ints(row[2])
    placed: dict[int, int] = {}
    for k, c in enumerate(counts):
        j = offset + k if linear else (offset + k) >> (scale - 4)
        placed[j] = placed.get(j, 0) + c
    keys = [j for j in sorted(placed) if placed[j]]
    if not keys:
        return 0, []
    return keys[0], [placed.get(j, 0) for j in range(keys[0], keys[-1] + 1)]


@pytest.mark.parametrize("seed", range(30))
@pytest.mark.parametrize("linear", [False, True])
def test_bulk_hist_array_equals_per_point_conversion(seed, linear):
    rng = random.Random(seed)
    rows = []
    for _ in range(rng.randrange(0, 60)):
        if rng.random() < 0.1:
            rows.append(None)
            continue
        scale = 0 if linear else rng.choice([4, 4, 5, 6, 9, 20])
        n = rng.randrange(0, 50)
        counts = [rng.choice([0, 0, 0, 1, 7, 200, 70_000]) for _ in range(n)]
        rep = rng.randrange(4)
        if rep == 0:
            packed = b"".join(_varint(c) for c in counts)
        elif rep == 1:
            packed = np.array(counts, dtype=np.uint64)
        elif rep == 2:
            packed = np.array(counts, dtype=np.int64)
        else:
            packed = counts
        offset = rng.randrange(0, 150) if linear else rng.randrange(-3000, 3000)
        rows.append((scale, offset, packed, 0, sum(counts), 1.0, math.nan, math.nan))
    arr = hist_array(rows, linear=linear, unit=1.0).to_pylist()
    assert len(arr) == len(rows)
    for row, got in zip(rows, arr):
        if row is None:
            assert got is None
            continue
        idx0, dense = _reference(row, linear)
        assert got["counts"] == dense
        if dense:
            assert got["idx0"] == idx0
        assert got["count"] == row[4]
