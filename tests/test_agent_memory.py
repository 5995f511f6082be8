"""Memory sampling: RSS and peak always, GPU only through a probe, torch never imported by us."""

from __future__ import annotations

import subprocess
import sys

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from inferwatch.encode import encode_window
from inferwatch.memory import MemorySampler, torch_gpu_probe
from inferwatch.window import Window


def test_rss_and_peak_are_read_from_this_process():
    sampler = MemorySampler(gpu_probe=None)
    rss = sampler.rss()
    assert rss > 1_000_000
    assert sampler.peak_rss >= rss
    assert sampler.gpu() == {}


def test_gpu_probe_without_torch_loaded_reports_nothing_and_imports_nothing():
    code = "import sys, inferwatch.memory as m; print(m.torch_gpu_probe(), 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["{}", "False"]
    assert torch_gpu_probe() == {} or "torch" in sys.modules


def test_a_failing_gpu_probe_is_ignored():
    def broken():
        raise RuntimeError("driver gone")

    assert MemorySampler(gpu_probe=broken).gpu() == {}


def test_gpu_samples_are_exported_per_device():
    sampler = MemorySampler(gpu_probe=lambda: {"cuda:0": 2_000_000_000, "cuda:1": 500_000_000})
    window = Window(1_000_000_000, 2_000_000_000)
    for _ in range(3):
        window.add_memory(sampler.rss(), sampler.gpu())
    request = ExportMetricsServiceRequest.FromString(
        encode_window(window, {"service.name": "s"}, {}, {}, sampler.peak_rss))
    metrics = {m.name: m for m in request.resource_metrics[0].scope_metrics[0].metrics}
    gpu = metrics["inferwatch.gpu.memory.usage"]
    assert gpu.unit == "By"
    by_device = {p.attributes[0].value.string_value: p for p in gpu.exponential_histogram.data_points}
    assert set(by_device) == {"cuda:0", "cuda:1"}
    assert by_device["cuda:0"].count == 3 and by_device["cuda:0"].max == 2_000_000_000
    assert metrics["inferwatch.process.memory.usage"].exponential_histogram.data_points[0].count == 3
