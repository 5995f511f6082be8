"""`inferwatch query` and `inferwatch export`: outputs, exit codes and one-line errors with the fix."""

from __future__ import annotations

import json

import duckdb
import pytest
from click.testing import CliRunner

from inferwatch.cli import main

from .conftest import Collector, send


@pytest.fixture(scope="module")
def cli():
    def invoke(*args: str, input: str | None = None):
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return invoke


def test_query_list_shows_names_and_params(cli):
    result = cli("query", "list")
    assert result.exit_code == 0
    assert "edge_vs_cloud" in result.output and "--param since=<timestamp>" in result.output
    listed = json.loads(cli("query", "list", "--format", "json").output)
    assert {"name", "title", "description", "params"} <= set(listed[0])


def test_query_run_in_every_format(cli, seeded, fleet):
    total = sum(d.calls for d in fleet)
    rows = json.loads(cli("query", "run", "fleet_overview", "--collector", seeded.url, "-p", "since=-1h",
                          "--format", "json").output)
    assert sum(r["calls"] for r in rows) == total
    csv = cli("query", "run", "fleet_overview", "--collector", seeded.url, "--format", "csv").output
    assert csv.splitlines()[0].startswith("target,model,devices,calls")
    table = cli("query", "run", "per_hardware", "--collector", seeded.url).output
    assert "raspberry-pi-4" in table and "latency_ms_p95" in table


def test_collector_url_from_the_environment(cli, seeded, monkeypatch):
    monkeypatch.setenv("INFERWATCH_COLLECTOR", seeded.url)
    result = cli("query", "sql", "SELECT count(DISTINCT device_id) AS n FROM inference_windows", "--format",
                 "json")
    assert result.exit_code == 0 and json.loads(result.output) == [{"n": 6}]


def test_query_sql_reads_standard_input(cli, seeded):
    result = cli("query", "sql", "-", "--collector", seeded.url, "--format", "csv",
                 input="SELECT hist_quantile(list(latency_hist), 0.5) > 0 AS ok FROM inference_windows")
    assert result.output.split() == ["ok", "True"]


@pytest.mark.parametrize(("args", "message"), [
    (("query", "run", "nope"), "no named query 'nope'"),
    (("query", "run", "fleet_overview", "-p", "since=yesterday"), "must be a timestamp"),
    (("query", "run", "fleet_overview", "-p", "colour=red"), "has no parameter 'colour'"),
    (("query", "run", "fleet_overview", "-p", "since"), "--param takes key=value"),
    (("query", "sql", "SELEC 1"), "Parser Error"),
    (("query", "sql", "SELECT * FROM no_such_table"), "no_such_table"),
    (("query", "sql", "DROP VIEW inference_windows"), ""),
    (("query", "sql", "SELECT * FROM read_csv('/etc/passwd')"), ""),
    (("query", "cost", "--pricing", "/dev/null/none.toml"), "does not exist"),
])
def test_bad_input_is_a_one_line_error_with_exit_code_2(cli, seeded, args, message):
    result = CliRunner().invoke(main, [*args, "--collector", seeded.url])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert seeded.scalar("SELECT count(*) FROM inference_windows") > 0  # nothing was harmed


def test_a_collector_that_is_down_says_how_to_start_one(cli):
    result = CliRunner().invoke(main, ["query", "run", "devices", "--collector", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "no collector answers at http://127.0.0.1:9" in result.output
    assert "inferwatch collector --db" in result.output


def test_a_database_held_by_a_collector_suggests_the_collector(cli, seeded):
    result = CliRunner().invoke(main, ["query", "run", "devices", "--db", seeded.db])
    assert result.exit_code == 2
    assert "locked by a running collector" in result.output and "--collector" in result.output


def test_missing_database_file_and_conflicting_sources(cli, tmp_path, seeded):
    result = CliRunner().invoke(main, ["query", "list"])
    assert result.exit_code == 0
    result = CliRunner().invoke(main, ["query", "run", "devices", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2 and "no database file" in result.output
    result = CliRunner().invoke(main, ["query", "run", "devices", "--db", seeded.db,
                                       "--collector", seeded.url])
    assert result.exit_code == 2 and "not both" in result.output


def test_cost_uses_measured_traffic_and_the_pricing_file(cli, seeded, tmp_path):
    prices = tmp_path / "prices.toml"
    prices.write_text("[cloud]\ninstance_hour_usd = 1.0\n[edge]\nhardware_usd = 0\npower_watts = 0\n")
    rows = json.loads(cli("query", "cost", "--collector", seeded.url, "--pricing", str(prices),
                          "--format", "json").output)
    by_target = {r["target"]: r for r in rows}
    assert by_target["edge"]["cost_per_month_usd"] == 0
    assert by_target["cloud"]["cost_per_1k_usd"] > 0


def test_export_parquet_reads_back_with_the_same_totals(cli, seeded, fleet, tmp_path):
    out = tmp_path / "export"
    result = cli("export", "--parquet", str(out), "--collector", seeded.url, "--since", "-1d")
    assert result.exit_code == 0, result.output
    assert list(out.glob("date=*/part-0.parquet"))
    con = duckdb.connect()
    calls, devices = con.execute(
        f"SELECT sum(calls), count(DISTINCT device_id) FROM read_parquet('{out}/**/*.parquet', "
        "hive_partitioning = true)").fetchone()
    assert calls == sum(d.calls for d in fleet) and devices == len(fleet)
    # The histogram columns travel too: a merged p50 can be taken from the Parquet copy.
    counts = con.execute(f"SELECT sum(latency_hist.count) FROM '{out}/**/*.parquet'").fetchone()[0]
    assert counts == calls


def test_db_file_is_readable_once_its_collector_stopped(cli, fleet, tmp_path):
    collector = Collector(str(tmp_path / "small.duckdb"))
    try:
        send(fleet[:1], collector.url, str(tmp_path / "spool"))
        collector.wait_for_calls(fleet[0].calls)
    finally:
        collector.stop()  # a clean stop leaves every acknowledged point in the file
    rows = json.loads(cli("query", "run", "fleet_overview", "--db", collector.db, "--format", "json").output)
    assert rows[0]["calls"] == fleet[0].calls
    out = tmp_path / "export"
    assert cli("export", "--parquet", str(out), "--db", collector.db).exit_code == 0
    exported = duckdb.connect().execute(f"SELECT sum(calls) FROM '{out}/**/*.parquet'").fetchone()[0]
    assert exported == fleet[0].calls
