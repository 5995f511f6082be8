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
    "panel_bars",
    "percentile_bars",
    "side_bars",
    "skeleton",
    "time_series",
]

TARGET_COLORS = {"edge": "#2a9d8f", "cloud": "#e76f51", "unknown": "#8d99ae"}
SIDE_COLORS = {"baseline": "#577590", "candidate": "#f3722c"}
SLO_COLOR = "#d62828"
_PERCENTILES = {"latency_ms_p50": "p50", "latency_ms_p95": "p95", "latency_ms_p99": "p99"}
_DASHES = ("solid", "dot", "dash", "longdash", "dashdot", "longdashdot")
MARKERS_UP_TO = 120  # points per line; longer lines are drawn without markers (lighter to draw)
# Margins are fixed, wide enough for the tick labels and axis titles, rather than grown by plotly.js
# (`automargin`): growing them makes plotly.js lay out and draw a chart twice; six bar charts took 620–800 ms
# of the browser's main thread per rerun that way, 410–510 ms with fixed margins.
MARGIN = {"l": 72, "r": 16, "b": 56}
TOP = {True: 72, False: 36}  # px above the plot with a title (and the legend above the plot) / without

# Figures are built as plain dicts and wrapped without plotly's property validation: plotly.express and
# validated graph objects cost ~50 ms per chart on the dashboard's 2-core host, dicts ~2 ms.


def _figure(traces: list[dict], layout: dict) -> go.Figure:
    return go.Figure({"data": traces, "layout": layout}, _validate=False)


def _label_px(labels: Sequence[object]) -> int:
    """Room (px) for the longest of these tick labels written out at the default 12 px font."""
    return 7 * max((len(str(v)) for v in labels), default=0)


def _base_layout(x_title: str, y_title: str, title: str | None = None, height: int = 360,
                 **margin: int) -> dict:
    return {
        "title": {"text": title, "x": 0, "xanchor": "left"} if title else None, "height": height,
        "margin": {**MARGIN, "t": TOP[bool(title)], **margin, "autoexpand": False},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 1, "xanchor": "right",
                   "title": {"text": None}},
        "xaxis": {"title": {"text": x_title}, "automargin": False},
        "yaxis": {"title": {"text": y_title}, "automargin": False},
        "hovermode": "closest",
    }


def skeleton(x_title: str, y_title: str, title: str | None = None, height: int = 360) -> go.Figure:
    """An empty chart frame (titles, axes, "Loading…") drawn where a chart will appear."""
    layout = _base_layout(x_title, y_title, title, height)
    layout["xaxis"].update(showticklabels=False, showgrid=False, zeroline=False)
    layout["yaxis"].update(showticklabels=False, showgrid=False, zeroline=False)
    layout["annotations"] = [{"text": "Loading…", "showarrow": False, "xref": "paper", "yref": "paper",
                              "x": 0.5, "y": 0.5, "font": {"color": "#8d99ae", "size": 14}}]
    return _figure([], layout)


def _layout(fig: go.Figure, x_title: str, y_title: str, title: str | None = None,
            height: int = 360) -> go.Figure:
    """Titles, height, margins and a top-right legend for a plotly.express figure."""
    base = _base_layout(x_title, y_title, title, height)
    # plotly.express figures keep their template's automargin (any column can be on their axes)
    margin = {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10}
    fig.update_layout(title=base["title"], height=height, margin=margin, legend=base["legend"])
    fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=y_title)
    return fig


def _colors(frame: pd.DataFrame, column: str | None) -> dict[str, str] | None:
    if column == "target":
        return TARGET_COLORS
    return None


def _values(series: pd.Series) -> list:
    """JSON-friendly values (timestamps as ISO strings, NaN as None)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return [None if pd.isna(v) else v.isoformat() for v in series]
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v
                for v in series.astype(float).tolist()]
    return [None if v is None or v is pd.NA else str(v) for v in series.tolist()]


def _groups(frame: pd.DataFrame, *columns: str | None) -> list[tuple[tuple[str, ...], pd.DataFrame]]:
    keys = [c for c in columns if c]
    if not keys:
        return [((), frame)]
    return [((k,) if not isinstance(k, tuple) else tuple(map(str, k)), part)
            for k, part in frame.groupby(keys, sort=False, dropna=False)]


def _color_for(column: str | None, value: str) -> dict:
    color = TARGET_COLORS.get(value) if column == "target" else None
    return {"color": color} if color else {}


def time_series(frame: pd.DataFrame, x: str, y: str, y_title: str, *, color: str | None = None,
                title: str | None = None, dash: str | None = None,
                step: pd.Timedelta | None = None) -> go.Figure:
    """Lines over time (UTC), one per `color` (and `dash`) group; markers while lines are short.

    With `step` (the bucket width), data spanning less than one step is shown ± one step around it
    rather than on an axis of milliseconds.
    """
    frame = frame.sort_values(x)
    dashes: dict[str, str] = {}
    traces = []
    for key, part in _groups(frame, color, dash):
        key = tuple(str(k) for k in key)
        c = key[0] if color else None
        d = key[-1] if dash else None
        if d is not None:
            dashes.setdefault(d, _DASHES[len(dashes) % len(_DASHES)])
        traces.append({"type": "scatter", "x": _values(part[x]), "y": _values(part[y]),
                       "name": ", ".join(key) if key else y,
                       "mode": "lines+markers" if len(part) <= MARKERS_UP_TO else "lines",
                       "line": {**_color_for(color, c or ""), "dash": dashes.get(d, "solid")},
                       "hovertemplate": f"%{{x}}<br>{y_title}: %{{y:.4g}}<extra>%{{fullData.name}}</extra>"})
    layout = _base_layout("time (UTC)", y_title, title, b=72)  # dates may take a second line
    layout["xaxis"]["type"] = "date"
    if step is not None and len(frame):
        lo, hi = pd.Timestamp(frame[x].min()), pd.Timestamp(frame[x].max())
        if hi - lo < step:
            layout["xaxis"]["range"] = [(lo - step).isoformat(), (hi + step).isoformat()]
    return _figure(traces, layout)


def _text(text_format: str | None) -> dict:
    return {"texttemplate": f"%{{y:{text_format}}}", "textposition": "auto"} if text_format else {}


def bars(frame: pd.DataFrame, x: str, y: str, x_title: str, y_title: str, *, color: str | None = None,
         title: str | None = None, text_format: str | None = None, log_y: bool = False) -> go.Figure:
    """Grouped bars, optionally labelled with a d3 format (e.g. `.2%`, `$.4f`)."""
    traces = []
    for key, part in _groups(frame, color):
        name = str(key[0]) if key else y
        traces.append({"type": "bar", "x": _values(part[x]), "y": _values(part[y]), "name": name,
                       "marker": _color_for(color, name), **_text(text_format),
                       "hovertemplate": f"{x_title}: %{{x}}<br>{y_title}: %{{y}}<extra>{name}</extra>"})
    categories = frame[x].unique() if x in frame else []
    crowded = len(categories) > 8  # e.g. 40 device ids: written vertically, with room below for them
    room = {"b": min(36 + _label_px(categories), 200)} if crowded else {}
    layout = _base_layout(x_title, y_title, title, **room)
    layout["barmode"] = "group"
    layout["xaxis"]["type"] = "category"
    if crowded:
        layout["xaxis"]["tickangle"] = -90
    layout["yaxis"].update(rangemode="tozero", **({"type": "log"} if log_y else {}))
    if text_format and "%" in text_format:
        layout["yaxis"]["tickformat"] = ".1%"
    layout["showlegend"] = bool(color)
    return _figure(traces, layout)


def panel_bars(frame: pd.DataFrame, x: str, panels: Sequence[tuple[str, str, str]], x_title: str, *,
               color: str | None = None, title: str | None = None) -> go.Figure:
    """Side-by-side grouped bar charts in one figure, one panel per (column, y title, d3 format), sharing
    the legend: one chart for plotly.js to set up and draw instead of one per measure."""
    n = len(panels)
    gap = 0.08  # of the width, for the next panel's tick labels and axis title
    width = (1 - gap * (n - 1)) / n
    layout = _base_layout(x_title, panels[0][1], title)
    layout["barmode"] = "group"
    layout["showlegend"] = bool(color)
    traces = []
    for i, (y, y_title, text_format) in enumerate(panels):
        suffix = str(i + 1) if i else ""
        domain = [i * (width + gap), i * (width + gap) + width]
        layout[f"xaxis{suffix}"] = {"title": {"text": x_title}, "automargin": False, "type": "category",
                                    "domain": domain, "anchor": f"y{suffix}"}
        layout[f"yaxis{suffix}"] = {"title": {"text": y_title}, "automargin": False, "rangemode": "tozero",
                                    "anchor": f"x{suffix}",
                                    **({"tickformat": ".1%"} if "%" in text_format else {})}
        for key, part in _groups(frame, color):
            name = str(key[0]) if key else y
            traces.append({"type": "bar", "x": _values(part[x]), "y": _values(part[y]), "name": name,
                           "legendgroup": name, "showlegend": i == 0, "marker": _color_for(color, name),
                           "xaxis": f"x{suffix}", "yaxis": f"y{suffix}", **_text(text_format),
                           "hovertemplate": f"{x_title}: %{{x}}<br>{y_title}: %{{y}}<extra>{name}</extra>"})
    return _figure(traces, layout)


def percentile_bars(frame: pd.DataFrame, slo_ms: float | None = None, title: str | None = None) -> go.Figure:
    """p50/p95/p99 latency per version and target (version, then percentile, on the x axis), SLO dashed."""
    traces = []
    versions = sorted({str(v) for v in frame["model_version"]})
    for key, part in _groups(frame, "target"):
        target = str(key[0])
        xs: tuple[list[str], list[str]] = ([], [])
        ys: list[float] = []
        for version in versions:
            rows = part[part["model_version"].astype(str) == version]
            for column, label in _PERCENTILES.items():
                xs[0].append(f"v{version}")
                xs[1].append(label)
                ys.append(float(rows[column].iloc[0]) if len(rows) else None)
        traces.append({"type": "bar", "x": [xs[0], xs[1]], "y": ys, "name": target,
                       "marker": _color_for("target", target),
                       "hovertemplate": "%{x}: %{y:.3g} ms<extra>" + target + "</extra>"})
    layout = _base_layout("version · percentile", "latency (ms)", title, b=76)  # two rows of labels
    layout["barmode"] = "group"
    layout["yaxis"]["rangemode"] = "tozero"
    if slo_ms:
        layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": slo_ms,
                             "y1": slo_ms, "line": {"dash": "dash", "color": SLO_COLOR}}]
        layout["annotations"] = [{"text": f"SLO {slo_ms:g} ms", "xref": "paper", "x": 0, "xanchor": "left",
                                  "yref": "y", "y": slo_ms, "yanchor": "bottom", "showarrow": False,
                                  "font": {"color": SLO_COLOR}}]
    return _figure(traces, layout)


def latency_cdf(frame: pd.DataFrame, slo_ms: float | None = None, title: str | None = None) -> go.Figure:
    """Latency CDF (share of calls at or below a latency) per target, log latency axis."""
    by_model = frame["model"].nunique() > 1
    traces = []
    dashes: dict[str, str] = {}
    for key, part in _groups(frame, "target", "model" if by_model else None):
        target = str(key[0])
        model = str(key[1]) if by_model else None
        if model is not None:
            dashes.setdefault(model, _DASHES[len(dashes) % len(_DASHES)])
        traces.append({"type": "scatter", "mode": "lines", "x": _values(part["latency_ms"]),
                       "y": _values(part["quantile"]), "customdata": _values(part["calls"]),
                       "name": f"{target}, {model}" if model else target,
                       "line": {**_color_for("target", target), "dash": dashes.get(model, "solid")},
                       "hovertemplate": "latency %{x:.2f} ms<br>share ≤ %{y:.3f}<br>calls %{customdata}"
                                        "<extra>%{fullData.name}</extra>"})
    if slo_ms:  # a trace, not a shape: shapes on log axes take log10 coordinates
        traces.append({"type": "scatter", "x": [slo_ms, slo_ms], "y": [0, 1], "mode": "lines",
                       "name": f"SLO {slo_ms:g} ms",
                       "line": {"dash": "dash", "color": SLO_COLOR, "width": 1.5}})
    layout = _base_layout("latency (ms, log scale)", "share of calls ≤ latency", title)
    layout["xaxis"]["type"] = "log"
    layout["yaxis"].update(tickformat=".0%", range=[0, 1.01])
    return _figure(traces, layout)


def confidence_distribution(buckets: pd.DataFrame, bin_width: float = 0.02,
                            title: str | None = None) -> go.Figure:
    """Share of calls per confidence bin for each target (rebinned from 0.005-wide buckets)."""
    frame = buckets.copy()
    frame["bin"] = (frame["lower"] / bin_width + 1e-9).apply(math.floor) * bin_width
    grouped = frame.groupby(["target", "bin"], as_index=False)["count"].sum()
    grouped["share"] = grouped["count"] / grouped.groupby("target")["count"].transform("sum")
    grouped["center"] = grouped["bin"] + bin_width / 2
    traces = [{"type": "bar", "x": _values(part["center"]), "y": _values(part["share"]),
               "customdata": _values(part["count"]), "name": str(key[0]), "opacity": 0.65, "width": bin_width,
               "marker": _color_for("target", str(key[0])),
               "hovertemplate": "confidence %{x:.2f}<br>share %{y:.1%}<br>calls %{customdata}"
                                "<extra>%{fullData.name}</extra>"}
              for key, part in _groups(grouped, "target")]
    layout = _base_layout("confidence (0–1)", "share of calls", title)
    layout["barmode"] = "overlay"
    layout["yaxis"]["tickformat"] = ".0%"
    layout["xaxis"]["range"] = [max(0.0, float(grouped["bin"].min()) - bin_width), 1.0]
    return _figure(traces, layout)


def distribution_pair(lower: Sequence[float], upper: Sequence[float], baseline: Sequence[float],
                      candidate: Sequence[float], x_title: str, *, log_x: bool = False,
                      markers: dict[str, float] | None = None, title: str | None = None) -> go.Figure:
    """Baseline vs candidate share per bucket [lower, upper) as overlaid step lines, with markers."""
    traces = []
    total_b, total_c = float(sum(baseline)) or 1.0, float(sum(candidate)) or 1.0
    for name, counts, total in (("baseline", baseline, total_b), ("candidate", candidate, total_c)):
        xs: list[float] = []
        ys: list[float] = []
        for lo, hi, n in zip(lower, upper, counts):
            share = n / total
            xs += [float(lo), float(hi)]
            ys += [share, share]
        n = int(sum(counts))
        traces.append({"type": "scatter", "x": xs, "y": ys, "mode": "lines", "name": f"{name} (n={n:,})",
                       "line": {"color": SIDE_COLORS[name], "width": 2}, "fill": "tozeroy", "opacity": 0.5})
    top = max((n / t for counts, t in ((baseline, total_b), (candidate, total_c)) for n in counts), default=0)
    for label, value in (markers or {}).items():
        if value is not None and math.isfinite(value) and (value > 0 or not log_x):
            color = SIDE_COLORS["candidate"] if label.startswith("candidate") else SIDE_COLORS["baseline"]
            traces.append({"type": "scatter", "x": [value, value], "y": [0, top * 1.05], "mode": "lines",
                           "name": label, "line": {"dash": "dot", "color": color, "width": 2}})
    layout = _base_layout(x_title, "share of calls per bucket", title, height=300)
    if log_x:
        layout["xaxis"]["type"] = "log"
    layout["yaxis"]["tickformat"] = ".1%"
    return _figure(traces, layout)


def online_timeline(runs: pd.DataFrame, title: str | None = None) -> go.Figure:
    """One bar per stretch of back-to-back windows per device; white space between bars is a gap."""
    traces = []
    for key, part in _groups(runs, "target"):
        start = pd.to_datetime(part["online_from"])
        length_ms = (pd.to_datetime(part["online_until"]) - start).dt.total_seconds() * 1000
        traces.append({"type": "bar", "orientation": "h", "base": _values(start), "x": length_ms.tolist(),
                       "y": _values(part["device_id"]), "name": str(key[0]),
                       "customdata": _values(part["hardware"]), "marker": _color_for("target", str(key[0])),
                       "hovertemplate": "%{y} (%{customdata})<br>%{base} for %{x:,.0f} ms"
                                        "<extra>%{fullData.name}</extra>"})
    devices = runs["device_id"].unique()
    layout = _base_layout("time (UTC)", "device", title, height=max(240, 28 * len(devices) + 80),
                          l=min(36 + _label_px(devices), 240), b=72)
    layout["barmode"] = "overlay"
    layout["xaxis"]["type"] = "date"
    layout["yaxis"].update(autorange="reversed", type="category")
    return _figure(traces, layout)


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
    traces = [{"type": "bar", "x": [row["side"]], "y": [float(row[y])], "name": row["side"],
               "text": [row["label"]], "textposition": "inside",
               "error_y": {"type": "data", "array": [float(row["ci"])], "visible": True},
               "marker": {"color": SIDE_COLORS[row["side"]]}} for row in frame.to_dict("records")]
    layout = _base_layout("", y_title, height=300)
    layout["showlegend"] = False
    layout["yaxis"]["tickformat"] = text_format.replace(".2%", ".1%")
    return _figure(traces, layout)
