"""Every named query against a collector filled through real agents with known data."""

from __future__ import annotations

import numpy as np
import pytest

from inferwatch import queries
from inferwatch.queries.cost import estimate, load_pricing

# The collector stores latency at scale 4: a quantile read from merged buckets is within one
# bucket (a factor 2**(1/16), 4.4%) of the exact one; confidence buckets are 0.005 wide.
LATENCY_BOUND = 2 ** (1 / 16) - 1
CONFIDENCE_BOUND = 0.01


@pytest.fixture(scope="module")
def source(seeded):
    return queries.connect(collector=seeded.url)


def run(source, name, **params):
    return queries.run(name, {"since": "-1h", **params} if queries.describe(name).param("since") else params,
                       source)


def pooled(devices, attr):
    return np.concatenate([getattr(d, attr) for d in devices])


def ok_confidences(devices):
    return np.concatenate([d.confidences[sum(d.errors.values()):] for d in devices])


def assert_latency_close(estimate_ms, exact_s):
    assert abs(estimate_ms / (exact_s * 1000) - 1) <= LATENCY_BOUND, (estimate_ms, exact_s * 1000)


def test_every_named_query_is_documented():
    found = queries.list_queries()
    assert {q.name for q in found} >= {"fleet_overview", "edge_vs_cloud", "latency_cdf", "per_hardware",
                                       "version_comparison", "devices", "top_errors", "hourly_trend",
                                       "cost_inputs"}
    for q in found:
        assert q.title and q.description, q.name
        assert all(p.description for p in q.params), q.name


def test_fleet_overview_totals_are_exact_and_p95_comes_from_merged_histograms(source, fleet):
    df = run(source, "fleet_overview").set_index("target")
    for target in ("edge", "cloud"):
        devices = [d for d in fleet if d.target == target]
        row = df.loc[target]
        assert row["calls"] == sum(d.calls for d in devices)
        assert row["errors"] == sum(sum(d.errors.values()) for d in devices)
        assert row["devices"] == len(devices)
        exact = np.quantile(pooled(devices, "latencies_s"), [0.5, 0.95, 0.99])
        for column, value in zip(("latency_ms_p50", "latency_ms_p95", "latency_ms_p99"), exact):
            assert_latency_close(row[column], value)
    # Averaging per-device p95s would be far off: the test data makes sure of it.
    edge = [d for d in fleet if d.target == "edge"]
    averaged = np.mean([np.quantile(d.latencies_s, 0.95) for d in edge]) * 1000
    assert averaged / df.loc["edge", "latency_ms_p95"] < 0.85


def test_edge_vs_cloud_per_version(source, fleet):
    df = run(source, "edge_vs_cloud", model="digits")
    assert len(df) == 4  # (1.0, 2.0) x (edge, cloud)
    for row in df.to_dict("records"):
        devices = [d for d in fleet if d.target == row["target"] and d.version == row["model_version"]]
        calls = sum(d.calls for d in devices)
        errors = sum(sum(d.errors.values()) for d in devices)
        assert row["calls"] == calls
        assert row["error_rate"] == pytest.approx(errors / calls)
        assert_latency_close(row["latency_ms_p95"], np.quantile(pooled(devices, "latencies_s"), 0.95))
        assert row["latency_ms_mean"] == pytest.approx(pooled(devices, "latencies_s").mean() * 1000)
        conf = ok_confidences(devices)
        assert row["confidence_mean"] == pytest.approx(conf.mean(), abs=1e-9)
        assert abs(row["confidence_p05"] - np.quantile(conf, 0.05)) <= CONFIDENCE_BOUND
        assert row["memory_rss_max_bytes"] > 1_000_000
        assert row["calls_per_s"] > 0


def test_latency_cdf_is_monotone_and_matches_the_exact_distribution(source, fleet):
    df = run(source, "latency_cdf")
    for target, group in df.groupby("target"):
        group = group.sort_values("quantile")
        assert group["latency_ms"].is_monotonic_increasing
        raw = pooled([d for d in fleet if d.target == target], "latencies_s")
        for q in (0.25, 0.5, 0.9):
            value = group.loc[np.isclose(group["quantile"], q), "latency_ms"].iloc[0]
            assert_latency_close(value, np.quantile(raw, q))


def test_per_hardware_splits_the_edge(source, fleet):
    df = run(source, "per_hardware").set_index("hardware")
    for hardware in ("raspberry-pi-4", "intel-nuc", "cloud-cpu"):
        devices = [d for d in fleet if d.hardware == hardware]
        assert df.loc[hardware, "calls"] == sum(d.calls for d in devices)
        assert df.loc[hardware, "devices"] == len(devices)
        assert_latency_close(df.loc[hardware, "latency_ms_p99"],
                             np.quantile(pooled(devices, "latencies_s"), 0.99))


def test_version_comparison(source, fleet):
    df = run(source, "version_comparison", target="edge").set_index("model_version")
    assert set(df.index) == {"1.0", "2.0"}
    for version in ("1.0", "2.0"):
        devices = [d for d in fleet if d.target == "edge" and d.version == version]
        assert df.loc[version, "calls"] == sum(d.calls for d in devices)
        assert df.loc[version, "first_seen"] <= df.loc[version, "last_seen"]


def test_filters_narrow_every_query(source, fleet):
    pi = [d for d in fleet if d.hardware == "raspberry-pi-4"]
    df = run(source, "fleet_overview", hardware="raspberry-pi-4")
    assert df["calls"].sum() == sum(d.calls for d in pi)
    assert run(source, "fleet_overview", model="no-such-model").empty
    assert run(source, "fleet_overview", since="-3h", until="-2h").empty


def test_hourly_trend_adds_up(source, fleet):
    df = run(source, "hourly_trend", bucket_minutes="10")
    assert df["calls"].sum() == sum(d.calls for d in fleet)
    assert (df["latency_ms_p95"] > 0).all()


def test_devices_lists_every_device_with_its_backlog(source, fleet):
    df = run(source, "devices").set_index("device_id")
    assert set(df.index) == {d.device_id for d in fleet}
    assert (df["windows_received"] >= 1).all()
    assert (df["gaps"] == 0).all()
    assert (df["spool_windows"].fillna(0) == 0).all()
    assert (df["overhead_ns"] > 0).all()
    assert df.loc["nuc-0", "hardware"] == "intel-nuc"
    assert (df["first_seen"] > np.datetime64("2020-01-01")).all()


def test_top_errors_counts_each_type(source, fleet):
    df = run(source, "top_errors")
    got = df.groupby("error_type")["errors"].sum().to_dict()
    expected: dict[str, int] = {}
    for d in fleet:
        for name, n in d.errors.items():
            expected[name] = expected.get(name, 0) + n
    assert got == expected
    assert df["errors"].is_monotonic_decreasing


def test_cost_inputs_and_estimate(source, fleet):
    inputs = run(source, "cost_inputs")
    assert inputs.set_index("target").loc["edge", "devices"] == 4
    assert inputs["calls"].sum() == sum(d.calls for d in fleet)
    costs = estimate(inputs, load_pricing()).set_index("target")
    assert costs.loc["cloud", "cost_per_1k_usd"] > 0
    assert costs.loc["edge", "cost_per_month_usd"] == pytest.approx(
        4 * (80 / 36 + 5 * 720 / 1000 * 0.15), rel=1e-6)


def test_long_ranges_read_the_hourly_rollups(source):
    # Over 48 h the named queries read inference_windows_1h; the rollup of the current hour may
    # lag, so only the shape is checked here (the collector's tests check the rollup contents).
    df = run(source, "fleet_overview", since="-7d")
    assert list(df.columns)[:3] == ["target", "model", "devices"]


def test_regression_inputs_count_the_devices_behind_each_cohort(source, fleet):
    """The memory test's units: devices per model, target and hardware (one fewer without one device)."""
    frame = run(source, "regression_inputs")
    expected: dict[tuple[str, str], set[str]] = {}
    for d in fleet:
        expected.setdefault((d.target, d.hardware), set()).add(d.device_id)
    got = {(r.target, r.hardware): int(r.devices) for r in frame.itertuples()}
    assert got == {k: len(v) for k, v in expected.items()}
    one = fleet[0]
    without = run(source, "regression_inputs", exclude_device=one.device_id)
    row = without[(without.target == one.target) & (without.hardware == one.hardware)].iloc[0]
    assert int(row.devices) == max(len(expected[(one.target, one.hardware)]) - 1, 1)
    alone = run(source, "regression_inputs", device=one.device_id)
    assert alone["devices"].isna().all()  # one device: its windows are the memory test's units
