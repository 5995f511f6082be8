"""Store and forward: spool while the collector is away, replay when it is back, survive crashes."""

from __future__ import annotations

import gzip
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import inferwatch
from inferwatch.encode import encode_window
from inferwatch.series import Series
from inferwatch.spool import Spool
from inferwatch.window import Window

from .otlp_receiver import OtlpReceiver, free_port

DURATION = "inferwatch.inference.duration"
REPO = Path(__file__).resolve().parents[1]


def _windows(receiver: OtlpReceiver) -> list[tuple[int, int, int]]:
    """(start, end, count) of every duration point received, in arrival order."""
    return [(p.start_time_unix_nano, p.time_unix_nano, p.count) for _, _, p in receiver.points(DURATION)]


def test_windows_are_spooled_while_down_and_replayed_in_order_with_original_timestamps(tmp_path):
    port = free_port()
    receiver = OtlpReceiver(port)  # not started: the collector is down
    agent = inferwatch.Agent()
    try:
        agent.configure(service="s", target="edge", endpoint=receiver.endpoint, spool_dir=tmp_path / "spool")
        for batch in range(4):
            for _ in range(batch + 1):
                agent.record("digits", "1", duration_s=0.01)
            assert agent.flush(2) is False
        stats = agent.stats()
        assert stats["windows_spooled"] == 4 and stats["spool_files"] == 4
        assert stats["export_failures"] >= 1
        assert len(list((tmp_path / "spool").glob("*.iwsp"))) == 4

        receiver.start()  # the collector comes back
        assert agent.flush(10)
        windows = _windows(receiver)
        assert [count for _, _, count in windows] == [1, 2, 3, 4]  # oldest first
        starts = [start for start, _, _ in windows]
        assert starts == sorted(starts)
        assert all(end < time.time_ns() - 0 for _, end, _ in windows)
        assert agent.stats()["spool_files"] == 0
        assert list((tmp_path / "spool").glob("*.iwsp")) == []
    finally:
        agent.shutdown(timeout_s=1)
        receiver.stop()


def test_retry_after_is_honoured(configured, receiver):
    receiver.status, receiver.retry_after = 503, "1"
    agent = configured()
    agent.record("digits", "1", duration_s=0.01)
    assert agent.flush(2) is False
    failed_at = time.monotonic()
    receiver.status = 200
    assert receiver.wait_for(lambda r: len(r.requests) == 1, timeout=10)
    assert time.monotonic() - failed_at >= 0.9  # it waited as the server asked
    assert receiver.count(DURATION) == 1


def test_non_retryable_rejection_is_dropped_and_logged_once(configured, receiver, caplog):
    receiver.status = 400
    agent = configured()
    with caplog.at_level(logging.WARNING, logger="inferwatch"):
        for _ in range(3):
            agent.record("digits", "1", duration_s=0.01)
            agent.flush(2)
    assert receiver.attempts == 3  # each window tried once, none retried
    stats = agent.stats()
    assert stats["windows_rejected"] == 3 and stats["spool_files"] == 0
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 1


def test_spool_survives_a_restart_of_the_process(tmp_path):
    spool_dir = tmp_path / "spool"
    receiver = OtlpReceiver(free_port())
    first = inferwatch.Agent()
    first.configure(service="s", target="edge", endpoint=receiver.endpoint, spool_dir=spool_dir)
    for _ in range(5):
        first.record("digits", "1", duration_s=0.01)
    first.shutdown(timeout_s=1)  # collector down: the window goes to disk
    assert len(list(spool_dir.glob("*.iwsp"))) == 1

    receiver.start()
    second = inferwatch.Agent()
    try:
        second.configure(service="s", target="edge", endpoint=receiver.endpoint, spool_dir=spool_dir)
        assert second.flush(10)
        assert receiver.count(DURATION) == 5
    finally:
        second.shutdown(timeout_s=1)
        receiver.stop()


def test_spool_cap_drops_the_oldest_and_counts_it(tmp_path):
    receiver = OtlpReceiver(free_port())
    agent = inferwatch.Agent()
    try:
        # ~0.6 KB per window (gzip'ed, no confidence): a 1.5 KB cap holds two.
        agent.configure(service="s", target="edge", endpoint=receiver.endpoint, spool_dir=tmp_path / "spool",
                        spool_max_mb=1.5 / 1024)
        for n in range(1, 6):
            for _ in range(n):
                agent.record("digits", "1", duration_s=0.01 * n)
            agent.flush(1)
        stats = agent.stats()
        assert stats["spool_bytes"] <= 1.5 * 1024
        assert stats["spool_dropped"] >= 2
        assert stats["spool_dropped"] == stats["windows_spooled"] - stats["spool_files"]
        receiver.start()
        assert agent.flush(10)
        counts = [count for _, _, count in _windows(receiver)]
        # The newest windows survived, the oldest were dropped (the final flush's own window
        # also had to fit, so the spool may have kept one or two of the five).
        assert counts and counts == list(range(6 - len(counts), 6))
    finally:
        agent.shutdown(timeout_s=1)
        receiver.stop()


def _encoded_window(calls: int) -> bytes:
    """A real encoded window of `calls` calls, gzip'ed as the agent spools it."""
    window = Window(1_000_000_000, 2_000_000_000)
    series = Series("digits", "1")
    series.durations.extend([10_000_000] * calls)
    window.fold(series)
    return gzip.compress(encode_window(window, {"service.name": "s"}, {}, {}))


def test_torn_and_garbage_spool_files_are_skipped_and_counted(tmp_path, receiver):
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir, 10 * 1024 * 1024)
    assert spool.put(_encoded_window(3))
    assert spool.put(_encoded_window(4))
    spool.close()
    whole = (spool_dir / "0000000000000002.iwsp").read_bytes()
    # Damage of every kind a crash or a bad disk leaves behind:
    (spool_dir / "0000000000000002.iwsp").write_bytes(whole[:-7])  # torn payload
    (spool_dir / "0000000000000003.iwsp").write_bytes(b"IWSP1" + b"\x05\x00")  # torn header
    (spool_dir / "0000000000000004.iwsp").write_bytes(os.urandom(300))  # garbage
    (spool_dir / "0000000000000005.tmp").write_bytes(b"half a write")  # rename never happened

    agent = inferwatch.Agent()
    try:
        agent.configure(service="s", target="edge", endpoint=receiver.endpoint, spool_dir=spool_dir)
        assert agent.flush(10)
        assert agent.stats()["spool_corrupt"] == 4
        assert receiver.count(DURATION) == 3  # the intact window, nothing from the damaged ones
    finally:
        agent.shutdown(timeout_s=1)


def test_a_spool_directory_in_use_by_another_process_is_refused(tmp_path):
    holder = Spool(tmp_path / "spool", 1024 * 1024)
    try:
        code = textwrap.dedent(f"""
            import inferwatch
            try:
                inferwatch.configure(service="s", spool_dir={str(tmp_path / 'spool')!r})
            except inferwatch.ConfigurationError as exc:
                print("REFUSED", exc)
        """)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert "REFUSED" in out.stdout and "INFERWATCH_SPOOL_DIR" in out.stdout
    finally:
        holder.close()


CRASHING_APP = """
import sys, inferwatch
inferwatch.configure(service="crash", target="edge", endpoint=sys.argv[1], spool_dir=sys.argv[2],
                     interval_s=0.05)
predict = inferwatch.observe("digits", "1")(lambda x: x)
print("ready", flush=True)
while True:
    predict(1)
"""


def test_kill_9_at_any_moment_never_breaks_the_spool(tmp_path):
    """Kill a producing process at random moments; every restart opens the spool and replays it."""
    spool_dir = tmp_path / "spool"
    receiver = OtlpReceiver(free_port())  # down while the app runs: everything is spooled
    rng = random.Random(7)
    for round_ in range(6):
        proc = subprocess.Popen([sys.executable, "-c", CRASHING_APP, receiver.endpoint, str(spool_dir)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        if round_ == 5:  # the first file comes ~0.3 s after start, later on a loaded host: have one at least
            deadline = time.monotonic() + 30
            while not any(spool_dir.glob("*.iwsp")) and time.monotonic() < deadline:
                time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    spooled = len(list(spool_dir.glob("*.iwsp")))
    assert spooled > 0

    receiver.start()
    agent = inferwatch.Agent()
    try:
        agent.configure(service="crash", target="edge", endpoint=receiver.endpoint, spool_dir=spool_dir)
        assert agent.flush(30)
        stats = agent.stats()
        assert stats["spool_files"] == 0
        delivered = sum(1 for r in receiver.requests for rm in r.resource_metrics)
        assert delivered + stats["spool_corrupt"] >= spooled  # every file either replayed or counted torn
        assert receiver.count(DURATION) > 0
    finally:
        agent.shutdown(timeout_s=1)
        receiver.stop()
