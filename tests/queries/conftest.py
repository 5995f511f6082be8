"""A real collector, filled through real agents with known data, for the named-query tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import pytest
import requests

import inferwatch

from ..otlp_receiver import free_port

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


class Collector:
    """A collector subprocess on a free port."""

    def __init__(self, db: str, extra: tuple[str, ...] = ()) -> None:
        self.port = free_port()
        self.db = db
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "inferwatch.cli", "collector", "--db", db,
                                      "--port", str(self.port), *extra],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the collector did not start")

    def scalar(self, sql: str):
        response = requests.post(self.url + "/v1/query", json={"sql": sql}, timeout=30)
        response.raise_for_status()
        return response.json()["rows"][0][0]

    def wait_for_calls(self, expected: int, timeout: float = 30) -> None:
        """Acknowledged points are durable at once but reach DuckDB in batches: wait for them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.scalar("SELECT coalesce(sum(calls), 0) FROM inference_windows") or 0) >= expected:
                return
            time.sleep(0.2)
        raise AssertionError(f"the collector did not store {expected} calls in {timeout} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


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
