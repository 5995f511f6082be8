"""Interoperability with the OpenTelemetry Python SDK: defaults (cumulative, explicit buckets) and
delta + exponential histograms, over HTTP/protobuf, HTTP/JSON and gRPC."""

from __future__ import annotations

import json
import random

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation
from opentelemetry.sdk.resources import Resource

ROUNDS = (10, 25, 40)


def make_reader(delta_exponential: bool) -> InMemoryMetricReader:
    if not delta_exponential:
        return InMemoryMetricReader()  # SDK defaults: cumulative, explicit buckets
    return InMemoryMetricReader(
        preferred_temporality={
            Histogram: AggregationTemporality.DELTA,
            Counter: AggregationTemporality.DELTA,
        },
        preferred_aggregation={Histogram: ExponentialBucketHistogramAggregation()},
    )


def send(collector, transport: str, data) -> None:
    if transport == "http-protobuf":
        assert HttpExporter(endpoint=collector.url + "/v1/metrics").export(data) == MetricExportResult.SUCCESS
    elif transport == "grpc":
        exporter = GrpcExporter(endpoint=collector.grpc_target, insecure=True)
        assert exporter.export(data) == MetricExportResult.SUCCESS
        exporter.shutdown()
    else:
        body = json_format.MessageToJson(encode_metrics(data)).encode()
        r = collector.post_metrics(body, "application/json", gzip_body=True)
        assert r.status_code == 200, r.text
        assert "partialSuccess" not in r.json() or not r.json()["partialSuccess"].get("rejectedDataPoints")


@pytest.mark.parametrize("transport", ["http-protobuf", "http-json", "grpc"])
@pytest.mark.parametrize("delta_exponential", [False, True], ids=["sdk-defaults", "delta-exponential"])
def test_sdk_calls_are_counted_exactly(collector, transport, delta_exponential):
    reader = make_reader(delta_exponential)
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource(
            {
                "service.name": "py-sdk",
                "host.name": "cloud-vm-1",
                "inferwatch.target": "cloud",
                "inferwatch.hardware": "nvidia-t4",
            }
        ),
    )
    meter = provider.get_meter("app")
    duration = meter.create_histogram("inferwatch.inference.duration", unit="s")
    confidence = meter.create_histogram("inferwatch.inference.confidence", unit="1")
    requests_total = meter.create_counter("app.requests")
    inflight = meter.create_up_down_counter("app.inflight")
    rng = random.Random(7)
    exported = []
    for n in ROUNDS:
        for _ in range(n):
            attrs = {"inferwatch.model.name": "digits", "inferwatch.model.version": "2"}
            duration.record(rng.lognormvariate(-4, 0.5), attrs)
            confidence.record(rng.random(), attrs)
            requests_total.add(1)
            inflight.add(1)
        data = reader.get_metrics_data()
        exported.append(data)
        send(collector, transport, data)
    send(collector, transport, exported[1])  # a replay counts nothing
    provider.shutdown()
    total = sum(ROUNDS)
    assert collector.scalar("SELECT sum(calls) FROM inference_windows WHERE model = 'digits'") == total
    assert collector.scalar("SELECT hist_count(list(confidence_hist)) FROM inference_windows") == total
    assert collector.scalar("SELECT sum(value) FROM metric_points WHERE metric = 'app.requests'") == total
    p50 = collector.scalar("SELECT hist_quantile(list(latency_hist), 0.5) FROM inference_windows")
    assert 5 < p50 < 60  # exp(-4) s ≈ 18 ms
    assert (
        collector.scalar("SELECT any_value(target) || '/' || any_value(device_id) FROM inference_windows")
        == "cloud/cloud-vm-1"
    )
    assert UpDownCounter  # non-monotonic sums are stored as their current value
    assert collector.scalar("SELECT max(value) FROM metric_points WHERE metric = 'app.inflight'") == total


def test_cumulative_reset_counts_the_new_run(collector):
    reader = make_reader(False)
    provider = MeterProvider(metric_readers=[reader], resource=Resource({"service.name": "a"}))
    c = provider.get_meter("x").create_counter("jobs")
    c.add(5)
    send(collector, "http-protobuf", reader.get_metrics_data())
    provider.shutdown()
    reader = make_reader(False)  # a restarted process: new start time, counting from zero
    provider = MeterProvider(metric_readers=[reader], resource=Resource({"service.name": "a"}))
    c = provider.get_meter("x").create_counter("jobs")
    c.add(2)
    send(collector, "http-protobuf", reader.get_metrics_data())
    c.add(1)
    send(collector, "http-protobuf", reader.get_metrics_data())
    provider.shutdown()
    assert collector.scalar("SELECT sum(value) FROM metric_points WHERE metric = 'jobs'") == 8


def test_json_export_of_sdk_request_roundtrips_camel_case(collector):
    reader = make_reader(True)
    provider = MeterProvider(metric_readers=[reader], resource=Resource({"service.name": "j"}))
    provider.get_meter("x").create_histogram("inferwatch.inference.duration", unit="s").record(
        0.02, {"inferwatch.model.name": "m"}
    )
    doc = json.loads(json_format.MessageToJson(encode_metrics(reader.get_metrics_data())))
    assert "resourceMetrics" in doc
    r = collector.post_metrics(json.dumps(doc).encode(), "application/json")
    assert r.status_code == 200
    assert collector.scalar("SELECT sum(calls) FROM inference_windows") == 1
