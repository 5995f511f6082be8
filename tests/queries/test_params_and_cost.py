"""Named-query parameters, headers and the cost model (no database needed)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pandas as pd
import pytest

from inferwatch.errors import ConfigurationError
from inferwatch.queries import ParamError, QueryNotFound, get_query
from inferwatch.queries.catalog import parse_query
from inferwatch.queries.cost import estimate, load_pricing
from inferwatch.queries.params import bind_params, parse_time

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
HEADER = """-- title: Example
-- description: Something useful
-- description: over two lines.
-- param: since (timestamp, default -24h) Start of the range
-- param: model (text, default null) Only this model
-- param: limit (int) How many rows
SELECT 1
"""


def test_header_is_parsed_into_title_description_and_typed_params():
    q = parse_query("example", HEADER)
    assert q.title == "Example"
    assert q.description == "Something useful over two lines."
    assert [(p.name, p.type, p.default) for p in q.params] == [
        ("since", "timestamp", "-24h"), ("model", "text", "null"), ("limit", "int", None)]
    assert q.param("limit").required and not q.param("model").required


def test_defaults_fill_missing_params_and_relative_times_resolve():
    q = parse_query("example", HEADER)
    bound = bind_params(q.params, {"limit": "5"}, "example", NOW)
    assert bound == {"since": "2026-11-22 12:00:00.000000", "model": None, "limit": 5}


@pytest.mark.parametrize(("given", "message"), [
    ({}, "needs --param limit=<int>"),
    ({"limit": "ten"}, "must be a int, got 'ten'"),
    ({"limit": "1", "colour": "red"}, "has no parameter 'colour'"),
    ({"limit": "1", "since": "yesterday"}, "must be a timestamp"),
])
def test_bad_params_name_the_fix(given, message):
    q = parse_query("example", HEADER)
    with pytest.raises(ParamError, match=message):
        bind_params(q.params, given, "example", NOW)


def test_malformed_param_line_is_refused():
    with pytest.raises(ParamError, match="malformed parameter line"):
        parse_query("bad", "-- param: since timestamp\nSELECT 1")


def test_parse_time_accepts_iso_relative_and_now():
    assert parse_time("now", NOW) == NOW
    assert parse_time("-7d", NOW) == datetime(2026, 11, 16, 12, 0, tzinfo=timezone.utc)
    assert parse_time("-90m", NOW) == datetime(2026, 11, 23, 10, 30, tzinfo=timezone.utc)
    assert parse_time("2026-11-01T08:00:00+01:00") == datetime(2026, 11, 1, 7, 0, tzinfo=timezone.utc)


def test_unknown_query_lists_what_exists():
    with pytest.raises(QueryNotFound, match="inferwatch query list"):
        get_query("no_such_query")


def test_pricing_defaults_file_and_overrides(tmp_path):
    assert load_pricing().cloud.instance_hour_usd == 0.10
    toml = tmp_path / "prices.toml"
    toml.write_text("[cloud]\ninstance_hour_usd = 0.5\n[edge]\nhardware_usd = 120\n")
    p = load_pricing(toml, {"edge": {"kwh_usd": 0.3}})
    assert (p.cloud.instance_hour_usd, p.edge.hardware_usd, p.edge.kwh_usd) == (0.5, 120.0, 0.3)
    yaml = tmp_path / "prices.yaml"
    yaml.write_text("cloud:\n  request_usd: 0.00002\n")
    assert load_pricing(yaml).cloud.request_usd == 0.00002


@pytest.mark.parametrize(("text", "message"), [
    ("[cloud]\ninstance_hour_usd = -1\n", "must be a number ≥ 0"),
    ("[cloud]\ninstance_hours = 1\n", "unknown key cloud.instance_hours"),
    ("[gpu]\nx = 1\n", "unknown section"),
    ("[cloud\n", "not valid TOML"),
    ("[cloud]\nutilization = 0\n", "must be > 0"),
    ("[edge]\nhardware_usd = 'cheap'\n", "must be a number"),
])
def test_bad_pricing_files_are_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "prices.toml"
    path.write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_pricing(path)


def test_cost_model_arithmetic():
    inputs = pd.DataFrame([
        {"target": "cloud", "model": "m", "calls": 36_000, "seconds": 3600, "mean_latency_ms": 50.0,
         "devices": 1, "bytes_per_device_day": 0},
        {"target": "edge", "model": "m", "calls": 72_000, "seconds": 3600, "mean_latency_ms": 200.0,
         "devices": 10, "bytes_per_device_day": 1_000_000},
    ])
    pricing = load_pricing(overrides={"cloud": {"egress_gb_usd": 0.0}, "edge": {"upload_gb_usd": 1.0}})
    out = estimate(inputs, pricing).set_index("target")
    # cloud: capacity 1/0.05 = 20 req/s at 60% -> 12 req/s per instance; $0.10/h / (12*3600) per request
    assert out.loc["cloud", "cost_per_1k_usd"] == pytest.approx(1000 * 0.10 / (3600 * 12))
    assert out.loc["cloud", "units"] == pytest.approx(10 / 12)
    # edge: 80/36 + 5 W * 720 h * 0.15 $/kWh + 1 MB/day * 30 * $1/GB, per device, ten devices
    per_device = 80 / 36 + 5 * 720 / 1000 * 0.15 + 0.03
    assert out.loc["edge", "cost_per_month_usd"] == pytest.approx(10 * per_device)
    calls_month = 20 * 720 * 3600
    assert out.loc["edge", "cost_per_1k_usd"] == pytest.approx(10 * per_device / calls_month * 1000)
    assert math.isnan(estimate(inputs.assign(calls=0), pricing).set_index("target").loc["edge",
                                                                                          "cost_per_1k_usd"])
