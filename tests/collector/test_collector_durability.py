"""Durability: kill -9 loses nothing acknowledged; WAL replay; clean restart; rollups and retention."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests
from conftest import free_port
from otlp_payloads import MINUTE, duration_request, window_start

from inferwatch.collector.wal import WriteAheadLog

CLI = [sys.executable, "-c", "from inferwatch.cli import main; main()"]


def start_process(db: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [*CLI, "collector", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("collector did not start: " + proc.stderr.read().decode())


def test_sigkill_mid_stream_loses_no_acknowledged_point(tmp_path):
    db, port = tmp_path / "kill.duckdb", free_port()
    proc = start_process(db, port)
    acked: list[str] = []
    stop = threading.Event()
    start = window_start()

    def stream(worker: int) -> None:
        session = requests.Session()
        i = 0
        while not stop.is_set():
            device = f"w{worker}-{i}"
            body = duration_request(device=device, calls=1, start=start).SerializeToString()
            headers = {"Content-Type": "application/x-protobuf"}
            if worker % 2:  # logged as received (gzip) by these workers, decompressed by the others
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            try:
                r = session.post(
                    f"http://127.0.0.1:{port}/v1/metrics", data=body, headers=headers, timeout=5
                )
            except requests.RequestException:
                return
            if r.status_code == 200:
                acked.append(device)
            i += 1

    threads = [threading.Thread(target=stream, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 20
    proc = start_process(db, port)
    try:
        r = requests.post(
            f"http://127.0.0.1:{port}/v1/query",
            timeout=30,
            json={"sql": "SELECT device_id FROM inference_points"},
        )
        stored = {row[0] for row in r.json()["rows"]}
        missing = set(acked) - stored
        assert not missing, f"{len(missing)} acknowledged points lost"
        calls = requests.post(
            f"http://127.0.0.1:{port}/v1/query",
            timeout=30,
            json={"sql": "SELECT sum(calls) = count(DISTINCT device_id) FROM inference_points"},
        ).json()["rows"]
        assert calls == [[True]]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_wal_replays_gzip_records_and_uncompressed_ones_of_older_segments(tmp_path):
    requests_ = [duration_request(device=f"d{i}", calls=i + 1).SerializeToString() for i in range(4)]
    older = WriteAheadLog(tmp_path / "wal").start()  # a segment as written before compressed records
    for body in requests_[:2]:
        older.append(body, None, lambda seq, item: None)
    older.close()
    newer = WriteAheadLog(tmp_path / "wal")
    assert [body for _, body in newer.replay(0)] == requests_[:2]
    newer.start()
    for body in requests_[2:]:
        newer.append(gzip.compress(body), None, lambda seq, item: None)
    newer.close()
    replayed = list(WriteAheadLog(tmp_path / "wal").replay(0))
    assert [seq for seq, _ in replayed] == [1, 2, 3, 4]
    assert [body for _, body in replayed] == requests_
    assert list(WriteAheadLog(tmp_path / "wal").replay(3)) == [(4, requests_[3])]


def test_sigterm_stops_cleanly_with_everything_stored(tmp_path):
    db, port = tmp_path / "term.duckdb", free_port()
    proc = start_process(db, port)
    for i in range(20):
        body = duration_request(device=f"d{i}", calls=2).SerializeToString()
        assert (
            requests.post(
                f"http://127.0.0.1:{port}/v1/metrics",
                data=body,
                timeout=5,
                headers={"Content-Type": "application/x-protobuf"},
            ).status_code
            == 200
        )
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    import duckdb

    con = duckdb.connect(str(db), read_only=True)  # plain duckdb on the file, macros included
    assert con.execute(
        "SELECT sum(calls), hist_count(list(latency_hist)) FROM inference_windows"
    ).fetchone() == (40, 40)
    con.close()


def test_hourly_rollups_match_raw_windows(make_collector):
    c = make_collector()
    base = window_start(minutes_ago=180)
    base -= base % (60 * MINUTE)
    for minute in range(0, 120, 7):
        for device in ("a", "b"):
            counts = [1 + minute % 5, 2, 3]
            body = duration_request(
                device=device, start=base + minute * MINUTE, counts=counts, offset=-90 + minute % 3
            ).SerializeToString()
            assert c.post_metrics(body).status_code == 200
    c.collector.flush()
    c.collector.writer.request_maintenance()
    deadline = time.monotonic() + 30
    while c.collector.stats()["rollup_runs"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    raw = c.rows("SELECT sum(calls), hist_quantile(list(latency_hist), 0.9) FROM inference_windows")
    hourly = c.rows("SELECT sum(calls), hist_quantile(list(latency_hist), 0.9) FROM inference_windows_1h")
    assert raw == hourly
    assert c.scalar("SELECT count(*) FROM inference_windows_1h") == 4  # 2 hours x 2 devices
