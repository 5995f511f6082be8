"""Fixtures: a real collector (uvicorn + grpcio in-process threads) on free 127.0.0.1 ports."""

from __future__ import annotations

import gzip
import socket

import pytest
import requests

from inferwatch.collector.server import CollectorServer
from inferwatch.collector.service import CollectorSettings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningCollector:
    """A started CollectorServer plus helpers to send and query."""

    def __init__(self, server: CollectorServer, settings: CollectorSettings) -> None:
        self.server = server
        self.settings = settings
        self.collector = server.collector
        self.url = f"http://127.0.0.1:{server.port}"
        self.session = requests.Session()

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.server.grpc_port}"

    def post_metrics(
        self,
        body: bytes,
        content_type: str = "application/x-protobuf",
        gzip_body: bool = False,
        token: str | None = None,
        headers: dict | None = None,
    ) -> requests.Response:
        h = {"Content-Type": content_type, **(headers or {})}
        if gzip_body:
            body = gzip.compress(body)
            h["Content-Encoding"] = "gzip"
        if token:
            h["Authorization"] = f"Bearer {token}"
        return self.session.post(self.url + "/v1/metrics", data=body, headers=h, timeout=30)

    def query(
        self, sql: str, params: dict | None = None, token: str | None = None, accept: str | None = None
    ) -> requests.Response:
        h = {"Authorization": f"Bearer {token}"} if token else {}
        if accept:
            h["Accept"] = accept
        return self.session.post(
            self.url + "/v1/query", json={"sql": sql, "params": params or {}}, headers=h, timeout=60
        )

    def rows(self, sql: str, params: dict | None = None) -> list[list]:
        """Flush, then run a query through the HTTP API and return its rows."""
        self.collector.flush()
        r = self.query(sql, params, token=self.settings.query_token)
        assert r.status_code == 200, r.text
        return r.json()["rows"]

    def scalar(self, sql: str, params: dict | None = None):
        return self.rows(sql, params)[0][0]


@pytest.fixture
def make_collector(tmp_path):
    """A factory of running collectors on a tmp DuckDB file; all are stopped after the test."""
    started: list[CollectorServer] = []

    def make(**overrides) -> RunningCollector:
        kwargs = dict(
            db=str(tmp_path / "iw.duckdb"),
            host="127.0.0.1",
            port=free_port(),
            grpc_port=0,
            batch_delay_s=0.02,
            maintenance_interval_s=3600.0,
        )
        kwargs.update(overrides)
        settings = CollectorSettings(**kwargs)
        server = CollectorServer(settings).start()
        started.append(server)
        return RunningCollector(server, settings)

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def collector(make_collector) -> RunningCollector:
    """One running collector with no tokens."""
    return make_collector()
