"""Build OTLP requests for collector tests (protobuf messages, as SDKs send them)."""

from __future__ import annotations

import time

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AGGREGATION_TEMPORALITY_CUMULATIVE
MINUTE = 60 * 10**9


def kv(key: str, value) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(double_value=value))


def window_start(minutes_ago: int = 5) -> int:
    now = time.time_ns()
    return now - now % MINUTE - minutes_ago * MINUTE


def duration_request(
    device: str = "dev-1",
    start: int | None = None,
    calls: int = 10,
    model: str = "m",
    version: str = "1",
    sum_s: float | None = None,
    counts: list[int] | None = None,
    offset: int = -100,
    scale: int = 4,
    target: str = "edge",
) -> ExportMetricsServiceRequest:
    """One delta exponential-histogram duration point, as our agent sends it."""
    start = window_start() if start is None else start
    counts = counts if counts is not None else [calls]
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(
        [
            kv("service.name", "svc"),
            kv("device.id", device),
            kv("inferwatch.target", target),
            kv("inferwatch.hardware", "hw"),
        ]
    )
    m = rm.scope_metrics.add().metrics.add()
    m.name, m.unit = "inferwatch.inference.duration", "s"
    m.exponential_histogram.aggregation_temporality = DELTA
    p = m.exponential_histogram.data_points.add()
    p.attributes.extend([kv("inferwatch.model.name", model), kv("inferwatch.model.version", version)])
    p.start_time_unix_nano, p.time_unix_nano = start, start + MINUTE
    p.count = sum(counts)
    p.sum = sum_s if sum_s is not None else 0.01 * p.count
    p.scale = scale
    p.positive.offset = offset
    p.positive.bucket_counts.extend(counts)
    p.min, p.max = 0.001, 0.1
    return req


def gauge_request(value: float, name: str = "g", start: int | None = None) -> ExportMetricsServiceRequest:
    start = window_start() if start is None else start
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend([kv("service.name", "svc")])
    m = rm.scope_metrics.add().metrics.add()
    m.name = name
    p = m.gauge.data_points.add()
    p.time_unix_nano = start + MINUTE
    p.as_double = value
    return req
