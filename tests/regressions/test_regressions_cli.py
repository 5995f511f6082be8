"""`inferwatch regressions` end to end: real agents -> real collector -> engine -> exit code."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import inferwatch
from inferwatch.cli import main

from ..queries.conftest import Collector

N = 6000  # calls per side


def _send(
    url: str, spool: str, model: str, version: str, latencies, confidences, error_rate: float, rng
) -> None:
    agent = inferwatch.Agent()
    agent.configure(
        service="canary",
        target="edge",
        endpoint=url,
        device_id=f"{model}-{version}",
        hardware="raspberry-pi-5",
        spool_dir=f"{spool}/{model}-{version}",
        interval_s=3600,
    )
    for latency, confidence in zip(latencies, confidences):
        error = "TimeoutError" if rng.random() < error_rate else None
        agent.record(
            model,
            version,
            duration_s=float(latency),
            confidence=None if error else float(confidence),
            error=error,
        )
    assert agent.flush(10)
    agent.shutdown()


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    """'digits' 2.0 regresses latency, errors and confidence against 1.0; 'stable' 2.0 does not."""
    root = tmp_path_factory.mktemp("canary")
    collector = Collector(str(root / "canary.duckdb"))
    rng = np.random.default_rng(5)
    try:
        for model, regressed in (("digits", True), ("stable", False)):
            _send(
                collector.url,
                str(root / "spool"),
                model,
                "1.0",
                rng.lognormal(np.log(0.02), 0.4, N),
                rng.beta(9, 1.5, N),
                0.01,
                rng,
            )
            factor, errors, beta = (1.3, 0.04, (6, 1.5)) if regressed else (1.0, 0.01, (9, 1.5))
            _send(
                collector.url,
                str(root / "spool"),
                model,
                "2.0",
                rng.lognormal(np.log(0.02 * factor), 0.4, N),
                rng.beta(*beta, N),
                errors,
                rng,
            )
        collector.wait_for_calls(4 * N)
        yield collector
    finally:
        collector.stop()


def invoke(*args: str):
    return CliRunner().invoke(main, ["regressions", *args])


def gate(canary, *extra: str):
    """`inferwatch regressions` for digits 1.0 -> 2.0 against the canary collector."""
    return invoke("--model", "digits", "--baseline-version", "1.0", "--candidate-version", "2.0",
                  "--collector", canary.url, *extra)


def test_a_regressed_version_fails_the_gate_with_evidence(canary):
    result = gate(canary, "--since", "-1h", "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["verdict"] == "FAIL"
    flagged = {f["check"] for f in report["findings"] if f["status"] == "regression"}
    assert {"latency.p50", "latency.p95", "errors.rate", "confidence.mean"} <= flagged
    p95 = next(f for f in report["findings"] if f["check"] == "latency.p95")
    assert p95["cohort"] == {"model": "digits", "target": "edge", "hardware": "raspberry-pi-5"}
    assert p95["n_baseline"] == N and p95["n_candidate"] == N
    assert 1.15 < p95["candidate"] / p95["baseline"] < 1.45
    assert p95["p_adjusted"] < 0.01 and p95["evidence"]


def test_an_unchanged_version_does_not_fail(canary):
    result = invoke("--model", "stable", "--baseline-version", "1.0", "--candidate-version", "2.0",
                    "--since", "-1h", "--collector", canary.url)
    assert result.exit_code in (0, 3), result.output  # PASS, or INCONCLUSIVE where p99 needs more data
    assert "verdict: FAIL" not in result.output


def test_table_output_lists_regressions_first(canary):
    result = gate(canary)
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["cohort", "check", "status"]
    assert "regression" in lines[1]
    assert lines[-1].startswith("verdict: FAIL")


def test_thresholds_can_be_loosened_until_nothing_is_flagged(canary, tmp_path):
    loose = tmp_path / "loose.toml"
    loose.write_text(
        "[latency]\nthreshold = 1.0\n[errors]\nthreshold = 0.2\n"
        "[confidence]\nmean_threshold = 0.5\np05_threshold = 0.5\n"
    )
    result = gate(canary, "--thresholds", str(loose), "--format", "json")
    assert json.loads(result.output)["verdict"] != "FAIL", result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "digits"), "choose one comparison"),
        (("--model", "digits", "--baseline-version", "1.0"), "give both"),
        (("--model", "digits", "--compare-targets", "--device", "x"), "choose one comparison"),
        (
            ("--model", "nope", "--baseline-version", "1", "--candidate-version", "2"),
            "no windows of model 'nope'",
        ),
        (
            (
                "--model",
                "digits",
                "--baseline-version",
                "1.0",
                "--candidate-version",
                "2.0",
                "--threshold",
                "x=1",
            ),
            "unknown key",
        ),
        (
            (
                "--model",
                "digits",
                "--baseline-version",
                "1.0",
                "--candidate-version",
                "2.0",
                "--split-by",
                "colour",
            ),
            "--split-by",
        ),
        (
            (
                "--model",
                "digits",
                "--baseline-version",
                "1.0",
                "--candidate-version",
                "2.0",
                "--since",
                "soon",
            ),
            "must be a timestamp",
        ),
    ],
)
def test_usage_and_data_errors_exit_2(canary, args, message):
    result = invoke(*args, "--collector", canary.url)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_bad_thresholds_file_exits_2(canary, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[latency]\nthreshold = -1\n")
    result = gate(canary, "--thresholds", str(bad))
    assert result.exit_code == 2 and "bad.toml" in result.output


def test_rollout_watch_stores_findings_for_sql_users(tmp_path):
    """A running collector's rollout watch (its own thread) writes regression_findings while ingest goes
    on; the `regressions` named query lists them."""
    import time

    collector = Collector(str(tmp_path / "watch.duckdb"),
                          extra=("--rollout-scan-minutes", "0.02"))
    rng = np.random.default_rng(9)
    try:
        for version, median_s in (("1.0", 0.02), ("1.1", 0.026)):  # 1.1 is 30 % slower
            _send(collector.url, str(tmp_path / "spool"), "digits", version,
                  rng.lognormal(np.log(median_s), 0.4, N), rng.beta(9, 1.5, N), 0.01, rng)
        collector.wait_for_calls(2 * N)
        deadline = time.monotonic() + 60
        while not collector.scalar("SELECT count(*) FROM regression_findings WHERE status = 'regression'"):
            assert time.monotonic() < deadline, "no findings from the rollout watch within 60 s"
            time.sleep(0.5)
    finally:
        collector.stop()
    result = CliRunner().invoke(
        main,
        [
            "query",
            "run",
            "regressions",
            "--db",
            collector.db,
            "--param",
            "status=regression",
            "--format",
            "json",
        ],
    )
    rows = json.loads(result.output)
    assert {r["check"] for r in rows} >= {"latency.p50", "latency.p95"}
    assert all((r["baseline_version"], r["candidate_version"]) == ("1.0", "1.1") for r in rows)
    assert all(r["verdict"] == "FAIL" and r["hardware"] == "raspberry-pi-5" for r in rows)
