"""The adapter from `regression_inputs` rows to populations."""

from __future__ import annotations

import math

import pyarrow as pa

from inferwatch.regressions.source import population_from_row, populations_from_table, rows_from_table

ROW = {"calls": 1000, "errors": 10, "windows": 40, "memory_windows": 40,
       "memory_avg_mean": 3e8, "memory_avg_sd": 1e7, "memory_avg_max": 3.3e8,
       "memory_peak_mean": 3.2e8, "memory_peak_sd": 1e7, "memory_peak_max": 3.5e8}


def test_memory_units_are_the_devices_not_the_windows():
    pop = population_from_row({**ROW, "devices": 4})
    assert pop.memory.avg_rss.n == 4 and pop.memory.peak_rss.n == 4
    assert pop.memory.avg_rss.mean == 3e8 and pop.memory.avg_rss.sd == 1e7  # window-level sd kept


def test_memory_units_fall_back_to_windows_without_a_device_count():
    for devices in (None, math.nan, 0):
        pop = population_from_row({**ROW, "devices": devices})
        assert pop.memory.avg_rss.n == 40


def test_memory_units_never_exceed_the_windows():
    assert population_from_row({**ROW, "memory_windows": 3, "devices": 9}).memory.avg_rss.n == 3


def test_no_memory_windows_means_no_memory():
    assert population_from_row({**ROW, "memory_windows": math.nan, "memory_avg_mean": math.nan,
                                "memory_peak_mean": math.nan, "devices": 4}).memory is None


def _hist(idx0, counts, **more):
    return {"scale": 4, "width": 0.005, "idx0": idx0, "counts": counts, "zero_count": 0,
            "count": sum(counts), "sum": 1.5, "min": 0.01, "max": 0.2, "unit": 0.001, **more}


def _table_rows():
    return [
        {"model": "m", "target": "edge", "hardware": "pi", **ROW, "devices": 4,
         "latency_hist": _hist(-60, [3, 0, 5], zero_count=2), "confidence_hist": _hist(150, [1, 2, 7])},
        {"model": "m", "target": "cloud", "hardware": "cpu", **ROW, "devices": 2,
         "latency_hist": None, "confidence_hist": _hist(0, [], count=0)},
        {"model": "n", "target": "edge", "hardware": "pi", **ROW, "devices": None, "memory_windows": None,
         "memory_avg_mean": None, "memory_peak_mean": None,
         "latency_hist": _hist(-70, [1] * 40, sum=None, min=None, max=None), "confidence_hist": None},
    ]


def test_populations_from_an_arrow_table_equal_those_from_its_rows():
    rows = _table_rows()
    whole = pa.Table.from_pylist(rows)
    chunked = pa.concat_tables([whole.slice(0, 1), whole.slice(1)])  # as a stream of two batches
    sliced = pa.Table.from_pylist(rows * 2).slice(3)  # offsets that do not start at 0
    expected = [repr(population_from_row(r)) for r in rows]
    for table in (whole, chunked, sliced):
        got = populations_from_table(table)
        assert [repr(p) for _, p in got] == expected
        assert [k for k, _ in got] == [{"model": r["model"], "target": r["target"],
                                        "hardware": r["hardware"]} for r in rows]
    assert rows_from_table(whole) == whole.to_pylist()
