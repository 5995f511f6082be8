"""Plotly figure builders: pure functions of DataFrames, every axis titled with its unit."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

__all__ = [
    "TARGET_COLORS",
    "auto_chart",
    "axis_title",
    "bars",
    "confidence_distribution",
    "distribution_pair",
    "latency_cdf",
    "online_timeline",
    "percentile_bars",
    "side_bars",
    "time_series",
]

TARGET_COLORS = {"edge": "#2a9d8f", "cloud": "#e76f51", "unknown": "#8d99ae"}
SIDE_COLORS = {"baseline": "#577590", "candidate": "#f3722c"}
SLO_COLOR = "#d62828"
_PERCENTILES = {"latency_ms_p50": "p50", "latency_ms_p95": "p95", "latency_ms_p99": "p99"}


def _layout(fig: go.Figure, x_title: str, y_title: str, title: str | None = None,
            height: int = 360) -> go.Figure:
    margin = {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10}
    fig.update_layout(title={"text": title, "x": 0, "xanchor": "left"} if title else None, height=height,
                      margin=margin, legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 1,
                                             "xanchor": "right", "title": None})
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def _colors(frame: pd.DataFrame, column: str | None) -> dict[str, str] | None:
    if column == "target":
        return TARGET_COLORS
    return None


def time_series(frame: pd.DataFrame, x: str, y: str, y_title: str, *, color: str | None = None,
                title: str | None = None, dash: str | None = None) -> go.Figure:
    """Lines over time (UTC) with markers, one per `color` (and `dash`) group."""
    fig = px.line(frame, x=x, y=y, color=color, line_dash=dash, markers=True,
                  color_discrete_map=_colors(frame, color))
    return _layout(fig, "time (UTC)", y_title, title)


def bars(frame: pd.DataFrame, x: str, y: str, x_title: str, y_title: str, *, color: str | None = None,
         title: str | None = None, text_format: str | None = None, log_y: bool = False) -> go.Figure:
    """Grouped bars, optionally labelled with a d3 format (e.g. `.2%`, `$.4f`)."""
    fig = px.bar(frame, x=x, y=y, color=color, barmode="group", log_y=log_y,
                 color_discrete_map=_colors(frame, color), text_auto=text_format or False)
    fig.update_yaxes(rangemode="tozero")
    if text_format and "%" in text_format:
        fig.update_yaxes(tickformat=".1%")
    return _layout(fig, x_title, y_title, title)


def percentile_bars(frame: pd.DataFrame, slo_ms: float | None = None, title: str | None = None) -> go.Figure:
    """p50/p95/p99 latency per version and target, with the SLO as a dashed line."""
    long = frame.melt(id_vars=["model_version", "target"], value_vars=list(_PERCENTILES),
                      var_name="percentile", value_name="latency_ms")
    long["percentile"] = long["percentile"].map(_PERCENTILES)
    long["version"] = "v" + long["model_version"].astype(str)
    fig = px.bar(long, x="percentile", y="latency_ms", color="target", barmode="group",
                 facet_col="version", color_discrete_map=TARGET_COLORS)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    if slo_ms:
        fig.add_hline(y=slo_ms, line_dash="dash", line_color=SLO_COLOR,
                      annotation_text=f"SLO {slo_ms:g} ms", annotation_position="top left")
    fig = _layout(fig, "", "latency (ms)", title)
    fig.update_xaxes(title_text="percentile")
    fig.update_layout(margin={"t": 80}, legend={"y": 1.12})
    return fig


def latency_cdf(frame: pd.DataFrame, slo_ms: float | None = None, title: str | None = None) -> go.Figure:
    """Latency CDF (share of calls at or below a latency) per target, log latency axis."""
    fig = px.line(frame, x="latency_ms", y="quantile", color="target",
                  line_dash="model" if frame["model"].nunique() > 1 else None,
                  color_discrete_map=TARGET_COLORS, log_x=True,
                  hover_data={"calls": True, "quantile": ":.3f", "latency_ms": ":.2f"})
    if slo_ms:  # a trace, not a shape: shapes on log axes take log10 coordinates
        fig.add_trace(go.Scatter(x=[slo_ms, slo_ms], y=[0, 1], mode="lines", name=f"SLO {slo_ms:g} ms",
                                 line={"dash": "dash", "color": SLO_COLOR, "width": 1.5}))
    fig.update_yaxes(tickformat=".0%", range=[0, 1.01])
    return _layout(fig, "latency (ms, log scale)", "share of calls ≤ latency", title)


def confidence_distribution(buckets: pd.DataFrame, bin_width: float = 0.02,
                            title: str | None = None) -> go.Figure:
    """Share of calls per confidence bin for each target (rebinned from 0.005-wide buckets)."""
    frame = buckets.copy()
    frame["bin"] = (frame["lower"] / bin_width + 1e-9).apply(math.floor) * bin_width
    grouped = frame.groupby(["target", "bin"], as_index=False)["count"].sum()
    grouped["share"] = grouped["count"] / grouped.groupby("target")["count"].transform("sum")
    grouped["center"] = grouped["bin"] + bin_width / 2
    fig = px.bar(grouped, x="center", y="share", color="target", barmode="overlay", opacity=0.65,
                 color_discrete_map=TARGET_COLORS, hover_data={"count": True, "center": ":.2f"})
    fig.update_traces(width=bin_width)
    fig.update_yaxes(tickformat=".0%")
    fig.update_xaxes(range=[max(0.0, grouped["bin"].min() - bin_width), 1.0])
    return _layout(fig, "confidence (0–1)", "share of calls", title)


def distribution_pair(lower: Sequence[float], upper: Sequence[float], baseline: Sequence[float],
                      candidate: Sequence[float], x_title: str, *, log_x: bool = False,
                      markers: dict[str, float] | None = None, title: str | None = None) -> go.Figure:
    """Baseline vs candidate share per bucket [lower, upper) as overlaid step lines, with markers."""
    fig = go.Figure()
    total_b, total_c = float(sum(baseline)) or 1.0, float(sum(candidate)) or 1.0
    for name, counts, total in (("baseline", baseline, total_b), ("candidate", candidate, total_c)):
        xs: list[float] = []
        ys: list[float] = []
        for lo, hi, n in zip(lower, upper, counts):
            share = n / total
            xs += [lo, hi]
            ys += [share, share]
        n = int(sum(counts))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=f"{name} (n={n:,})",
                                 line={"color": SIDE_COLORS[name], "width": 2}, fill="tozeroy",
                                 opacity=0.5))
    top = max((n / t for counts, t in ((baseline, total_b), (candidate, total_c)) for n in counts), default=0)
    for label, value in (markers or {}).items():
        if value is not None and math.isfinite(value) and (value > 0 or not log_x):
            color = SIDE_COLORS["candidate"] if label.startswith("candidate") else SIDE_COLORS["baseline"]
            fig.add_trace(go.Scatter(x=[value, value], y=[0, top * 1.05], mode="lines", name=label,
                                     line={"dash": "dot", "color": color, "width": 2}))
    if log_x:
        fig.update_xaxes(type="log")
    fig.update_yaxes(tickformat=".1%")
    return _layout(fig, x_title, "share of calls per bucket", title, height=300)


def online_timeline(runs: pd.DataFrame, title: str | None = None) -> go.Figure:
    """One bar per stretch of back-to-back windows per device; white space between bars is a gap."""
    fig = px.timeline(runs, x_start="online_from", x_end="online_until", y="device_id", color="target",
                      color_discrete_map=TARGET_COLORS, hover_data={"hardware": True})
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "time (UTC)", "device", title, height=max(240, 28 * runs["device_id"].nunique() + 80))


_UNITS = (("_ms", "ms"), ("_bytes", "bytes"), ("_usd", "USD"), ("_rate", "share"), ("_per_s", "per s"),
          ("_ns", "ns"), ("_s", "s"), ("_seconds", "s"))


def axis_title(column: str) -> str:
    """A column name with the unit its suffix implies: `latency_ms_p95` → `latency_ms_p95 (ms)`."""
    name = column.lower()
    for suffix, unit in _UNITS:
        if name.endswith(suffix) or f"{suffix}_" in name:
            return f"{column} ({unit})"
    return column


def auto_chart(frame: pd.DataFrame, x: str, y: str, *, color: str | None = None, kind: str = "line",
               title: str | None = None) -> go.Figure:
    """A line, bar or scatter chart of any query answer, axes titled with units from the column names."""
    plot = {"line": px.line, "bar": px.bar, "scatter": px.scatter}[kind]
    kwargs = {"markers": True} if kind == "line" else {"barmode": "group"} if kind == "bar" else {}
    fig = plot(frame, x=x, y=y, color=color, color_discrete_map=_colors(frame, color), **kwargs)
    x_title = "time (UTC)" if pd.api.types.is_datetime64_any_dtype(frame[x]) else axis_title(x)
    return _layout(fig, x_title, axis_title(y), title)


def side_bars(frame: pd.DataFrame, y: str, y_title: str, text_format: str) -> go.Figure:
    """Baseline and candidate as two bars with ±`ci` error bars, labelled with their sample sizes."""
    fig = px.bar(frame, x="side", y=y, color="side", error_y="ci", text="label",
                 color_discrete_map=SIDE_COLORS)
    fig.update_traces(textposition="inside")
    fig.update_yaxes(tickformat=text_format.replace(".2%", ".1%"))
    fig.update_layout(showlegend=False)
    return _layout(fig, "", y_title, height=300)
