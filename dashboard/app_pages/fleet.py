"""Fleet: calls, error rate, p95 per target and model, devices online, and the trend over time."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from inferwatch.dashboard import charts, data, page, skeleton
from inferwatch.dashboard.filters import Filters, bucket_minutes
from inferwatch.dashboard.format import ONLINE_WITHIN_S, fmt_count, fmt_ms, fmt_pct


def body(f: Filters) -> None:
    """The fleet at a glance: the overview is read alone (the headline numbers and first charts need only
    it, and two cores serve one query fastest), then drawn while the device list and the trend are read
    (they fill their places when they arrive). On a tab's first run the first charts' frames go out before
    any query, so the browser loads plotly.js meanwhile (see skeleton.py)."""
    minutes = bucket_minutes(f)
    cols = st.columns(4)
    section = st.empty()  # the per-target charts' place: empty frames on a tab's first run
    with section.container():
        st.subheader("Per target and model")
        left, right = st.columns(2)
        p95_slot = skeleton.chart_slot(left, "model", "p95 latency (ms)", "p95 latency")
        error_slot = skeleton.chart_slot(right, "model", "error rate (share of calls)", "Error rate")
    overview = data.run_named("fleet_overview", f.params())
    if overview.empty:
        section.empty()
        page.no_match(f)
        return
    joined = data.in_background(lambda: data.devices(f.service, f.target, f.hardware),
                                lambda: data.run_named("hourly_trend", f.params(bucket_minutes=minutes)))
    calls, errors = int(overview["calls"].sum()), int(overview["errors"].sum())
    worst = overview.loc[overview["latency_ms_p95"].idxmax()]
    cols[0].metric("Calls", fmt_count(calls), help=f"Inference calls, {f.describe()}")
    cols[1].metric("Error rate", fmt_pct(errors / calls if calls else None), help="Failed calls / calls")
    online_slot = cols[2].empty()
    cols[3].metric("Highest p95", fmt_ms(worst["latency_ms_p95"]),
                   help=f"{worst['model']} on {worst['target']}; percentiles come from merged histograms")

    labelled = overview.assign(series=overview["model"] + " · " + overview["target"])
    p95_slot.plotly_chart(charts.bars(labelled, "model", "latency_ms_p95", "model", "p95 latency (ms)",
                                      color="target", title="p95 latency", text_format=".1f"))
    error_slot.plotly_chart(charts.bars(labelled, "model", "error_rate", "model",
                                        "error rate (share of calls)", color="target", title="Error rate",
                                        text_format=".2%"))
    st.dataframe(overview, hide_index=True, column_config={
        "error_rate": st.column_config.NumberColumn("error rate", format="percent"),
        "latency_ms_p50": st.column_config.NumberColumn("p50 (ms)", format="%.2f"),
        "latency_ms_p95": st.column_config.NumberColumn("p95 (ms)", format="%.2f"),
        "latency_ms_p99": st.column_config.NumberColumn("p99 (ms)", format="%.2f"),
        "confidence_mean": st.column_config.NumberColumn("mean confidence", format="%.3f"),
        "last_seen": st.column_config.DatetimeColumn("last seen (UTC)"),
    })

    joined()
    devices = data.devices(f.service, f.target, f.hardware)
    online = int((devices["silent_s"] <= ONLINE_WITHIN_S).sum()) if not devices.empty else 0
    online_slot.metric("Devices online", f"{online} / {len(devices)}",
                       help=f"Devices heard from in the last {ONLINE_WITHIN_S // 60} minutes")

    trend = data.run_named("hourly_trend", f.params(bucket_minutes=minutes))
    if not trend.empty:
        st.subheader(f"Over time ({minutes}-minute buckets)")
        trend["calls_per_s"] = trend["calls"] / (minutes * 60)
        step = pd.Timedelta(minutes=minutes)
        left, right = st.columns(2)
        left.plotly_chart(charts.time_series(trend, "bucket", "calls_per_s", "throughput (calls/s)",
                                             color="target", dash="model", title="Throughput", step=step))
        right.plotly_chart(charts.time_series(trend, "bucket", "latency_ms_p95", "p95 latency (ms)",
                                              color="target", dash="model", title="p95 latency", step=step))


page.render("Fleet", "Calls, errors and latency across every device and service.", body)
