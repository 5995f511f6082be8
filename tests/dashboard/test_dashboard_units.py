"""The dashboard's pure parts: the SLO verdict, number formats, chart axes and the CLI."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from inferwatch.cli import main
from inferwatch.dashboard import charts
from inferwatch.dashboard.cli import streamlit_command
from inferwatch.dashboard.format import fmt_age, fmt_bytes, fmt_pct, fmt_usd
from inferwatch.dashboard.verdict import slo_verdict


def latency(edge: float, cloud: float) -> pd.DataFrame:
    return pd.DataFrame({"target": ["edge", "cloud"], "latency_ms_p95": [edge, cloud]})


COSTS = pd.DataFrame({"target": ["edge", "cloud"], "cost_per_1k_usd": [0.01, 0.04]})


def test_verdict_recommends_the_cheaper_side_when_both_meet_the_slo():
    v = slo_verdict(latency(30, 40), COSTS, "latency_ms_p95", 50)
    assert (v.level, v.choice) == ("success", "edge")
    assert "Both sides meet p95 ≤ 50 ms" in v.text and "4.0× less than cloud" in v.text


def test_verdict_names_the_only_side_that_meets_the_slo_even_if_it_costs_more():
    v = slo_verdict(latency(80, 40), COSTS, "latency_ms_p95", 50)
    assert (v.level, v.choice) == ("success", "cloud")
    assert v.text.startswith("Only cloud (40 ms, $0.0400 per 1k) meets p95 ≤ 50 ms")
    assert "edge (80 ms, $0.0100 per 1k) misses it" in v.text


def test_verdict_says_how_far_the_closest_side_is_when_neither_meets_it():
    v = slo_verdict(latency(100, 80), COSTS, "latency_ms_p95", 60)
    assert (v.level, v.choice) == ("error", None)
    assert "Closest: cloud, which needs 25% less latency" in v.text


def test_verdict_with_one_side_or_no_data_is_a_warning():
    one = slo_verdict(latency(30, 40).iloc[:1], COSTS, "latency_ms_p95", 50)
    assert one.level == "warning" and "Only edge" in one.text
    none = slo_verdict(latency(30, 40).iloc[:0], COSTS, "latency_ms_p95", 50)
    assert none.level == "warning" and none.choice is None


@pytest.mark.parametrize(("fn", "value", "text"), [
    (fmt_pct, 0.0123, "1.23 %"), (fmt_bytes, 1_534_000, "1.5 MB"), (fmt_bytes, 12, "12 B"),
    (fmt_usd, 1234.5, "$1,234.50"), (fmt_usd, 0.00123, "$0.0012"), (fmt_usd, 1e-7, "< $0.0001"),
    (fmt_age, 30, "30 s"), (fmt_age, 600, "10 min"), (fmt_age, 7200, "2.0 h"), (fmt_pct, None, "–"),
])
def test_numbers_are_formatted_with_units(fn, value, text):
    assert fn(value) == text


def test_axis_titles_carry_the_unit_their_column_name_implies():
    assert charts.axis_title("latency_ms_p95") == "latency_ms_p95 (ms)"
    assert charts.axis_title("memory_rss_max_bytes") == "memory_rss_max_bytes (bytes)"
    assert charts.axis_title("error_rate") == "error_rate (share)"
    assert charts.axis_title("calls") == "calls"


def test_cdf_chart_titles_both_axes_and_draws_the_slo():
    frame = pd.DataFrame({"target": ["edge", "edge"], "model": ["m", "m"], "calls": [10, 10],
                          "quantile": [0.5, 0.99], "latency_ms": [10.0, 20.0]})
    fig = charts.latency_cdf(frame, slo_ms=15)
    assert fig.layout.xaxis.title.text == "latency (ms, log scale)"
    assert fig.layout.yaxis.title.text == "share of calls ≤ latency"
    assert any(t.name == "SLO 15 ms" for t in fig.data)


def test_a_chart_skeleton_is_a_titled_empty_frame_saying_it_loads():
    fig = charts.skeleton("model", "p95 latency (ms)", "p95 latency")
    assert len(fig.data) == 0
    assert fig.layout.title.text == "p95 latency"
    assert fig.layout.xaxis.title.text == "model"
    assert fig.layout.yaxis.title.text == "p95 latency (ms)"
    assert [a.text for a in fig.layout.annotations] == ["Loading…"]


def test_dashboard_command_shows_examples_and_refuses_two_sources(tmp_path):
    runner = CliRunner()
    help_text = runner.invoke(main, ["dashboard", "-h"]).output
    assert "Examples:" in help_text and "--collector" in help_text and "--db" in help_text
    both = runner.invoke(main, ["dashboard", "--collector", "http://x:1", "--db", str(tmp_path / "a.duckdb")])
    assert both.exit_code == 2 and "either --collector or --db" in both.output
    missing = runner.invoke(main, ["dashboard", "--db", str(tmp_path / "missing.duckdb")])
    assert missing.exit_code == 2 and "no database file" in missing.output


def test_streamlit_runs_headless_on_the_chosen_address():
    command = streamlit_command(8600, "0.0.0.0")
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("streamlit_app.py")
    flags = dict(zip(command[5::2], command[6::2]))
    assert flags["--server.port"] == "8600" and flags["--server.address"] == "0.0.0.0"
    assert flags["--server.headless"] == "true" and flags["--browser.gatherUsageStats"] == "false"


def test_a_single_time_bucket_is_shown_one_step_either_side():
    frame = pd.DataFrame({"bucket": [pd.Timestamp("2026-11-23 14:45")] * 2, "v": [1.0, 2.0],
                          "target": ["edge", "cloud"]})
    step = pd.Timedelta(minutes=15)
    fig = charts.time_series(frame, "bucket", "v", "v", color="target", step=step)
    lo, hi = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert (lo, hi) == (pd.Timestamp("2026-11-23 14:30"), pd.Timestamp("2026-11-23 15:00"))
    longer = pd.DataFrame({"bucket": pd.date_range("2026-11-23", periods=3, freq="15min"), "v": [1.0] * 3})
    assert charts.time_series(longer, "bucket", "v", "v", step=step).layout.xaxis.range is None


def test_charts_have_fixed_margins_with_room_for_long_device_labels():
    """plotly.js does not grow the margins (that draws each chart twice); they leave room for the labels."""
    ids = [f"edge-gateway-{i:03d}" for i in range(40)]
    frame = pd.DataFrame({"device_id": ids, "silent_s": range(40), "target": ["edge"] * 40})
    fig = charts.bars(frame, "device_id", "silent_s", "device", "silent for (s)", color="target")
    assert fig.layout.xaxis.automargin is False and fig.layout.margin.autoexpand is False
    assert fig.layout.xaxis.tickangle == -90 and fig.layout.margin.b >= 7 * len(ids[0])
    runs = pd.DataFrame({"device_id": ids[:3], "target": ["edge"] * 3, "hardware": ["pi"] * 3,
                         "online_from": pd.to_datetime(["2026-01-01"] * 3),
                         "online_until": pd.to_datetime(["2026-01-02"] * 3)})
    timeline = charts.online_timeline(runs)
    assert timeline.layout.yaxis.automargin is False and timeline.layout.margin.l >= 7 * len(ids[0])


def test_panel_bars_draw_each_measure_on_its_own_axes_with_one_legend():
    frame = pd.DataFrame({"version": ["v1", "v1", "v2"], "target": ["edge", "cloud", "edge"],
                          "error_rate": [0.01, 0.02, 0.03], "memory_mb": [300.0, 1500.0, 310.0]})
    fig = charts.panel_bars(frame, "version", [("error_rate", "error rate (share of calls)", ".2%"),
                                               ("memory_mb", "peak process RSS (MB)", ".0f")], "version",
                            color="target")
    assert [fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text] == [
        "error rate (share of calls)", "peak process RSS (MB)"]
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]
    assert {(t.name, t.yaxis) for t in fig.data} == {("edge", "y"), ("cloud", "y"), ("edge", "y2"),
                                                      ("cloud", "y2")}
    assert sorted(t.name for t in fig.data if t.showlegend) == ["cloud", "edge"]
