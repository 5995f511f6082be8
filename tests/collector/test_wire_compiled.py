"""The compiled OTLP decoder (collector/_wire.c) gives exactly what the Python walker gives, or gives up.

- Random valid requests of every kind it reads, and the benchmark's agent and gateway requests: it
  decodes them all, to the same rows (types included) as `otlp_wire._walk`.
- Requests it must refuse (summaries, exemplars, NaN, counts not adding up, unspecified temporality,
  unknown fields, ...): it returns None, and `decode_wire` answers what the Python walker answers.
- Giving up late leaves the caches as a prefix of what the Python walker puts there.
- Corrupted bodies (truncations, bit flips, random bytes): it never crashes, and whenever it returns
  rows they equal the Python walker's.
"""

from __future__ import annotations

import gzip
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from test_ingest_fast_path import MINUTE, NOW, _attrs, _kv, _same

from inferwatch.collector import otlp_decode, otlp_wire
from inferwatch.collector.hist_convert import AGENT_CONFIDENCE_BOUNDS
from inferwatch.collector.otlp_decode import decode_message
from inferwatch.collector.otlp_wire import Unusual, decode_wire

try:
    from inferwatch.collector import _wire
except ImportError:
    _wire = None

compiled = pytest.mark.skipif(
    _wire is None, reason="inferwatch.collector._wire is not built (no C compiler at install time)"
)


def test_compiled_decoder_is_built():
    """`make test` (CI) sets INFERWATCH_REQUIRE_COMPILED=1: a build that silently lost the C path fails."""
    if not os.environ.get("INFERWATCH_REQUIRE_COMPILED"):
        pytest.skip("INFERWATCH_REQUIRE_COMPILED is not set")
    assert _wire is not None, "collector/_wire.c was not built: install gcc and the Python headers, reinstall"
    assert otlp_wire.COMPILED and otlp_wire._compiled is _wire.decode


def _exact(x, y, where="") -> None:
    """x == y, with the same types, NaN equal to NaN, arrays by dtype and values."""
    assert type(x) is type(y), where
    if isinstance(x, tuple | list):
        assert len(x) == len(y), where
        assert (x is AGENT_CONFIDENCE_BOUNDS) == (y is AGENT_CONFIDENCE_BOUNDS), where
        for k, (a, b) in enumerate(zip(x, y)):
            _exact(a, b, f"{where}[{k}]")
    elif isinstance(x, np.ndarray):
        assert x.dtype == y.dtype and np.array_equal(x, y), where
    elif isinstance(x, float) and math.isnan(x):
        assert math.isnan(y), where
    else:
        assert x == y, where


def _same_exactly(a: otlp_decode.Decoded, b: otlp_decode.Decoded) -> None:
    _exact(a.inference, b.inference, "inference")
    _exact(a.metrics, b.metrics, "metrics")
    assert (a.rejected, a.errors, a.points) == (b.rejected, b.errors, b.points)


def _walk_or_unusual(body: bytes):
    try:
        return otlp_wire._walk(body)
    except Unusual:
        return Unusual


# ---- valid requests of every kind the C path reads ----


def _times(p, rng):
    start = NOW - rng.randrange(1, 100) * MINUTE
    p.start_time_unix_nano = rng.choice([start, start, start, 0])
    p.time_unix_nano = start + MINUTE


def _valid_exp(m, rng):
    p = m.exponential_histogram.data_points.add()
    p.attributes.extend(_attrs(rng))
    _times(p, rng)
    p.scale = rng.randrange(-10, 21)
    p.positive.offset = rng.choice([0, rng.randrange(-3000, 3000)])
    big = rng.random() < 0.3
    counts = [
        rng.choice([0, 1, 3, 127, 128, 300, 70_000, 2**40] if big else [0, 0, 1, 3, 50])
        for _ in range(rng.randrange(0, 60))
    ]
    p.positive.bucket_counts.extend(counts)
    p.zero_count = rng.choice([0, 0, 2, 300])
    p.count = sum(counts) + p.zero_count
    p.sum = rng.choice([0.0, rng.random() * 10, -1.5])
    if rng.random() < 0.8:
        p.min, p.max = rng.choice([(0.001, 9.0), (math.nan, math.nan)])
    if rng.random() < 0.2:
        p.zero_threshold = 1e-9
    if rng.random() < 0.1:
        p.flags = 1


def _valid_explicit(m, rng):
    p = m.histogram.data_points.add()
    _times(p, rng)
    if rng.random() < 0.5:
        bounds = list(AGENT_CONFIDENCE_BOUNDS)
    else:
        bounds = [b / 100 for b in sorted(rng.sample(range(-500, 1000), rng.randrange(0, 12)))]
    counts = [] if rng.random() < 0.1 else [rng.choice([0, 0, 1, 7, 2**40]) for _ in range(len(bounds) + 1)]
    p.bucket_counts.extend(counts)
    p.explicit_bounds.extend(bounds)
    p.count = sum(counts) if counts else rng.randrange(0, 5)
    if rng.random() < 0.8:
        p.sum = rng.choice([3.0, -2.0, 0.0]) if counts and p.count else rng.choice([3.0, math.nan])
    if rng.random() < 0.8:
        p.min, p.max = rng.choice([(0.01, 0.99), (math.nan, 1.0)])
    if rng.random() < 0.1:
        p.flags = 1
    p.attributes.extend(_attrs(rng))


def _valid_number(m, rng, kind):
    p = getattr(m, kind).data_points.add()
    _times(p, rng)
    if rng.random() < 0.5:
        p.as_int = rng.choice([0, 7, -(2**40), 2**63 - 1, -(2**63), 2**53 + 1])
    else:
        p.as_double = rng.choice([0.0, -0.0, rng.random(), 1e300, -5e-324])
    if rng.random() < 0.3:
        p.attributes.extend(_attrs(rng))
    if rng.random() < 0.1:
        p.flags = 1


def valid_request(rng: random.Random) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    for _ in range(rng.randrange(1, 4)):
        rm = req.resource_metrics.add()
        device = f"d{rng.randrange(3)}"
        attrs = [("service.name", "svc"), ("device.id", device), ("inferwatch.target", "edge")]
        rm.resource.attributes.extend([_kv(k, v) for k, v in rng.sample(attrs, rng.randrange(4))])
        if rng.random() < 0.2:
            rm.schema_url = "https://opentelemetry.io/schemas/1.21.0"
        for _ in range(rng.randrange(1, 3)):
            sm = rm.scope_metrics.add()
            sm.scope.name = rng.choice(["", "inferwatch", "other", "é"])
            if rng.random() < 0.2:
                sm.scope.version = "1.2"
                sm.schema_url = "s"
            for _ in range(rng.randrange(1, 8)):
                m = sm.metrics.add()
                kind = rng.choice(["exp", "explicit", "sum", "gauge"])
                temporality = rng.choice([1, 2])
                n = rng.randrange(0, 5)
                if kind == "exp":
                    m.name = rng.choice(
                        ["inferwatch.inference.duration", "inferwatch.inference.confidence", "x.hist"]
                    )
                    m.unit = rng.choice(["s", "1", "ms"] if m.name == "x.hist" else ["s", "1", ""])
                    m.exponential_histogram.aggregation_temporality = temporality
                    for _ in range(n):
                        _valid_exp(m, rng)
                elif kind == "explicit":
                    m.name = rng.choice(
                        ["inferwatch.inference.confidence", "inferwatch.inference.duration", "http.dur"]
                    )
                    m.unit = rng.choice(["1", "s", "ms"] if m.name == "http.dur" else ["1", "s"])
                    m.histogram.aggregation_temporality = temporality
                    for _ in range(n):
                        _valid_explicit(m, rng)
                else:
                    m.name = f"inferwatch.agent.{kind}{rng.randrange(3)}"
                    m.unit = rng.choice(["", "1", "By"])
                    if kind == "sum":
                        m.sum.aggregation_temporality = temporality
                        m.sum.is_monotonic = rng.random() < 0.7
                    for _ in range(n if n else rng.randrange(0, 2)):
                        _valid_number(m, rng, kind)
                    if not n and kind == "gauge":
                        m.gauge.SetInParent()
                if rng.random() < 0.1:
                    m.description = "described ✓"
    return req


@compiled
@pytest.mark.parametrize("seed", range(150))
def test_compiled_equals_python_walker_on_valid_requests(seed):
    body = valid_request(random.Random(seed)).SerializeToString()
    for _ in range(2):  # the second time, every cache is warm
        got = _wire.decode(body)
        assert got is not None, "the C path gave up on a request it reads"
        _same_exactly(got, otlp_wire._walk(body))
        _same_exactly(decode_wire(body), got)
    _same(got, decode_message(ExportMetricsServiceRequest.FromString(body)))


def _bench_bodies(shape: int) -> list[bytes]:
    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    try:
        import collector_ingest
    finally:
        sys.path.pop(0)
    bodies, _, _ = collector_ingest.build_bodies(3, shape, seed=5, pool=4)
    return [gzip.decompress(b) for b in bodies]


@compiled
@pytest.mark.parametrize("shape", [1, 40])
def test_compiled_equals_python_walker_on_agent_and_gateway_requests(shape):
    for body in _bench_bodies(shape):
        got = _wire.decode(body)
        assert got is not None and got.points > 0
        _same_exactly(got, otlp_wire._walk(body))


# ---- requests the C path must refuse ----


def _base() -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend([_kv("service.name", "svc"), _kv("device.id", "refuse")])
    ms = rm.scope_metrics.add().metrics
    dur = ms.add()
    dur.name, dur.unit = "inferwatch.inference.duration", "s"
    dur.exponential_histogram.aggregation_temporality = 1
    p = dur.exponential_histogram.data_points.add()
    p.attributes.extend([_kv("inferwatch.model.name", "m")])
    p.start_time_unix_nano, p.time_unix_nano = NOW - MINUTE, NOW
    p.positive.offset = -3
    p.positive.bucket_counts.extend([1, 2, 300])
    p.scale, p.count, p.sum, p.min, p.max = 6, 303, 1.0, 0.1, 0.9
    conf = ms.add()
    conf.name, conf.unit = "inferwatch.inference.confidence", "1"
    conf.histogram.aggregation_temporality = 1
    q = conf.histogram.data_points.add()
    q.start_time_unix_nano, q.time_unix_nano = NOW - MINUTE, NOW
    q.explicit_bounds.extend(AGENT_CONFIDENCE_BOUNDS)
    q.bucket_counts.extend([0] * 199 + [4])
    q.count, q.sum = 4, 3.9
    c = ms.add()
    c.name = "inferwatch.agent.requests"
    c.sum.aggregation_temporality, c.sum.is_monotonic = 1, True
    n = c.sum.data_points.add()
    n.start_time_unix_nano, n.time_unix_nano, n.as_int = NOW - MINUTE, NOW, 5
    return req


def _exp_p(req):
    return req.resource_metrics[0].scope_metrics[0].metrics[0].exponential_histogram.data_points[0]


def _hist_p(req):
    return req.resource_metrics[0].scope_metrics[0].metrics[1].histogram.data_points[0]


def _num_p(req):
    return req.resource_metrics[0].scope_metrics[0].metrics[2].sum.data_points[0]


def _metrics(req):
    return req.resource_metrics[0].scope_metrics[0].metrics


def _summary(req):
    s = _metrics(req).add()
    s.name = "rpc.latency"
    p = s.summary.data_points.add()
    p.start_time_unix_nano, p.time_unix_nano, p.count, p.sum = NOW - MINUTE, NOW, 3, 1.0


def _exemplar(req):
    e = _exp_p(req).exemplars.add()
    e.as_double, e.time_unix_nano = 1.0, 5


def _number_exemplar(req):
    _num_p(req).exemplars.add().as_int = 3


def _nan_sum(req):
    _exp_p(req).sum = math.nan


def _exp_bad_count(req):
    _exp_p(req).count += 1


def _exp_bad_small_counts(req):
    p = _exp_p(req)
    del p.positive.bucket_counts[:]
    p.positive.bucket_counts.extend([1, 2, 3])
    p.count = 7


def _exp_bad_many_counts(req):  # one-byte counts summed 8 at a time
    p = _exp_p(req)
    del p.positive.bucket_counts[:]
    p.positive.bucket_counts.extend(range(1, 41))
    p.count = sum(range(1, 41)) - 1


def _explicit_bad_count(req):
    _hist_p(req).count += 1


def _unspecified(req):
    _metrics(req)[2].sum.aggregation_temporality = 0


def _unspecified_empty(req):
    m = _metrics(req).add()
    m.name = "empty"
    m.histogram.SetInParent()


def _unknown_point_field(req):
    _num_p(req).MergeFromString(b"\xa0\x06\x01")  # field 100, kept as an unknown field


def _unknown_metric_field(req):
    _metrics(req)[0].MergeFromString(b"\xa0\x06\x01")


def _metadata(req):
    _metrics(req)[0].metadata.add().key = "k"


def _zero_negative(req):
    _exp_p(req).negative.bucket_counts.extend([0, 0])


def _negative(req):
    p = _exp_p(req)
    p.negative.bucket_counts.extend([2])
    p.count += 2


def _ms(req):
    _metrics(req)[0].unit = "ms"


def _inf_bound(req):
    q = _hist_p(req)
    q.explicit_bounds[5] = math.inf


def _unsorted_bounds(req):
    q = _hist_p(req)
    q.explicit_bounds[5] = 0.9


def _missing_time(req):
    _num_p(req).time_unix_nano = 0


def _start_after_end(req):
    _exp_p(req).start_time_unix_nano = NOW + 1


def _no_value(req):
    _num_p(req).ClearField("as_int")


def _no_data(req):
    _metrics(req).add().name = "nothing"


def _scale(req):
    _exp_p(req).scale = 21


def _too_big(req):
    q = _hist_p(req)
    q.bucket_counts[0] = 2**62
    q.count = 2**62 + 4


def _nan_value(req):
    _num_p(req).as_double = math.nan


REFUSED = [
    _summary,
    _exemplar,
    _number_exemplar,
    _nan_sum,
    _exp_bad_count,
    _exp_bad_small_counts,
    _exp_bad_many_counts,
    _explicit_bad_count,
    _unspecified,
    _unspecified_empty,
    _unknown_point_field,
    _unknown_metric_field,
    _metadata,
    _zero_negative,
    _negative,
    _ms,
    _inf_bound,
    _unsorted_bounds,
    _missing_time,
    _start_after_end,
    _no_value,
    _no_data,
    _scale,
    _too_big,
    _nan_value,
]


@compiled
def test_base_request_is_read_by_the_compiled_path():
    body = _base().SerializeToString()
    got = _wire.decode(body)
    assert got is not None and got.points == 3
    _same_exactly(got, otlp_wire._walk(body))


@compiled
@pytest.mark.parametrize("change", REFUSED, ids=lambda f: f.__name__.strip("_"))
def test_compiled_gives_up_and_the_python_walker_answers(change):
    req = _base()
    change(req)
    body = req.SerializeToString()
    assert _wire.decode(body) is None
    expected = _walk_or_unusual(body)
    if expected is Unusual:
        with pytest.raises(Unusual):
            decode_wire(body)
    else:
        _same_exactly(decode_wire(body), expected)
    # and the answer is still upb's (the point of the Python walker)
    _same(otlp_decode.decode_protobuf(body), decode_message(ExportMetricsServiceRequest.FromString(body)))


@compiled
def test_giving_up_late_leaves_a_prefix_of_the_python_walkers_cache_entries():
    rng = random.Random(11)
    req = ExportMetricsServiceRequest()
    for _ in range(3):
        req.resource_metrics.append(valid_request(rng).resource_metrics[0])
    m = req.resource_metrics[-1].scope_metrics[-1].metrics.add()
    m.name = "late"
    m.sum.aggregation_temporality = 0  # the last metric: refused only at the very end
    m.sum.data_points.add().time_unix_nano = NOW
    body = req.SerializeToString()

    def fresh():
        otlp_decode._RESOURCES.clear()
        otlp_decode._SERIES.clear()
        otlp_wire._SCOPES.clear()

    fresh()
    assert _wire.decode(body) is None
    c_state = dict(otlp_decode._RESOURCES), dict(otlp_decode._SERIES), dict(otlp_wire._SCOPES)
    assert c_state[0] and c_state[1]  # it did get far
    fresh()
    otlp_wire._walk(body)
    py_state = otlp_decode._RESOURCES, otlp_decode._SERIES, otlp_wire._SCOPES
    for c_cache, py_cache in zip(c_state, py_state):
        assert list(c_cache.items()) == list(py_cache.items())[: len(c_cache)]
    fresh()


# ---- corrupted bodies ----


def _mutate(rng: random.Random, body: bytes) -> bytes:
    b = bytearray(body)
    r = rng.random()
    if r < 0.3:
        return bytes(b[: rng.randrange(len(b) + 1)])
    if r < 0.6:
        for _ in range(rng.randrange(1, 4)):
            k = rng.randrange(len(b))
            b[k] ^= 1 << rng.randrange(8)
    elif r < 0.8:
        for _ in range(rng.randrange(1, 4)):
            b[rng.randrange(len(b))] = rng.choice([0x00, 0x7F, 0x80, 0xFF, rng.randrange(256)])
    elif r < 0.9:
        k = rng.randrange(len(b) + 1)
        b[k:k] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))
    else:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
    return bytes(b)


@compiled
def test_corrupted_bodies_never_crash_and_decode_only_like_the_python_walker():
    rng = random.Random(2024)
    bodies = [valid_request(random.Random(s)).SerializeToString() for s in range(40)]
    bodies += [_base().SerializeToString()] + _bench_bodies(1)
    deadline = time.monotonic() + 8
    tried = accepted = 0
    while tried < 20_000 and (tried < 2_000 or time.monotonic() < deadline):
        body = _mutate(rng, rng.choice(bodies))
        tried += 1
        got = _wire.decode(body)
        if got is None:
            continue
        accepted += 1
        expected = _walk_or_unusual(body)
        assert expected is not Unusual, f"the C path read what the Python walker refuses: {body[:200]!r}"
        _same_exactly(got, expected)
    assert tried >= 2_000 and accepted > 0
