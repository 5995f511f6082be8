"""The adapter from `regression_inputs` rows to populations."""

from __future__ import annotations

import math

from inferwatch.regressions.source import population_from_row

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
