"""What the agent puts on the wire, decoded from a real OTLP/HTTP receiver."""

from __future__ import annotations

import asyncio
import threading

import pytest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA

DURATION = "inferwatch.inference.duration"
CONFIDENCE = "inferwatch.inference.confidence"
MODEL = {"inferwatch.model.name": "digits", "inferwatch.model.version": "1.0"}


def test_sync_calls_are_counted_exactly_with_names_units_and_attributes(configured, receiver):
    agent = configured()

    @agent.observe("digits", "1.0")
    def predict(x):
        return x * 2

    for i in range(500):
        assert predict(i) == i * 2
    assert agent.flush(5)

    assert receiver.count(DURATION, **MODEL) == 500
    (resource, metric), = receiver.metrics(DURATION)
    assert metric.unit == "s"
    assert metric.WhichOneof("data") == "exponential_histogram"
    assert metric.exponential_histogram.aggregation_temporality == DELTA
    point = metric.exponential_histogram.data_points[0]
    assert {kv.key: kv.value.string_value for kv in point.attributes} == MODEL
    assert point.start_time_unix_nano < point.time_unix_nano
    assert 0 < point.min <= point.max < 1.0
    assert resource["service.name"] == "test-app"
    assert resource["inferwatch.target"] == "edge"
    assert resource["inferwatch.hardware"] == "test-hw"
    assert resource["device.id"] == "dev-1"
    for key in ("host.name", "host.arch", "os.type"):
        assert resource[key]


def test_async_calls_are_counted(configured, receiver):
    agent = configured()

    @agent.observe("digits", "1.0")
    async def predict(x):
        await asyncio.sleep(0)
        return x

    async def main():
        return await asyncio.gather(*(predict(i) for i in range(200)))

    assert asyncio.run(main()) == list(range(200))
    assert agent.flush(5)
    assert receiver.count(DURATION, **MODEL) == 200


def test_threaded_calls_are_all_counted(configured, receiver):
    agent = configured()
    predict = agent.observe("digits", "1.0")(lambda x: x)
    threads = [threading.Thread(target=lambda: [predict(i) for i in range(2000)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert agent.flush(5)
    assert receiver.count(DURATION, **MODEL) == 16_000
    assert agent.stats()["dropped"] == 0


def test_failed_calls_carry_the_qualified_error_type(configured, receiver):
    agent = configured()

    class ModelCrashed(Exception):
        pass

    @agent.observe("digits", "1.0")
    def predict(kind):
        if kind == "timeout":
            raise TimeoutError("slow")
        if kind == "crash":
            raise ModelCrashed("boom")
        return kind

    outcomes = ["ok"] * 30 + ["timeout"] * 7 + ["crash"] * 3
    for kind in outcomes:
        try:
            predict(kind)
        except (TimeoutError, ModelCrashed):
            pass
    assert agent.flush(5)
    assert receiver.count(DURATION, **MODEL) == 40
    assert receiver.count(DURATION, **MODEL, **{"error.type": "TimeoutError"}) == 7
    crash = f"{__name__}.test_failed_calls_carry_the_qualified_error_type.<locals>.ModelCrashed"
    assert receiver.count(DURATION, **MODEL, **{"error.type": crash}) == 3
    ok_points = [p for _, a, p in receiver.points(DURATION) if "error.type" not in a]
    assert sum(p.count for p in ok_points) == 30


def test_context_manager_records_duration_confidence_and_errors(configured, receiver):
    agent = configured()
    for i in range(10):
        with agent.observe("digits", "1.0") as call:
            call.confidence = 0.5 + i / 100
    with pytest.raises(KeyError):
        with agent.observe("digits", "1.0"):
            raise KeyError("missing")
    assert agent.flush(5)
    assert receiver.count(DURATION, **MODEL) == 11
    assert receiver.count(DURATION, **MODEL, **{"error.type": "KeyError"}) == 1
    (_, attrs, conf), = receiver.points(CONFIDENCE)
    assert attrs == MODEL
    assert conf.count == 10
    assert conf.min == pytest.approx(0.5) and conf.max == pytest.approx(0.59)
    assert len(conf.explicit_bounds) == 199 and len(conf.bucket_counts) == 200
    assert max(b - a for a, b in zip(conf.explicit_bounds, conf.explicit_bounds[1:])) <= 0.005 + 1e-12


def test_record_accepts_durations_confidences_and_error_names(configured, receiver):
    agent = configured()
    assert agent.record("digits", "1.0", duration_s=0.012, confidence=0.93)
    assert agent.record("digits", "1.0", duration_s=0.5, error="TimeoutError")
    assert agent.record("digits", "1.0", duration_s=0.1, error=ValueError("bad input"))
    assert agent.flush(5)
    assert receiver.count(DURATION, **MODEL) == 3
    assert receiver.count(DURATION, **MODEL, **{"error.type": "TimeoutError"}) == 1
    assert receiver.count(DURATION, **MODEL, **{"error.type": "ValueError"}) == 1
    ok = [p for _, a, p in receiver.points(DURATION) if "error.type" not in a]
    assert ok[0].sum == pytest.approx(0.012)


def test_memory_and_self_telemetry_are_exported(configured, receiver):
    agent = configured()
    agent.record("digits", "1.0", duration_s=0.01)
    assert agent.flush(5)
    (_, metric), = receiver.metrics("inferwatch.process.memory.usage")
    assert metric.unit == "By"
    point = metric.exponential_histogram.data_points[0]
    assert point.count >= 1 and point.min > 1_000_000  # a Python process has more than 1 MB resident
    peak = receiver.points("inferwatch.process.memory.peak")[0][2]
    assert peak.as_int >= point.max
    calls = receiver.points("inferwatch.agent.calls")[0][2]
    assert calls.as_int == 1
    def names(request):
        return {m.name for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}

    first = names(receiver.requests[0])
    for name in ("inferwatch.agent.calls", "inferwatch.agent.spool.size", "inferwatch.agent.spool.windows",
                 "inferwatch.agent.overhead"):
        assert name in first
    assert "inferwatch.agent.samples.dropped" not in first  # a counter that did not move is left out
    assert agent.flush(5)
    second = names(receiver.requests[1])
    assert "inferwatch.agent.bytes.sent" in second  # the first window's delivery, counted
    sent = receiver.points("inferwatch.agent.bytes.sent")[0][2].as_int
    assert sent == int(receiver.headers[0]["Content-Length"])
    overhead = receiver.points("inferwatch.agent.overhead")[0][2].as_double
    assert 0 < overhead < 1e-3


def test_consecutive_windows_are_contiguous_deltas(configured, receiver):
    agent = configured()
    agent.record("digits", "1.0", duration_s=0.01)
    assert agent.flush(5)
    agent.record("digits", "1.0", duration_s=0.02)
    agent.record("digits", "1.0", duration_s=0.03)
    assert agent.flush(5)
    points = [p for _, _, p in receiver.points(DURATION)]
    assert [p.count for p in points] == [1, 2]
    assert points[1].start_time_unix_nano == points[0].time_unix_nano


def test_windows_close_on_their_own_at_the_interval(configured, receiver):
    configured(interval_s=0.2)
    receiver_has_window = receiver.wait_for(lambda r: len(r.requests) >= 2, timeout=10)
    assert receiver_has_window
    ends = sorted(p.time_unix_nano for _, _, p in receiver.points("inferwatch.agent.calls"))
    assert all(end % 200_000_000 == 0 for end in ends[:-1])  # aligned to the interval


def test_headers_are_sent(configured, receiver):
    agent = configured(headers={"Authorization": "Bearer s3cret"})
    agent.record("digits", "1.0", duration_s=0.01)
    assert agent.flush(5)
    assert receiver.headers[-1]["Authorization"] == "Bearer s3cret"
    assert receiver.headers[-1]["Content-Encoding"] == "gzip"
    assert receiver.headers[-1]["Content-Type"] == "application/x-protobuf"


def test_grpc_protocol_delivers_the_same_counts(agent, tmp_path):
    from .otlp_receiver import GrpcReceiver

    server = GrpcReceiver()
    try:
        agent.configure(service="test-app", target="cloud", endpoint=server.endpoint, protocol="grpc",
                        headers={"authorization": "Bearer t"}, spool_dir=tmp_path / "spool")
        predict = agent.observe("digits", "1.0")(lambda x: x)
        for i in range(123):
            predict(i)
        assert agent.flush(5)
        counts = [p.count for r in server.requests for rm in r.resource_metrics for sm in rm.scope_metrics
                  for m in sm.metrics if m.name == DURATION for p in m.exponential_histogram.data_points]
        assert sum(counts) == 123
        assert server.metadata[-1]["authorization"] == "Bearer t"
    finally:
        server.stop()
