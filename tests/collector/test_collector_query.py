"""The read-only SQL API: formats, limits, forbidden statements, tokens."""

from __future__ import annotations

import io

import grpc
import pyarrow as pa
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from otlp_payloads import duration_request

FORBIDDEN = [
    "DROP TABLE inference_points",
    "DELETE FROM inference_points",
    "INSERT INTO collector_meta VALUES ('x', 'y')",
    "UPDATE inference_points SET calls = 0",
    "CREATE TABLE evil AS SELECT 1",
    "ALTER TABLE inference_points ADD COLUMN x INTEGER",
    "COPY inference_points TO '/tmp/iw-stolen.csv'",
    "ATTACH '/tmp/iw-other.duckdb' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET threads = 1",
    "PRAGMA enable_profiling",
    "CALL checkpoint()",
    "EXPORT DATABASE '/tmp/iw-export'",
    "SELECT 1; DROP TABLE inference_points",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/*')",
    "SELECT * FROM read_parquet('http://127.0.0.1:1/x.parquet')",
    "SELECT * FROM query('DROP TABLE inference_points')",
    "BEGIN",
    "VACUUM",
    "DETACH memory",
    "CREATE OR REPLACE MACRO hist_merge(hs) AS 1",
]


@pytest.fixture
def loaded(collector):
    for device in ("a", "b"):
        assert collector.post_metrics(duration_request(device=device, calls=5).SerializeToString()).ok
    collector.collector.flush()
    return collector


def test_query_answers_columns_rows_and_types(loaded):
    r = loaded.query("SELECT device_id, calls FROM inference_windows ORDER BY device_id")
    assert r.status_code == 200
    doc = r.json()
    assert doc["columns"] == [{"name": "device_id", "type": "VARCHAR"}, {"name": "calls", "type": "BIGINT"}]
    assert doc["rows"] == [["a", 5], ["b", 5]]
    assert doc["truncated"] is False


def test_named_params_csv_and_arrow(loaded):
    r = loaded.query(
        "SELECT sum(calls) AS calls FROM inference_windows WHERE device_id = $d",
        {"d": "a"},
        accept="text/csv",
    )
    assert r.status_code == 200 and r.text.splitlines() == ["calls", "5"]
    r = loaded.query("SELECT device_id FROM inference_windows", accept="application/vnd.apache.arrow.stream")
    table = pa.ipc.open_stream(io.BytesIO(r.content)).read_all()
    assert sorted(table.column("device_id").to_pylist()) == ["a", "b"]


def test_row_limit_truncates(make_collector):
    c = make_collector(query_max_rows=10)
    doc = c.query("SELECT * FROM range(100)").json()
    assert len(doc["rows"]) == 10 and doc["truncated"] is True


def test_time_limit_stops_a_runaway_query(make_collector):
    c = make_collector(query_timeout_s=0.5)
    r = c.query("SELECT count(*) FROM range(1000000000) a, range(1000) b")
    assert r.status_code == 400
    assert "limit" in r.json()["error"] or "nterrupt" in r.json()["error"]
    assert c.query("SELECT 42").json()["rows"] == [[42]]


def test_sql_errors_come_back_as_400_with_duckdb_message(collector):
    r = collector.query("SELECT no_such_column FROM inference_windows")
    assert r.status_code == 400
    assert "no_such_column" in r.json()["error"]


@pytest.mark.parametrize("sql", FORBIDDEN)
def test_forbidden_statement_is_refused_and_database_unchanged(loaded, sql):
    before = loaded.rows("SELECT count(*), sum(calls) FROM inference_points")
    r = loaded.query(sql)
    assert r.status_code == 400, (sql, r.text)
    assert "error" in r.json()
    assert loaded.rows("SELECT count(*), sum(calls) FROM inference_points") == before
    assert (
        loaded.query("SELECT hist_quantile(list(latency_hist), 0.5) FROM inference_windows").status_code
        == 200
    )


@pytest.mark.parametrize(
    ("path", "token", "expected"),
    [
        ("/v1/metrics", None, 401),
        ("/v1/metrics", "wrong", 401),
        ("/v1/metrics", "query-secret", 401),
        ("/v1/metrics", "ingest-secret", 200),
        ("/v1/query", None, 401),
        ("/v1/query", "wrong", 401),
        ("/v1/query", "ingest-secret", 401),
        ("/v1/query", "query-secret", 200),
    ],
)
def test_token_matrix(make_collector, path, token, expected):
    c = make_collector(ingest_token="ingest-secret", query_token="query-secret")
    if path == "/v1/metrics":
        r = c.post_metrics(duration_request().SerializeToString(), token=token)
    else:
        r = c.query("SELECT 1", token=token)
    assert r.status_code == expected
    assert c.session.get(c.url + "/healthz").status_code == 200  # no token needed


def test_grpc_needs_the_ingest_token(make_collector):
    c = make_collector(ingest_token="ingest-secret", query_token="query-secret")
    with grpc.insecure_channel(c.grpc_target) as channel:
        stub = metrics_service_pb2_grpc.MetricsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.Export(duration_request(), timeout=10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stub.Export(
            duration_request(calls=3), metadata=[("authorization", "Bearer ingest-secret")], timeout=10
        )
    c.collector.flush()
    r = c.query("SELECT sum(calls) FROM inference_windows", token="query-secret")
    assert r.json()["rows"] == [[3]]


def test_collector_metrics_endpoint(loaded):
    text = loaded.session.get(loaded.url + "/metrics").text
    assert "inferwatch_collector_points_accepted 2" in text
    assert "inferwatch_collector_queue_points" in text
