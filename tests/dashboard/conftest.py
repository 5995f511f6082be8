"""Fixtures: a real collector filled by real agents, an empty one, an empty DuckDB file, a dead address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from inferwatch.collector.schema import migrate

from .fleet import Collector, free_port, seed_fleet, start_collector, wait_for_calls

PAGES_DIR = Path(__file__).resolve().parents[2] / "dashboard" / "app_pages"
APP = PAGES_DIR.parent / "streamlit_app.py"


@pytest.fixture(scope="session")
def seeded_collector(tmp_path_factory) -> Iterator[Collector]:
    """A collector subprocess holding two windows of a six-device fleet (edge and cloud, v1 and v2)."""
    root = tmp_path_factory.mktemp("seeded")
    collector = start_collector(root)
    try:
        sent = seed_fleet(collector.url, root / "spool")
        wait_for_calls(collector, sent)
        yield collector
    finally:
        collector.stop()


@pytest.fixture(scope="session")
def empty_collector(tmp_path_factory) -> Iterator[Collector]:
    """A running collector nobody has sent anything to."""
    collector = start_collector(tmp_path_factory.mktemp("empty"))
    try:
        yield collector
    finally:
        collector.stop()


@pytest.fixture(scope="session")
def empty_db(tmp_path_factory) -> Path:
    """A DuckDB file with the collector's schema and no data (no collector holds it)."""
    path = tmp_path_factory.mktemp("emptydb") / "inferwatch.duckdb"
    con = duckdb.connect(str(path))
    migrate(con)
    con.close()
    return path


@pytest.fixture
def dead_collector_url() -> str:
    """An address where no collector answers."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def use_source(monkeypatch):
    """Point the dashboard's data module at a collector URL or a DuckDB file (as the CLI does)."""
    def use(collector: str | None = None, db: str | Path | None = None) -> None:
        monkeypatch.delenv("INFERWATCH_TOKEN", raising=False)
        if db is not None:
            monkeypatch.delenv("INFERWATCH_COLLECTOR", raising=False)
            monkeypatch.setenv("INFERWATCH_DB", str(db))
        else:
            monkeypatch.delenv("INFERWATCH_DB", raising=False)
            monkeypatch.setenv("INFERWATCH_COLLECTOR", collector)
    return use
