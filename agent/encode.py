"""Turn a closed window into an OTLP ExportMetricsServiceRequest (delta temporality)."""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    ExponentialHistogram,
    ExponentialHistogramDataPoint,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.metrics.export import (
    Buckets as _Buckets,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from . import histogram as _hist
from .version import __version__
from .window import Window

__all__ = ["ATTR_ERROR_TYPE", "ATTR_MODEL", "ATTR_VERSION", "SELF_COUNTERS", "SELF_GAUGES", "encode_window"]

ATTR_MODEL = "inferwatch.model.name"
ATTR_VERSION = "inferwatch.model.version"
ATTR_ERROR_TYPE = "error.type"
DELTA = AggregationTemporality.DELTA

# stats() key -> (metric name, unit, description); exported as delta monotonic sums.
SELF_COUNTERS = {
    "calls": ("inferwatch.agent.calls", "{call}", "Calls recorded into histograms (always sent)."),
    "dropped": ("inferwatch.agent.samples.dropped", "{sample}", "Samples dropped because a buffer was full."),
    "confidence_errors": ("inferwatch.agent.confidence.errors", "{call}",
                          "Confidence callables that raised."),
    "confidence_invalid": ("inferwatch.agent.confidence.invalid", "{call}",
                           "Confidence values that were not a number in [0, 1]."),
    "invalid_records": ("inferwatch.agent.records.invalid", "{call}", "record() calls with invalid input."),
    "windows_spooled": ("inferwatch.agent.windows.spooled", "{window}", "Windows written to the spool."),
    "spool_dropped": ("inferwatch.agent.spool.dropped", "{window}", "Spooled windows dropped (cap)."),
    "spool_corrupt": ("inferwatch.agent.spool.corrupt", "{file}", "Torn spool files skipped."),
    "export_failures": ("inferwatch.agent.export.failures", "{request}", "Export attempts that failed."),
    "windows_rejected": ("inferwatch.agent.windows.rejected", "{window}",
                         "Windows the collector refused (non-retryable)."),
    "bytes_sent": ("inferwatch.agent.bytes.sent", "By", "Compressed bytes delivered."),
}
# stats() key -> (metric name, unit, description, scale); exported as gauges.
SELF_GAUGES = {
    "spool_bytes": ("inferwatch.agent.spool.size", "By", "Bytes waiting in the spool.", 1.0),
    "spool_files": ("inferwatch.agent.spool.windows", "{window}", "Windows waiting in the spool.", 1.0),
    "overhead_ns": ("inferwatch.agent.overhead", "s", "Measured hot-path overhead per call.", 1e-9),
}


def _exp_point(h: _hist.ExponentialHistogram, attrs: dict, start: int, end: int):
    offset, counts = h.dense()
    return ExponentialHistogramDataPoint(
        attributes=attrs, start_time_unix_nano=start, time_unix_nano=end, count=h.count, sum=h.sum,
        scale=h.scale, zero_count=h.zero_count, positive=_Buckets(offset, counts),
        negative=_Buckets(0, []), flags=0, min=h.min, max=h.max,
    )


def encode_window(window: Window, resource_attributes: Mapping[str, str],
                  counters: Mapping[str, int], gauges: Mapping[str, float],
                  peak_rss: int = 0) -> bytes:
    """The serialized OTLP request for one window plus the agent's self-telemetry deltas."""
    start, end = window.start_ns, window.end_ns
    durations, confidences = [], []
    for (model, version), sw in sorted(window.series.items()):
        attrs = {ATTR_MODEL: model, ATTR_VERSION: version}
        if sw.ok.count:
            durations.append(_exp_point(sw.ok, attrs, start, end))
        for error_type, h in sorted(sw.failed.items()):
            durations.append(_exp_point(h, {**attrs, ATTR_ERROR_TYPE: error_type}, start, end))
        c = sw.confidence
        if c.count:
            confidences.append(HistogramDataPoint(
                attributes=attrs, start_time_unix_nano=start, time_unix_nano=end, count=c.count,
                sum=c.sum, bucket_counts=c.counts, explicit_bounds=_hist.CONFIDENCE_BOUNDS,
                min=c.min, max=c.max))
    metrics = []
    if durations:
        metrics.append(Metric("inferwatch.inference.duration", "Duration of inference calls.", "s",
                              ExponentialHistogram(durations, DELTA)))
    if confidences:
        metrics.append(Metric("inferwatch.inference.confidence", "Confidence of predictions.", "1",
                              Histogram(confidences, DELTA)))
    if window.memory.count:
        metrics.append(Metric("inferwatch.process.memory.usage", "Process RSS, sampled about once a second.",
                              "By", ExponentialHistogram([_exp_point(window.memory, {}, start, end)], DELTA)))
    if peak_rss:
        metrics.append(Metric("inferwatch.process.memory.peak", "Peak RSS of the process.", "By",
                              Gauge([NumberDataPoint({}, start, end, int(peak_rss))])))
    if window.gpu_memory:
        points = [_exp_point(h, {"hw.id": hw}, start, end) for hw, h in sorted(window.gpu_memory.items())]
        metrics.append(Metric("inferwatch.gpu.memory.usage", "GPU memory in use, sampled.", "By",
                              ExponentialHistogram(points, DELTA)))
    # Self-telemetry goes without descriptions (documented in the README), and a counter that did
    # not move is left out (a delta of 0 says nothing): together that saves ~40% of a window's bytes.
    for key, (name, unit, _description) in SELF_COUNTERS.items():
        value = int(counters.get(key, 0))
        if value or key == "calls":
            point = NumberDataPoint({}, start, end, value)
            metrics.append(Metric(name, None, unit, Sum([point], DELTA, True)))
    for key, (name, unit, _description, scale) in SELF_GAUGES.items():
        if key in gauges:
            point = NumberDataPoint({}, start, end, gauges[key] * scale)
            metrics.append(Metric(name, None, unit, Gauge([point])))
    data = MetricsData([ResourceMetrics(
        Resource(dict(resource_attributes)),
        [ScopeMetrics(InstrumentationScope("inferwatch", __version__), metrics, "")], "")])
    return encode_metrics(data).SerializeToString()
