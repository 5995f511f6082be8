"""The frame every page shares: title, filters, auto refresh, and the no-data and no-collector notices."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import streamlit as st

from inferwatch.queries import DataUnavailable, ParamError, QueryError

from . import data, heap, skeleton
from .filters import Filters, sidebar

__all__ = ["AGENT_SNIPPET", "no_match", "render", "show_collector_down", "show_empty_database"]

AGENT_SNIPPET = '''import inferwatch
inferwatch.configure(service="my-app", target="edge", endpoint="{endpoint}")

@inferwatch.observe(model="my-model", version="1.0.0")
def predict(x): ...'''


def show_collector_down(exc: DataUnavailable) -> None:
    """One clear message: what is unreachable and the command that starts it."""
    where = data.settings()
    message = str(exc)
    if where.collector and message.startswith("no collector answers"):
        port = urlparse(where.collector).port or 4318
        st.error(f"**No collector answers at {where.collector}.** Start one, then reload this page:\n\n"
                 f"```\ninferwatch collector --db ./inferwatch.duckdb --port {port}\n```\n\n"
                 "Or point the dashboard at another collector (`--collector URL`) or at a DuckDB file no "
                 "collector holds (`--db PATH`).", icon=":material/cloud_off:")
    else:
        st.error(f"**The data source cannot be read.** {message}", icon=":material/cloud_off:")


def show_empty_database() -> None:
    """How to send data: the agent's three lines and the demo."""
    where = data.settings()
    endpoint = where.collector or "http://127.0.0.1:4318"
    st.info(f"**No inference data yet** in `{where.label}`. Add three lines to the app that runs your "
            "model, and its calls appear here within one export window (60 s by default):",
            icon=":material/inbox:")
    st.code(AGENT_SNIPPET.format(endpoint=endpoint), language="python")
    st.markdown("Or watch a live emulated fleet: `inferwatch demo`. Any OpenTelemetry SDK that sends the "
                "`inferwatch.inference.*` metrics over OTLP shows up too.")


def no_match(f: Filters) -> None:
    """The store has data, but none matches the filters."""
    st.info(f"No inference data matches the filters ({f.describe()}). Widen the time range or set a "
            "filter back to *All*.", icon=":material/filter_alt_off:")


def _guarded(body: Callable[[Filters], None], f: Filters) -> None:
    try:
        body(f)
    except DataUnavailable as exc:
        show_collector_down(exc)
    except QueryError as exc:
        st.error(f"**A query failed:** {exc}", icon=":material/error:")
    except ParamError as exc:
        st.error(f"**A parameter is wrong:** {exc}", icon=":material/error:")


@functools.cache
def _chart_preload() -> str:
    """A modulepreload link for Streamlit's Plotly chunk ('' when it cannot be found).

    Streamlit fetches and compiles plotly.js (4.7 MB) only when the first chart arrives; this link
    starts that while the page's queries run, which takes ~0.5 s off a new tab's first chart here.
    """
    found = sorted((Path(st.__file__).parent / "static" / "static" / "js").glob("PlotlyChart.*.js"))
    if not found:
        return ""
    base = (st.get_option("server.baseUrlPath") or "").strip("/")
    href = "/".join(x for x in ("", base, "static", "js", found[0].name))
    return f'<link rel="modulepreload" href="{href}">'


def render(title: str, intro: str, body: Callable[[Filters], None], *, needs_data: bool = True) -> None:
    """Title, filters and body; a down collector or an empty store replaces the body with a notice."""
    try:
        _render(title, intro, body, needs_data)
    finally:
        skeleton.first_run_done()
        heap.freeze_once()  # after the first run: everything imported, the server and caches alive


def _render(title: str, intro: str, body: Callable[[Filters], None], needs_data: bool) -> None:
    if preload := _chart_preload():
        st.html(preload)
    st.title(title)
    st.caption(intro)
    try:
        present = data.has_data()
        f = sidebar(lambda since: data.dimensions(since) if present else None)
    except DataUnavailable as exc:
        sidebar(lambda since: None)
        show_collector_down(exc)
        return
    if not present and needs_data:
        show_empty_database()
        return
    if not present:
        st.caption("The store is empty; queries below answer with no rows until data arrives.")
    if f.refresh_s:
        st.fragment(_guarded, run_every=f.refresh_s)(body, f)
    else:
        _guarded(body, f)
