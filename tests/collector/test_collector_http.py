"""OTLP/HTTP semantics: content types, gzip, limits, bad input, partial success, replays, retries."""

from __future__ import annotations

import gzip
import json
import math
import threading
import time

from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from otlp_payloads import duration_request, gauge_request, window_start

CALLS = "SELECT coalesce(sum(calls), 0) FROM inference_windows"


def stored(c) -> tuple:
    c.collector.flush()
    return (c.scalar("SELECT count(*) FROM inference_points"), c.scalar("SELECT count(*) FROM metric_points"))


def assert_healthy(c) -> None:
    r = c.session.get(c.url + "/healthz", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_protobuf_export_answers_protobuf_and_stores_calls(collector):
    r = collector.post_metrics(duration_request(calls=7).SerializeToString())
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-protobuf"
    response = ExportMetricsServiceResponse.FromString(r.content)
    assert response.partial_success.rejected_data_points == 0
    assert collector.scalar(CALLS) == 7


def test_gzip_json_export_answers_json_with_int64_as_strings(collector):
    doc = json_format.MessageToJson(duration_request(calls=5))
    assert '"count": "5"' in doc  # OTLP/JSON: int64 as strings
    body = json.loads(doc)
    body["resourceMetrics"][0]["unknownField"] = {"ignored": True}
    r = collector.post_metrics(json.dumps(body).encode(), "application/json", gzip_body=True)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert collector.scalar(CALLS) == 5


def test_same_request_sent_three_times_counts_once(collector):
    body = duration_request(calls=11).SerializeToString()
    for _ in range(3):
        assert collector.post_metrics(body).status_code == 200
    assert collector.scalar(CALLS) == 11
    assert collector.collector.stats()["points_duplicate"] == 2


def test_empty_request_is_a_success(collector):
    for ctype in ("application/x-protobuf", "application/json"):
        r = collector.post_metrics(b"", ctype)
        assert r.status_code == 200
    assert stored(collector) == (0, 0)


def test_garbage_and_truncated_protobuf_get_400_with_status_body(collector):
    good = duration_request().SerializeToString()
    before = stored(collector)
    for body in (b"\xff\xff\xff\xff garbage", good[: len(good) // 2]):
        r = collector.post_metrics(body)
        assert r.status_code == 400
        status = status_pb2.Status.FromString(r.content)
        assert status.code == 3 and status.message
    assert stored(collector) == before
    assert_healthy(collector)


def test_invalid_json_gets_400_in_json(collector):
    for body in (b"{not json", b"[1, 2]", b'{"resourceMetrics": "nope"}'):
        r = collector.post_metrics(body, "application/json")
        assert r.status_code == 400
        assert r.json()["message"]
    assert stored(collector) == (0, 0)
    assert_healthy(collector)


def test_wrong_content_type_gets_415(collector):
    r = collector.post_metrics(b"hello", "text/plain")
    assert r.status_code == 415
    r = collector.post_metrics(b"x", headers={"Content-Encoding": "br"})
    assert r.status_code == 415


def test_oversized_and_gzip_bomb_get_413(make_collector):
    c = make_collector(max_request_bytes=64 * 1024)
    r = c.post_metrics(b"\x00" * (65 * 1024))
    assert r.status_code == 413
    bomb = gzip.compress(b"\x00" * (50 * 1024 * 1024))  # 50 MiB of zeros, ~50 KB compressed
    assert len(bomb) < 64 * 1024
    r = c.post_metrics(bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert stored(c) == (0, 0)
    assert_healthy(c)


def test_corrupt_gzip_gets_400(collector):
    r = collector.post_metrics(b"\x1f\x8b\x08\x00garbage", headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400


def test_nan_inf_and_inconsistent_counts_are_rejected_per_point(collector):
    req = duration_request(calls=3)
    bad = gauge_request(math.nan).resource_metrics[0]
    req.resource_metrics.append(bad)
    inf = gauge_request(math.inf, name="g2").resource_metrics[0]
    req.resource_metrics.append(inf)
    broken = duration_request(device="dev-2", calls=4).resource_metrics[0]
    broken.scope_metrics[0].metrics[0].exponential_histogram.data_points[0].count = 99  # != sum of buckets
    req.resource_metrics.append(broken)
    r = collector.post_metrics(req.SerializeToString())
    assert r.status_code == 200
    response = ExportMetricsServiceResponse.FromString(r.content)
    assert response.partial_success.rejected_data_points == 3
    assert response.partial_success.error_message
    assert collector.scalar(CALLS) == 3
    assert collector.scalar("SELECT count(*) FROM metric_points WHERE metric LIKE 'g%'") == 0


def test_negative_bucket_counts_in_json_are_rejected_per_point(collector):
    good = json.loads(json_format.MessageToJson(duration_request(calls=2)))
    bad = json.loads(json_format.MessageToJson(duration_request(device="dev-9", calls=2)))
    point = bad["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0]["exponentialHistogram"]["dataPoints"][
        0
    ]
    point["positive"]["bucketCounts"] = ["-5"]
    good["resourceMetrics"].extend(bad["resourceMetrics"])
    r = collector.post_metrics(json.dumps(good).encode(), "application/json")
    assert r.status_code == 200
    assert r.json()["partialSuccess"]["rejectedDataPoints"] == "1"
    assert collector.scalar(CALLS) == 2


def test_huge_attribute_values_are_truncated_not_fatal(collector):
    req = duration_request(model="m" * 200_000, calls=1)
    r = collector.post_metrics(req.SerializeToString(), gzip_body=True)
    assert r.status_code == 200
    assert collector.scalar("SELECT max(length(model)) FROM inference_points") == 4096
    assert_healthy(collector)


def test_full_write_queue_answers_503_with_retry_after_then_recovers(make_collector):
    c = make_collector(max_queue_points=1, full_queue_wait_s=0.3)
    c.collector.writer.pause()
    assert c.post_metrics(duration_request(device="a", calls=3).SerializeToString()).status_code == 200
    t0 = time.monotonic()
    r = c.post_metrics(duration_request(device="b", calls=4).SerializeToString())
    assert time.monotonic() - t0 >= 0.3  # it waited for room first
    assert r.status_code == 503
    assert int(r.headers["Retry-After"]) > 0
    assert status_pb2.Status.FromString(r.content).code == 14
    c.collector.writer.resume()
    assert c.scalar(CALLS) == 3
    assert c.post_metrics(duration_request(device="b", calls=4).SerializeToString()).status_code == 200
    assert c.scalar(CALLS) == 7


def test_a_request_finding_the_queue_full_waits_for_room_instead_of_503(make_collector):
    c = make_collector(max_queue_points=1, full_queue_wait_s=10.0)
    c.collector.writer.pause()
    assert c.post_metrics(duration_request(device="a", calls=3).SerializeToString()).status_code == 200
    threading.Timer(0.5, c.collector.writer.resume).start()  # the writer catches up while b waits
    t0 = time.monotonic()
    r = c.post_metrics(duration_request(device="b", calls=4).SerializeToString())
    assert r.status_code == 200
    assert 0.4 <= time.monotonic() - t0 < 10.0
    assert c.scalar(CALLS) == 7


def test_old_points_beyond_raw_retention_are_rejected(collector):
    old = window_start(minutes_ago=60 * 24 * 5)
    r = collector.post_metrics(duration_request(start=old).SerializeToString())
    assert r.status_code == 200
    assert ExportMetricsServiceResponse.FromString(r.content).partial_success.rejected_data_points == 1
    assert collector.scalar(CALLS) == 0


def _hostile_requests() -> list:
    """Histograms whose stored form would be unbounded: each must be rejected, fast, and nothing stored."""
    out = []
    # an exponential "confidence" with a zero count and a bucket at 2^60 (once: a ~2^67-bucket linear list)
    req = duration_request(counts=[1], offset=60, scale=0)
    m = req.resource_metrics[0].scope_metrics[0].metrics[0]
    m.name, m.unit = "inferwatch.inference.confidence", "1"
    p = m.exponential_histogram.data_points[0]
    p.zero_count, p.count = 1, 2
    out.append(req)
    # scale -10 latency buckets: each would split into 16,384 canonical ones
    out.append(duration_request(counts=[1] * 200, offset=0, scale=-10))
    # an offset past any double at the canonical scale (its bucket index would wrap int32)
    out.append(duration_request(counts=[3], offset=2**31 - 1, scale=4))
    # an explicit "confidence" histogram with a non-empty bucket up at 1e300
    req = duration_request()
    m = req.resource_metrics[0].scope_metrics[0].metrics[0]
    m.ClearField("exponential_histogram")
    m.name, m.unit = "inferwatch.inference.confidence", "1"
    m.histogram.aggregation_temporality = 1
    p = m.histogram.data_points.add()
    p.start_time_unix_nano, p.time_unix_nano = window_start(), window_start() + 60 * 10**9
    p.explicit_bounds.extend([0.5, 1e300])
    p.bucket_counts.extend([1, 0, 4])
    p.count, p.sum = 5, 2.0
    out.append(req)
    # a duration in ms at scale -10: its bounds in seconds overflow doubles
    req = duration_request(counts=[1], offset=5, scale=-10)
    req.resource_metrics[0].scope_metrics[0].metrics[0].unit = "ms"
    out.append(req)
    # a memory histogram (metric_points) at scale -10
    req = duration_request(counts=[1] * 100, offset=0, scale=-10)
    req.resource_metrics[0].scope_metrics[0].metrics[0].name = "inferwatch.process.memory.usage"
    out.append(req)
    return out


def test_unbounded_histograms_are_rejected_per_point_and_the_server_stays_healthy(collector):
    before = stored(collector)
    for i, req in enumerate(_hostile_requests()):
        good = duration_request(calls=2, device=f"dev-ok-{i}")
        req.resource_metrics.extend(good.resource_metrics)  # one good point beside the hostile one
        r = collector.post_metrics(req.SerializeToString())
        assert r.status_code == 200
        response = ExportMetricsServiceResponse.FromString(r.content)
        assert response.partial_success.rejected_data_points == 1
        assert "largest double" in response.partial_success.error_message
        assert_healthy(collector)
    after = stored(collector)
    assert after == (before[0] + 6, before[1])
    assert collector.scalar(CALLS) == 12
