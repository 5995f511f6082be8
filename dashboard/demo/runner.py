"""Orchestrates the demo: collector, dashboard, edge fleet, cloud service, outages and a rollout."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from inferwatch.collector.process import CollectorProcess, free_port

from .device import HARDWARE_SLOWDOWN
from .models import train_models
from .netem import Relay

__all__ = ["DemoOptions", "run_demo"]

log: Callable[[str], None] = print


@dataclass
class DemoOptions:
    """What `inferwatch demo` was asked for."""

    directory: Path = Path("inferwatch-demo")
    devices: int = 6
    duration_s: float | None = None  # None: until Ctrl-C
    rollout_after_s: float | None = None  # default: half the duration, or 120 s
    collector_port: int = 4318
    dashboard_port: int = 8501
    dashboard: bool = True
    open_browser: bool = True
    interval_s: float = 10.0
    rate: float = 8.0  # requests per second per edge device
    cloud_rate: float = 12.0  # requests per second to the cloud service
    seed: int = 7
    procs: list = field(default_factory=list)


def _wait_http(url: str, timeout_s: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url} did not come up: the process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


def _cloud_clients(port: int, rate: float, stop: threading.Event, images) -> None:
    rng = random.Random(3)
    while not stop.is_set():
        pixels = images[rng.randrange(len(images))].tolist()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/predict",
                                         data=json.dumps({"pixels": pixels}).encode(),
                                         headers={"Content-Type": "application/json"})
        threading.Thread(target=_call, args=(request,), daemon=True).start()
        stop.wait(rng.expovariate(rate))


def _call(request) -> None:
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except OSError:
        pass


def run_demo(opts: DemoOptions) -> int:
    """Run the whole demo until the duration ends or Ctrl-C; returns an exit code."""
    directory = opts.directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "STREAMLIT_SERVER_HEADLESS": "true"}
    py = sys.executable
    rollout_after = opts.rollout_after_s if opts.rollout_after_s is not None else \
        (opts.duration_s / 2 if opts.duration_s else 120.0)
    rng = random.Random(opts.seed)
    procs: list[subprocess.Popen] = []  # the dashboard
    collector: CollectorProcess | None = None
    fleet: list[subprocess.Popen] = []  # devices and the cloud service: stopped first
    stop = threading.Event()
    relays: dict[str, Relay] = {}

    def spawn(args: list[str], name: str, group: list[subprocess.Popen] = procs) -> subprocess.Popen:
        logfile = open(directory / f"{name}.log", "w")  # closed when the process ends
        proc = subprocess.Popen(args, stdout=logfile, stderr=subprocess.STDOUT, env=env)
        group.append(proc)
        return proc

    try:
        log(f"training the demo models into {directory} ...")
        models = train_models(directory)
        from .models import load_models

        images = load_models(models)["x"]
        db = directory / "inferwatch.duckdb"
        collector = CollectorProcess(str(db), port=opts.collector_port,
                                     log=open(directory / "collector.log", "w"))
        log(f"collector on {collector.url} storing {db}")

        if opts.dashboard:
            dash = spawn([py, "-m", "inferwatch.cli", "dashboard", "--collector",
                          f"http://127.0.0.1:{opts.collector_port}", "--port", str(opts.dashboard_port)],
                         "dashboard")
            url = f"http://127.0.0.1:{opts.dashboard_port}"
            try:
                _wait_http(f"{url}/_stcore/health", 90, dash)
                log(f"dashboard on {url}")
                if opts.open_browser:
                    import webbrowser

                    webbrowser.open(url)
            except RuntimeError as exc:
                log(f"dashboard did not start ({exc}); see {directory / 'dashboard.log'}")

        started = time.time()
        rollout_at = started + rollout_after
        kinds = sorted(HARDWARE_SLOWDOWN)
        canaries = set(rng.sample(range(opts.devices), max(1, opts.devices // 3)))
        for i in range(opts.devices):
            device_id = f"edge-{i + 1:02d}"
            relay = relays[device_id] = Relay(opts.collector_port)
            spawn([py, "-m", "inferwatch.dashboard.demo.device", "--device-id", device_id,
                   "--hardware", kinds[i % len(kinds)], "--endpoint", f"http://127.0.0.1:{relay.port}",
                   "--spool-dir", str(directory / "spool" / device_id), "--models", str(models),
                   "--rate", str(opts.rate), "--interval", str(opts.interval_s),
                   "--rollout-at", str(rollout_at if i in canaries else 0)], device_id, fleet)
        cloud_port = free_port()
        cloud = spawn([py, "-m", "inferwatch.dashboard.demo.cloud", "--port", str(cloud_port),
                       "--endpoint", f"http://127.0.0.1:{opts.collector_port}",
                       "--spool-dir", str(directory / "spool" / "cloud-1"), "--models", str(models),
                       "--rollout-at", str(rollout_at), "--interval", str(opts.interval_s)], "cloud", fleet)
        _wait_http(f"http://127.0.0.1:{cloud_port}/health", 60, cloud)
        threading.Thread(target=_cloud_clients, args=(cloud_port, opts.cloud_rate, stop, images),
                         daemon=True).start()
        log(f"{opts.devices} edge devices ({', '.join(kinds)}) and a cloud service "
            f"(emulated WAN) are running; version 2.0.0 rolls out to "
            f"{len(canaries)} devices and half the cloud traffic in {rollout_after:.0f} s")
        log("press Ctrl-C to stop" if opts.duration_s is None else f"running for {opts.duration_s:.0f} s")
        _supervise(opts, started, relays, rng, collector)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop.set()
        log("stopping: bringing every device back online so spools replay ...")
        for relay in relays.values():
            relay.online()
        _stop(fleet)  # devices and cloud deliver their last windows while the collector still runs
        _stop(procs)
        if collector is not None:
            _summary(collector)
            collector.stop()
        for relay in relays.values():
            relay.offline()
        log(f"stopped; the data stays in {directory / 'inferwatch.duckdb'}")


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _summary(collector: CollectorProcess) -> None:
    """Print edge vs cloud per version from the collector, as the dashboard shows it."""
    try:
        time.sleep(1.0)  # the collector loads acknowledged windows into DuckDB in batches
        rows = collector.rows("SELECT target, model_version, sum(calls)::BIGINT, "
                            "round(hist_quantile(list(latency_hist), 0.95), 2), "
                            "round(hist_mean(list(confidence_hist)), 3) "
                            "FROM inference_windows GROUP BY ALL ORDER BY ALL")
    except (OSError, KeyError, ValueError, IndexError):
        return
    log("target  version  calls   p95 ms  confidence")
    for target, version, calls, p95, confidence in rows:
        log(f"{target:<7} {version:<8} {calls:>6} {p95:>8} {confidence:>11}")


def _supervise(opts: DemoOptions, started: float, relays: dict[str, Relay], rng: random.Random,
               collector: CollectorProcess) -> None:
    """Take devices offline and back at random, print progress, end at the duration."""
    back_at: dict[str, float] = {}
    next_report = time.time() + opts.interval_s
    while opts.duration_s is None or time.time() - started < opts.duration_s:
        now = time.time()
        for device_id, relay in relays.items():
            if relay.is_online and rng.random() < 0.01:  # ~1% per second: an outage now and then
                relay.offline()
                back_at[device_id] = now + rng.uniform(8, 25)
                log(f"{device_id} lost its uplink (spooling)")
            elif not relay.is_online and now >= back_at.get(device_id, 0):
                relay.online()
                log(f"{device_id} is back online (replaying its spool)")
        if now >= next_report:
            next_report = now + opts.interval_s
            try:
                rows = collector.rows("SELECT target, model_version, sum(calls)::BIGINT "
                                                    "FROM inference_windows GROUP BY ALL ORDER BY ALL")
                log("stored calls: " + ", ".join(f"{t} v{v} {n}" for t, v, n in rows))
            except (OSError, KeyError, ValueError):
                pass
        time.sleep(1.0)
