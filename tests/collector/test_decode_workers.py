"""Decode worker processes (--decode-workers): the same answers and stored data as decoding in-process,
no acknowledged point lost when a worker dies, no worker outliving the collector, clear CLI errors."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
import zlib

import psutil
import pytest
import requests
from google.protobuf import json_format
from otlp_payloads import CUMULATIVE, duration_request, gauge_request, window_start

from inferwatch.collector.process import CollectorProcess

CLI = [sys.executable, "-c", "from inferwatch.cli import main; main()"]
PROTOBUF = {"Content-Type": "application/x-protobuf"}
GZIP_PROTOBUF = {**PROTOBUF, "Content-Encoding": "gzip"}
STORED = {
    "inference_points": "SELECT * EXCLUDE (received_at) FROM inference_points "
    "ORDER BY series_id, start_ns, end_ns",
    "metric_points": "SELECT * EXCLUDE (received_at) FROM metric_points ORDER BY series_id, start_ns, end_ns",
    "cumulative_state": "SELECT series_id, start_ns, end_ns FROM cumulative_state ORDER BY series_id",
}


def gateway_request(devices: int, start: int, calls: int = 5, prefix: str = "gw"):
    """Many device-windows in one request, as a gateway forwards them."""
    req = duration_request(device=f"{prefix}-0", start=start, calls=calls)
    for d in range(1, devices):
        window = duration_request(device=f"{prefix}-{d}", start=start, calls=calls)
        req.resource_metrics.append(window.resource_metrics[0])
    return req


def mixed_requests() -> list[tuple[bytes, dict]]:
    """(body, headers) of requests covering every answer: plain, gzip, JSON, duplicates, cumulative,
    partial success, too old, undecodable, too large."""
    start = window_start()
    out = []
    big = gateway_request(60, start).SerializeToString()
    out.append((gzip.compress(big), GZIP_PROTOBUF))
    out.append((gzip.compress(big), GZIP_PROTOBUF))  # the same points again: stored once
    out.append((gateway_request(30, start - 60 * 10**9).SerializeToString(), PROTOBUF))
    out.append((zlib.compress(gateway_request(5, start - 120 * 10**9).SerializeToString()), GZIP_PROTOBUF))
    as_json = json_format.MessageToJson(gateway_request(4, start - 180 * 10**9)).encode()
    out.append((gzip.compress(as_json), {"Content-Type": "application/json", "Content-Encoding": "gzip"}))
    out.append((as_json, {"Content-Type": "application/json"}))
    partial = gateway_request(3, start - 240 * 10**9)
    partial.resource_metrics.append(gauge_request(float("nan")).resource_metrics[0])
    broken = duration_request(device="broken", start=start, calls=4).resource_metrics[0]
    broken.scope_metrics[0].metrics[0].exponential_histogram.data_points[0].count = 99
    partial.resource_metrics.append(broken)
    too_old = duration_request(device="old", start=window_start(60 * 24 * 5))
    partial.resource_metrics.append(too_old.resource_metrics[0])
    out.append((gzip.compress(partial.SerializeToString()), GZIP_PROTOBUF))
    for n, calls in ((1, 10), (2, 25), (3, 40)):  # an SDK's cumulative points: turned into deltas
        cumulative = duration_request(device="sdk", start=start - 600 * 10**9, calls=calls)
        point = cumulative.resource_metrics[0].scope_metrics[0].metrics[0].exponential_histogram
        point.aggregation_temporality = CUMULATIVE
        point.data_points[0].time_unix_nano = start + n * 60 * 10**9
        out.append((gzip.compress(cumulative.SerializeToString()), GZIP_PROTOBUF))
    out.append((b"\x0a\xff\xff garbage", PROTOBUF))
    out.append((b"\x1f\x8b\x08\x00garbage", GZIP_PROTOBUF))
    out.append((gzip.compress(b"\x00" * (3 * 1024 * 1024)), GZIP_PROTOBUF))  # past --max-request-mb 2
    return out


def run(tmp_path, name: str, workers: int, sends: list[tuple[bytes, dict]]) -> tuple[list, dict]:
    """Answers (status, body) and stored rows of `sends` posted in order to a collector process."""
    extra = ("--decode-workers", str(workers), "--decode-min-kb", "0", "--max-request-mb", "2")
    c = CollectorProcess(str(tmp_path / f"{name}.duckdb"), extra=extra)
    try:
        session = requests.Session()
        answers = []
        for body, headers in sends:
            r = session.post(c.url + "/v1/metrics", data=body, headers=headers, timeout=30)
            answers.append((r.status_code, r.content))
        health = session.get(c.url + "/healthz", timeout=10).json()
        deadline = time.monotonic() + 30
        while health["queue_points"] and time.monotonic() < deadline:
            time.sleep(0.1)
            health = session.get(c.url + "/healthz", timeout=10).json()
        stored = {table: c.rows(sql) for table, sql in STORED.items()}
        assert health["requests_decoded_in_workers"] == (len(sends) if workers else 0)
    finally:
        c.stop()
    return answers, stored


def test_workers_on_or_off_give_the_same_answers_and_stored_data(tmp_path):
    sends = mixed_requests()
    answers_off, stored_off = run(tmp_path, "off", 0, sends)
    answers_on, stored_on = run(tmp_path, "on", 2, sends)
    assert [a[0] for a in answers_off] == [200] * 10 + [400, 400, 413]
    assert answers_on == answers_off  # partial_success counts and messages included
    assert stored_on == stored_off
    assert len(stored_on["inference_points"]) == 60 + 30 + 5 + 4 + 3 + 3
    assert len(stored_on["cumulative_state"]) == 1


def worker_pids(collector_pid: int) -> list[int]:
    """Decode workers among the collector's children (not multiprocessing's resource tracker)."""
    return [
        p.pid
        for p in psutil.Process(collector_pid).children()
        if "resource_tracker" not in " ".join(p.cmdline())
    ]


def test_killed_worker_loses_no_acknowledged_point(tmp_path):
    extra = ("--decode-workers", "2", "--decode-min-kb", "0")
    c = CollectorProcess(str(tmp_path / "kill.duckdb"), extra=extra)
    start = window_start()
    acked = []
    retried = [0]
    lock = threading.Lock()

    def client(k: int) -> None:
        session = requests.Session()
        for i in range(40):
            body = gzip.compress(gateway_request(10, start, calls=1, prefix=f"c{k}-{i}").SerializeToString())
            while True:
                r = session.post(c.url + "/v1/metrics", data=body, headers=GZIP_PROTOBUF, timeout=30)
                if r.status_code == 200:
                    with lock:
                        acked.append((k, i))
                    break
                assert r.status_code == 503, r.text
                with lock:
                    retried[0] += 1
                time.sleep(0.05)

    try:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        killed = 0
        while any(t.is_alive() for t in threads) and killed < 3:
            pids = worker_pids(c.proc.pid)
            if pids:
                os.kill(pids[0], signal.SIGKILL)
                killed += 1
            time.sleep(0.3)
        for t in threads:
            t.join(timeout=120)
            assert not t.is_alive(), "a request hung"
        assert len(acked) == 160
        health = requests.get(c.url + "/healthz", timeout=10).json()
        assert health["decode_worker_restarts"] >= 1
        c.wait_for_calls(160 * 10)
        assert c.scalar("SELECT count(*) FROM inference_points") == 160 * 10
    finally:
        c.stop()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_workers_do_not_outlive_the_collector(tmp_path, how):
    c = CollectorProcess(str(tmp_path / "x.duckdb"), extra=("--decode-workers", "2"))
    children = psutil.Process(c.proc.pid).children(recursive=True)
    assert len(worker_pids(c.proc.pid)) == 2
    c.proc.send_signal(how)
    c.proc.wait(timeout=30)
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--decode-workers", "-1"], {}),
        (["--decode-workers", "two"], {}),
        ([], {"INFERWATCH_DECODE_WORKERS": "x"}),
    ],
)
def test_bad_decode_workers_values_are_usage_errors(tmp_path, args, env):
    r = subprocess.run(
        [*CLI, "collector", "--db", str(tmp_path / "x.duckdb"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert r.returncode == 2
    assert "--decode-workers" in r.stderr and "0 (decode in the collector's process) to 64" in r.stderr
    assert not (tmp_path / "x.duckdb").exists()


def test_healthz_reports_the_decode_workers(tmp_path):
    c = CollectorProcess(str(tmp_path / "h.duckdb"), extra=("--decode-workers", "1"))
    try:
        health = json.loads(requests.get(c.url + "/healthz", timeout=10).content)
        assert health["decode_workers"] == 1 and health["decode_worker_restarts"] == 0
    finally:
        c.stop()


@pytest.mark.skipif(not hasattr(__import__("fcntl"), "F_GETPIPE_SZ"), reason="Linux pipes only")
def test_pool_pipes_hold_a_gateway_answer_in_one_write():
    import fcntl

    from inferwatch.collector.decode_pool import DecodePool

    with open("/proc/sys/fs/pipe-max-size") as f:
        want = min(1 << 20, int(f.read()))
    pool = DecodePool(1)
    try:
        for queue in (pool._executor._result_queue, pool._executor._call_queue):
            assert fcntl.fcntl(queue._reader.fileno(), fcntl.F_GETPIPE_SZ) == want
    finally:
        pool.close()


def test_workers_decode_at_a_lower_cpu_priority_than_the_collector():
    from inferwatch.collector.decode_pool import WORKER_NICE, DecodePool, _ready

    pool = DecodePool(1).start()
    try:
        pid = pool._executor.submit(_ready).result(timeout=60)
        assert psutil.Process(pid).nice() == min(19, os.nice(0) + WORKER_NICE)
    finally:
        pool.close()
