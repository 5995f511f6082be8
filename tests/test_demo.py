"""The one-command demo, headless: a real fleet for a minute, then what it left in DuckDB."""

from __future__ import annotations

import subprocess
import sys

import duckdb

from inferwatch.collector.process import free_port as _free_port


def test_demo_fills_the_database_with_edge_and_cloud_for_both_versions(tmp_path):
    directory = tmp_path / "demo"
    out = subprocess.run(
        [sys.executable, "-m", "inferwatch.cli", "demo", "--dir", str(directory), "--devices", "4",
         "--duration", "60", "--rollout-after", "20", "--interval", "5", "--no-browser",
         "--port", str(_free_port()), "--dashboard-port", str(_free_port())],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "stopped; the data stays in" in out.stdout
    assert "dashboard on http://127.0.0.1:" in out.stdout  # the dashboard came up beside the fleet
    con = duckdb.connect(str(directory / "inferwatch.duckdb"), read_only=True)
    rows = con.execute("SELECT target, model_version, count(DISTINCT device_id), sum(calls) "
                       "FROM inference_windows GROUP BY ALL ORDER BY ALL").fetchall()
    seen = {(target, version) for target, version, _, calls in rows if calls > 0}
    assert seen == {("cloud", "1.0.0"), ("cloud", "2.0.0"), ("edge", "1.0.0"), ("edge", "2.0.0")}
    edge_devices = con.execute("SELECT count(DISTINCT device_id) FROM inference_windows "
                               "WHERE target = 'edge'").fetchone()[0]
    assert edge_devices == 4
    hardware = {h for (h,) in con.execute("SELECT DISTINCT hardware FROM inference_windows").fetchall()}
    assert {"raspberry-pi-4", "raspberry-pi-5", "cloud-cpu"} <= hardware
    # Version 2 is a regression by construction: slower and less confident on the edge.
    confidence = dict(con.execute("SELECT model_version, hist_mean(list(confidence_hist)) "
                                  "FROM inference_windows WHERE target = 'edge' GROUP BY ALL").fetchall())
    assert confidence["2.0.0"] < confidence["1.0.0"] - 0.1
