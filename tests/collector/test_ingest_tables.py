"""ingest_tables builds the tables it built before its per-row work was vectorized.

The oracle is that implementation, kept in ingest_tables_reference.py. Rows come from both decoders on
seeded random requests (every metric type, odd values), from the ingest benchmark's gateway requests,
and from edits of those rows the decoders do not make (monotonic given as ints, equal resources in
distinct tuples, a value next to a histogram, exponential confidence histograms, empty error types).
Tables must agree in schema, in every value and NULL, and as DuckDB reads them; dictionaries may be
laid out differently (e.g. one per column instead of one shared by metric, type and unit). Rows may be
in another order, the one ingest_tables documents: within each chunk, latency rows before confidence
rows, and exponential histogram rows before the other metric rows, each group in its input order.
"""

from __future__ import annotations

import gzip
import math
import random
import sys
from pathlib import Path

import duckdb
import ingest_tables_reference as reference
import numpy as np
import pyarrow as pa
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from test_ingest_fast_path import random_request

from inferwatch.collector import ingest_tables
from inferwatch.collector.otlp_decode import decode_message, decode_protobuf

RECEIVED_NS = 1_800_000_123_456_789


def _decoded_rows(bodies: list[bytes]) -> tuple[list[tuple], list[tuple]]:
    inference: list[tuple] = []
    metrics: list[tuple] = []
    for body in bodies:
        for d in (decode_protobuf(body), decode_message(ExportMetricsServiceRequest.FromString(body))):
            inference += d.inference
            metrics += d.metrics
    return inference, metrics


def _random_rows(seeds: range) -> tuple[list[tuple], list[tuple]]:
    return _decoded_rows([random_request(random.Random(s)).SerializeToString() for s in seeds])


def _gateway_rows() -> tuple[list[tuple], list[tuple]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        import collector_ingest
    finally:
        sys.path.pop(0)
    bodies, _, _ = collector_ingest.build_bodies(3, 40, 7)
    return _decoded_rows([gzip.decompress(b) for b in bodies])


def _edited(inference: list[tuple], metrics: list[tuple], rng: random.Random) -> tuple[list, list]:
    """Rows varied beyond what the decoders give."""
    inf = []
    for r in inference:
        r = list(r)
        x = rng.random()
        if x < 0.1:
            r[5] = tuple(list(r[5]))  # an equal resource in another tuple
        elif x < 0.2 and r[9][0] == "exp":
            r[4], r[8] = "conf", None  # an exponential confidence histogram
        elif x < 0.3 and r[4] == "lat":
            r[8] = rng.choice(["", "ValueError", None])
        inf.append(tuple(r))
    met = []
    for r in metrics:
        r = list(r)
        x = rng.random()
        if x < 0.1:
            r[8] = tuple(list(r[8]))
        elif x < 0.15 and r[11] is not None:
            r[10] = 2.5  # a value next to the histogram
        elif x < 0.2 and r[10] is not None:
            r[10] = None
        elif x < 0.25:
            r[9] = r[9] + " "  # another attribute string
        met.append(tuple(r))
    if met:  # monotonic as ints: not what pyarrow's bool conversion takes
        k = rng.randrange(len(met))
        met[k] = met[k][:7] + (rng.choice([0, 1]),) + met[k][8:]
    return inf, met


def _norm(x):
    if isinstance(x, float) and math.isnan(x):
        return "NaN"
    if isinstance(x, list | tuple):
        return [_norm(y) for y in x]
    if isinstance(x, dict):
        return {k: _norm(v) for k, v in x.items()}
    return x


def _same(new: pa.Table, old: pa.Table) -> None:
    assert new.schema == old.schema
    assert new.num_rows == old.num_rows
    for name in old.column_names:
        assert _norm(new.column(name).to_pylist()) == _norm(old.column(name).to_pylist()), name
    con = duckdb.connect()
    con.register("new", new)
    con.register("old", old)
    read = [_norm(con.execute(f"select * from {t}").fetchall()) for t in ("new", "old")]
    assert read[0] == read[1]
    con.close()


def _in_table_order(rows: list[tuple], first) -> list[tuple]:
    out: list[tuple] = []
    for i in range(0, len(rows), ingest_tables.CHUNK_ROWS):
        chunk = rows[i : i + ingest_tables.CHUNK_ROWS]
        out += [r for r in chunk if first(r)] + [r for r in chunk if not first(r)]
    return out


def _check(inference: list[tuple], metrics: list[tuple]) -> None:
    if inference:
        _same(
            ingest_tables.inference_table(inference, RECEIVED_NS),
            reference.inference_table(_in_table_order(inference, lambda r: r[4] == "lat"), RECEIVED_NS),
        )
    if metrics:
        _same(
            ingest_tables.metric_table(metrics, RECEIVED_NS),
            reference.metric_table(
                _in_table_order(metrics, lambda r: r[11] is not None and r[11][0] == "exp"), RECEIVED_NS
            ),
        )


@pytest.fixture(params=[16_384, 37], ids=["chunk-default", "chunk-37"])
def chunk_rows(request, monkeypatch):
    monkeypatch.setattr(ingest_tables, "CHUNK_ROWS", request.param)
    monkeypatch.setattr(reference, "CHUNK_ROWS", request.param)
    return request.param


@pytest.mark.parametrize("seed", range(6))
def test_tables_of_random_requests(seed, chunk_rows):
    inference, metrics = _random_rows(range(seed * 25, seed * 25 + 25))
    assert inference and metrics
    _check(inference, metrics)
    rng = random.Random(seed)
    _check(*_edited(inference, metrics, rng))
    rng.shuffle(inference)  # no runs of one resource or metric
    rng.shuffle(metrics)
    _check(inference, metrics)


def test_tables_of_gateway_requests(chunk_rows):
    inference, metrics = _gateway_rows()
    _check(inference, metrics)
    _check(*_edited(inference, metrics, random.Random(1)))


def test_tables_of_uniform_batches():
    """Batches with one kind of row only: no histograms, no numbers, only latency or confidence."""
    inference, metrics = _random_rows(range(200, 240))
    by_type: dict[str, list] = {}
    for r in metrics:
        by_type.setdefault(r[5], []).append(r)
    assert {"sum", "gauge", "histogram", "exponential_histogram", "summary"} <= set(by_type)
    for rows in by_type.values():
        _check([], rows)
    _check([], [r for r in metrics if r[11] is None])
    _check([], [r for r in metrics if r[11] is not None])
    _check([r for r in inference if r[4] == "lat"], [])
    _check([r for r in inference if r[4] == "conf"], [])
    _check(inference[:1], metrics[:1])


def test_codes_look_up_runs_by_value():
    """Runs of one object get one lookup; equal values in distinct objects, and runs that come back,
    get the first code their value got."""
    a, b = ("svc", "dev-1"), ("svc", "dev-2")
    a2 = tuple(list(a))
    values, codes = ingest_tables._codes([a, a, b, a2, a2, b, a])
    assert values == [a, b]
    assert codes.tolist() == [0, 0, 1, 0, 0, 1, 0] and codes.dtype == np.int32
    values, codes = ingest_tables._codes([None] * 3)
    assert values == [None] and codes.tolist() == [0, 0, 0]
    values, codes = ingest_tables._codes([])
    assert values == [] and codes.tolist() == []


def test_histogram_columns_are_runs_not_spread():
    """A gateway request's table: latency rows first, then confidence; each histogram column is its
    rows and one run of NULLs; DuckDB reads it as the reference's rows in that order."""
    inference, metrics = _gateway_rows()
    table = ingest_tables.inference_table(inference, RECEIVED_NS)
    n_lat = sum(r[4] == "lat" for r in inference)
    assert 0 < n_lat < table.num_rows
    lat, conf = table.column("latency_hist"), table.column("confidence_hist")
    assert lat.slice(0, n_lat).null_count == 0 and lat.slice(n_lat).null_count == table.num_rows - n_lat
    assert conf.slice(0, n_lat).null_count == n_lat and conf.slice(n_lat).null_count == 0
    table = ingest_tables.metric_table(metrics, RECEIVED_NS)
    n_exp = sum(r[11] is not None and r[11][0] == "exp" for r in metrics)
    assert table.column("hist").slice(0, n_exp).null_count == 0
    assert table.column("hist").slice(n_exp).null_count == table.num_rows - n_exp
