"""A collector in a child process on loopback: what the demo, tests and benchmarks start."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import IO, Any

__all__ = ["CollectorProcess", "free_port"]


def free_port() -> int:
    """A TCP port nothing listens on right now (127.0.0.1)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CollectorProcess:
    """`inferwatch collector --db DB --port PORT` started, waited for and stopped with SIGTERM."""

    def __init__(self, db: str, port: int | None = None, extra: tuple[str, ...] = (),
                 log: IO[str] | None = None, timeout_s: float = 60.0) -> None:
        self.db = str(db)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "inferwatch.cli", "collector", "--db", self.db, "--port", str(self.port),
             *extra],
            stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT if log else subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the collector exited with {self.proc.returncode} — is port {self.port} "
                                   f"or {self.db} in use by another collector?")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the collector did not answer on {self.url} within {timeout_s:.0f} s")

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[list]:
        """Rows of a read-only query through `/v1/query`."""
        request = urllib.request.Request(self.url + "/v1/query",
                                         data=json.dumps({"sql": sql, "params": params or {}}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["rows"]

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """The first value of the first row."""
        return self.rows(sql, params)[0][0]

    def wait_for_calls(self, expected: int, timeout_s: float = 30.0) -> None:
        """Acknowledged points are durable at once but reach DuckDB in batches: wait for them."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (self.scalar("SELECT coalesce(sum(calls), 0) FROM inference_windows") or 0) >= expected:
                return
            time.sleep(0.2)
        raise TimeoutError(f"the collector did not store {expected} calls within {timeout_s:.0f} s")

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM (everything acknowledged stays on disk), then wait; kill if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
