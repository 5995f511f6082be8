"""ingest_tables builds the tables it built before its per-row work was vectorized.

The oracle is that implementation, kept in ingest_tables_reference.py. Rows come from both decoders on
seeded random requests (every metric type, odd values), from the ingest benchmark's gateway requests,
and from edits of those rows the decoders do not make (monotonic given as ints, equal resources in
distinct tuples, a value next to a histogram, exponential confidence histograms, empty error types).
Tables must agree in schema, in every value and NULL, and as DuckDB reads them; dictionaries may be
laid out differently (e.g. one per column instead of one shared by metric, type and unit).
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


def _check(inference: list[tuple], metrics: list[tuple]) -> None:
    if inference:
        _same(
            ingest_tables.inference_table(inference, RECEIVED_NS),
            reference.inference_table(inference, RECEIVED_NS),
        )
    if metrics:
        _same(ingest_tables.metric_table(metrics, RECEIVED_NS), reference.metric_table(metrics, RECEIVED_NS))


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


def test_spread_places_rows_and_nulls():
    """_spread of a sliced struct (list offsets not from 0), and of children it leaves to `take`."""
    part = pa.StructArray.from_arrays(
        [pa.array([9, 1, 2, 3], type=pa.int32()), pa.array([[9], [1, 1], [], [3]], pa.list_(pa.int64()))],
        names=["a", "b"],
    ).slice(1)
    pos = np.array([0, 2, 5])
    want = [{"a": 1, "b": [1, 1]}, None, {"a": 2, "b": []}, None, None, {"a": 3, "b": [3]}]
    assert ingest_tables._spread(part, pos, 6).to_pylist() == want
    flags = pa.StructArray.from_arrays([pa.array([True, None]), pa.array(["x", "y"])], names=["f", "s"])
    assert ingest_tables._spread(flags, np.array([1, 2]), 3).to_pylist() == [
        None,
        {"f": True, "s": "x"},
        {"f": None, "s": "y"},
    ]
    assert ingest_tables._spread(part, np.array([0, 1, 2]), 3) is part
    assert ingest_tables._spread(part, np.array([], dtype=np.intp), 2).to_pylist() == [None, None]
