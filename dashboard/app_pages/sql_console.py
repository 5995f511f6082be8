"""SQL: run a named query or your own read-only SQL, see a table and a chart, download CSV."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from inferwatch import queries
from inferwatch.dashboard import charts, data, page
from inferwatch.dashboard.filters import Filters, bucket_minutes
from inferwatch.dashboard.state import remembered

CUSTOM = "Custom SQL"
DEFAULT_QUERY = "fleet_overview"
EXAMPLE = """SELECT target, hardware, model, sum(calls) AS calls,
       hist_quantile(list(latency_hist), 0.95) AS latency_ms_p95
FROM inference_windows
WHERE window_start >= CAST($since AS TIMESTAMP)
GROUP BY ALL ORDER BY latency_ms_p95 DESC"""
_PARAM = re.compile(r"\$(\w+)")
NONE = "(none)"


def _named(f: Filters, name: str) -> tuple[pd.DataFrame, str]:
    query = queries.describe(name)
    st.caption(query.description)
    from_filters = f.params(bucket_minutes=bucket_minutes(f))
    params = {}
    extra = [p for p in query.params if p.name not in from_filters or p.name == "bucket_minutes"]
    if extra:
        cols = st.columns(len(extra))
        for col, p in zip(cols, extra):
            default = str(from_filters.get(p.name, p.default or ""))
            key, keep = remembered(f"sql.{name}.{p.name}", default)
            params[p.name] = col.text_input(f"{p.name} ({p.type})", key=key, on_change=keep,
                                            help=p.description)
    for p in query.params:
        if p.name not in params and p.name in from_filters:
            params[p.name] = from_filters[p.name]
    st.caption("Time range and filters come from the sidebar.")
    with st.expander("SQL"):
        st.code(query.sql, language="sql")
    return data.run_named(name, params), name


def _custom(f: Filters) -> tuple[pd.DataFrame | None, str]:
    key, keep = remembered("sql.custom", EXAMPLE)
    with st.form("custom-sql"):
        text = st.text_area("Read-only SQL", key=key, height=180,
                            help="DuckDB SQL. $since, $until, $service, $model, $version, $target and "
                                 "$hardware are bound from the sidebar.")
        st.form_submit_button("Run", icon=":material/play_arrow:", type="primary", on_click=keep,
                              key="iw.sql.run")
    text = st.session_state.get(key, EXAMPLE)
    available = {**f.params(), "bucket_minutes": bucket_minutes(f)}
    wanted = {name: available[name] for name in _PARAM.findall(text) if name in available}
    if "since" in wanted or "until" in wanted:
        from inferwatch.queries.params import parse_time

        for name in ("since", "until"):
            if name in wanted:
                wanted[name] = parse_time(wanted[name]).strftime("%Y-%m-%d %H:%M:%S.%f")
    return data.run_sql(text, wanted), "query"


def _chart(frame: pd.DataFrame) -> None:
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c])]
    if not numeric or len(frame.columns) < 2:
        return
    times = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    texts = [c for c in frame.columns if c not in numeric and c not in times]
    x_default = (times or texts or [frame.columns[0]])[0]
    y_options = [c for c in numeric if c != x_default] or numeric
    cols = st.columns(4)
    x = cols[0].selectbox("x", list(frame.columns), index=list(frame.columns).index(x_default))
    y = cols[1].selectbox("y", y_options, index=0)
    colors = [NONE, *[c for c in texts if c != x]]
    color = cols[2].selectbox("colour", colors, index=1 if times and len(colors) > 1 else 0)
    kind = cols[3].selectbox("chart", ["line", "bar", "scatter"], index=0 if times else 1)
    st.plotly_chart(charts.auto_chart(frame, x, y, color=None if color == NONE else color, kind=kind))


def body(f: Filters) -> None:
    """Pick, run, look, download."""
    named = [q.name for q in queries.list_queries()]
    titles = {q.name: q.title for q in queries.list_queries()}
    options = [*named, CUSTOM]
    default = DEFAULT_QUERY if DEFAULT_QUERY in named else options[0]
    key, keep = remembered("sql.choice", default, options)
    choice = st.selectbox("Query", options, key=key, on_change=keep,
                          format_func=lambda n: n if n == CUSTOM else f"{titles[n]} ({n})")
    frame, name = _custom(f) if choice == CUSTOM else _named(f, choice)
    if frame is None:
        return
    if frame.attrs.get("truncated"):
        st.warning("The collector truncated the answer at its row limit (`--query-max-rows`).")
    st.caption(f"{len(frame):,} rows")
    st.dataframe(frame, hide_index=True)
    st.download_button("Download CSV", frame.to_csv(index=False).encode("utf-8"), file_name=f"{name}.csv",
                       mime="text/csv", icon=":material/download:")
    if not frame.empty:
        _chart(frame)


page.render("SQL", "Named queries and your own read-only SQL against the same store the CLI reads.", body,
            needs_data=False)
