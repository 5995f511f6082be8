"""A real collector subprocess and a small fleet of real agents that send it OTLP (test data)."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

import inferwatch

__all__ = ["DEVICES", "Collector", "Device", "free_port", "seed_fleet", "start_collector", "wait_http"]


@dataclass(frozen=True)
class Device:
    """One emulated device: where it runs, on what, and which versions it serves."""

    device_id: str
    target: str
    hardware: str
    versions: tuple[str, ...]
    base_ms: float


DEVICES = (
    Device("pi4-01", "edge", "raspberry-pi-4", ("1.0.0",), 38.0),
    Device("pi5-01", "edge", "raspberry-pi-5", ("1.0.0", "2.0.0"), 19.0),
    Device("pi5-02", "edge", "raspberry-pi-5", ("1.0.0", "2.0.0"), 19.0),
    Device("orin-01", "edge", "jetson-orin-nano", ("2.0.0",), 12.0),
    Device("cloud-a", "cloud", "nvidia-t4", ("1.0.0", "2.0.0"), 9.0),
    Device("cloud-b", "cloud", "nvidia-t4", ("1.0.0", "2.0.0"), 9.0),
)
SERVICE = "digits-app"
MODEL = "digits"
CALLS_PER_VERSION = 1500
CLOUD_WAN_MS = 25.0  # the cloud path pays a network round trip


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout_s: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    """Poll a URL until it answers 200; fail early if the process behind it died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


@dataclass
class Collector:
    """A collector subprocess on a free port."""

    proc: subprocess.Popen
    url: str
    db: Path

    def query(self, sql: str) -> list[list]:
        """Rows of a SQL query through /v1/query."""
        response = requests.post(f"{self.url}/v1/query", json={"sql": sql}, timeout=30)
        response.raise_for_status()
        return response.json()["rows"]

    def stop(self) -> None:
        """Terminate it and wait."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_collector(directory: Path) -> Collector:
    """`inferwatch collector` on a new DuckDB file in `directory`, answering /healthz."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    db = directory / "inferwatch.duckdb"
    log = open(directory / "collector.log", "wb")  # the process owns it
    proc = subprocess.Popen([sys.executable, "-m", "inferwatch.cli", "collector", "--db", str(db),
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/healthz", proc=proc)
    return Collector(proc, url, db)


def _record_version(agent: inferwatch.Agent, device: Device, version: str, rng: random.Random) -> int:
    slower = 1.35 if version == "2.0.0" else 1.0  # version 2 regresses latency ...
    wan = CLOUD_WAN_MS if device.target == "cloud" else 0.0
    error_rate = 0.04 if version == "2.0.0" else 0.01  # ... errors ...
    errors = 0
    for _ in range(CALLS_PER_VERSION):
        duration_ms = device.base_ms * slower * rng.lognormvariate(0.0, 0.25) + wan * rng.uniform(0.8, 1.4)
        confidence = min(1.0, max(0.0, rng.betavariate(18, 2) - (0.06 if version == "2.0.0" else 0.0)))
        error = None
        if rng.random() < error_rate:
            error = TimeoutError if rng.random() < 0.5 else "ValueError"
            errors += 1
        agent.record(MODEL, version, duration_s=duration_ms / 1000, confidence=confidence, error=error)
    return errors


def seed_fleet(collector_url: str, spool_root: Path, *, windows: int = 2, seed: int = 7) -> int:
    """Send every device's calls through a real agent in `windows` windows; return the calls sent."""
    rng = random.Random(seed)
    agents = []
    for device in DEVICES:
        agent = inferwatch.Agent()
        agent.configure(service=SERVICE, target=device.target, endpoint=collector_url, interval_s=60.0,
                        device_id=device.device_id, hardware=device.hardware,
                        spool_dir=spool_root / device.device_id)
        agents.append((agent, device))
    total = 0
    for _ in range(windows):
        for agent, device in agents:
            for version in device.versions:
                _record_version(agent, device, version, rng)
                total += CALLS_PER_VERSION
        for agent, _device in agents:
            if not agent.flush(15.0):
                raise RuntimeError("an agent could not deliver its window to the collector")
    for agent, _device in agents:
        agent.shutdown()
    return total


def wait_for_calls(collector: Collector, calls: int, timeout_s: float = 30.0) -> None:
    """Wait until the collector's store holds `calls` calls (ingest is acknowledged before loading)."""
    deadline = time.monotonic() + timeout_s
    stored = 0
    while time.monotonic() < deadline:
        stored = collector.query("SELECT coalesce(sum(calls), 0) FROM inference_points")[0][0]
        if stored >= calls:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the collector holds {stored} of {calls} calls after {timeout_s} s")


if __name__ == "__main__":  # a collector with data, for working on the dashboard by hand
    import tempfile

    root = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="iw-dash-"))
    running = start_collector(root)
    sent = seed_fleet(running.url, root / "spool")
    wait_for_calls(running, sent)
    print(f"collector {running.url} with {sent} calls in {running.db}; Ctrl-C stops it", flush=True)
    try:
        running.proc.wait()
    except KeyboardInterrupt:
        running.stop()
