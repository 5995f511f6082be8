"""What the Edge vs cloud page computes from its one read equals what the named queries answer."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from inferwatch import queries
from inferwatch.collector.schema import migrate
from inferwatch.dashboard import comparison, histograms

QS = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)


@pytest.fixture(scope="module")
def macros() -> duckdb.DuckDBPyConnection:
    """An in-memory database with the collector's schema: its `hist` type and SQL macros."""
    con = duckdb.connect()
    migrate(con)
    return con


def sql_quantiles(con: duckdb.DuckDBPyConnection, hists: list[dict], qs=QS) -> list[float]:
    rows = con.execute("SELECT [hist_quantile(CAST($hs AS hist[]), q) FOR q IN $qs]",
                       {"hs": hists, "qs": list(qs)}).fetchone()
    return rows[0]


def hist(scale: int, idx0: int, counts: list[int], *, zero: int = 0, width: float = 0.0, lo: float = 0.001,
         hi: float = 2.0, unit: float = 1000.0) -> dict:
    return {"scale": scale, "width": width, "idx0": idx0, "counts": counts, "zero_count": zero,
            "count": zero + sum(counts), "sum": 1.0, "min": lo, "max": hi, "unit": unit}


@pytest.mark.parametrize("hists", [
    [hist(4, -120, [3, 0, 5, 9, 1])],
    [hist(4, -120, [3, 0, 5]), hist(4, -118, [7, 0, 0, 2])],  # overlapping ranges
    [hist(4, -120, [1, 1]), hist(4, -90, [4])],  # ranges far apart: empty buckets between
    [hist(4, -100, [0, 2, 0]), hist(4, -100, [], zero=3)],  # exact zeros
    [hist(0, 60, [1, 4, 9, 2], width=0.005, lo=0.3, hi=0.99, unit=1.0)],  # linear (confidence)
])
def test_python_quantiles_of_merged_histograms_equal_the_sql_macros(macros, hists):
    ours = histograms.quantiles(histograms.merge(hists), QS)
    assert np.allclose(ours, sql_quantiles(macros, hists), rtol=1e-12, atol=0)


def test_no_values_gives_no_quantiles():
    assert histograms.merge([None, hist(4, 0, [])]) is None
    assert np.isnan(histograms.quantiles(None, (0.5,))).all()


@pytest.fixture
def collector_source(seeded_collector):
    return queries.connect(collector=seeded_collector.url)


def sort(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys).reset_index(drop=True)


@pytest.mark.parametrize("extra", [{}, {"target": "edge"}, {"version": "2.0.0"}])
def test_comparison_table_equals_the_edge_vs_cloud_named_query(collector_source, extra):
    params = {"since": "-24h", "model": "digits", **extra}
    inputs = collector_source.query(*comparison.bound_sql(params))
    ours = comparison.table(inputs)
    theirs = queries.run("edge_vs_cloud", params, collector_source)
    assert len(ours) == len(theirs) > 0
    keys = ["model", "model_version", "target"]
    ours, theirs = sort(ours, keys), sort(theirs[comparison.TABLE_COLUMNS], keys)
    # the time covered: the SQL's epoch() seconds vs pandas timestamps (through the collector's JSON)
    assert np.allclose(ours.pop("calls_per_s"), theirs.pop("calls_per_s"), rtol=1e-6)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, rtol=1e-9)


def test_percentiles_and_cdf_equal_the_fleet_overview_and_latency_cdf_queries(collector_source):
    params = {"since": "-24h", "model": "digits"}
    inputs = collector_source.query(*comparison.bound_sql(params))
    overview = sort(queries.run("fleet_overview", params, collector_source), ["target"])
    ours = sort(histograms.percentiles(inputs), ["target"])
    assert list(ours["target"]) == list(overview["target"]) == ["cloud", "edge"]
    for column in histograms.PERCENTILES:
        assert np.allclose(ours[column], overview[column], rtol=1e-12)
    cdf = sort(histograms.cdf_points(inputs, "digits"), ["target", "quantile"])
    expected = sort(queries.run("latency_cdf", params, collector_source), ["target", "quantile"])
    assert list(cdf["calls"]) == list(expected["calls"])
    assert np.allclose(cdf["quantile"], expected["quantile"])
    assert np.allclose(cdf["latency_ms"], expected["latency_ms"], rtol=1e-12)

