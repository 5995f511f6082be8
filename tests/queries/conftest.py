"""A real collector, filled through real agents with known data, for the named-query tests."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pytest

import inferwatch
from inferwatch.collector.process import CollectorProcess

MODEL = "digits"


@dataclass
class Device:
    """One emulated device and exactly what it recorded."""

    device_id: str
    target: str
    hardware: str
    version: str
    latencies_s: np.ndarray
    confidences: np.ndarray
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return len(self.latencies_s)


def _fleet() -> list[Device]:
    """Edge devices of two kinds and versions, and a cloud service, with very different speeds.

    Three slow Pis send most calls, one fast NUC few: a p95 averaged over devices is far below the
    p95 of all calls, so a query that averaged percentiles would fail the tests.
    """
    rng = np.random.default_rng(42)
    devices = []
    for i in range(3):
        devices.append(Device(f"pi-{i}", "edge", "raspberry-pi-4", "1.0",
                              rng.lognormal(np.log(0.040), 0.3, 1500), rng.beta(9, 2, 1500),
                              {"TimeoutError": 5 + i}))
    devices.append(Device("nuc-0", "edge", "intel-nuc", "2.0", rng.lognormal(np.log(0.004), 0.2, 400),
                          rng.beta(6, 2, 400), {"ValueError": 12}))
    devices.append(Device("cloud-0", "cloud", "cloud-cpu", "1.0", rng.lognormal(np.log(0.060), 0.25, 2000),
                          rng.beta(20, 2, 2000), {"ConnectionError": 4}))
    devices.append(Device("cloud-1", "cloud", "cloud-cpu", "2.0", rng.lognormal(np.log(0.070), 0.25, 1000),
                          rng.beta(15, 2, 1000), {}))
    return devices


Collector = CollectorProcess  # a collector subprocess on a free port


def send(devices: list[Device], endpoint: str, spool_root: str) -> None:
    """Record each device's values through its own agent and deliver them."""
    for d in devices:
        agent = inferwatch.Agent()
        agent.configure(service="digits-app", target=d.target, endpoint=endpoint, device_id=d.device_id,
                        hardware=d.hardware, spool_dir=os.path.join(spool_root, d.device_id), interval_s=3600)
        errors = [name for name, n in d.errors.items() for _ in range(n)]
        for k, (latency, confidence) in enumerate(zip(d.latencies_s, d.confidences)):
            error = errors[k] if k < len(errors) else None
            agent.record(MODEL, d.version, duration_s=float(latency),
                         confidence=None if error else float(confidence), error=error)
        assert agent.flush(10)
        agent.shutdown()


@pytest.fixture(scope="session")
def fleet() -> list[Device]:
    return _fleet()


@pytest.fixture(scope="session")
def seeded(fleet, tmp_path_factory):
    """A running collector holding the fleet's data."""
    root = tmp_path_factory.mktemp("queries")
    collector = Collector(str(root / "fleet.duckdb"))
    try:
        send(fleet, collector.url, str(root / "spool"))
        collector.wait_for_calls(sum(d.calls for d in fleet))
        yield collector
    finally:
        collector.stop()
