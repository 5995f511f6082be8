"""Devices: last seen, offline gaps, spool backlog and agent overhead per device."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from inferwatch.dashboard import charts, data, page
from inferwatch.dashboard.filters import Filters
from inferwatch.dashboard.format import ONLINE_WITHIN_S, fmt_age, fmt_bytes

EPOCH_GUARD = pd.Timestamp("2000-01-01")  # earlier first-seen stamps come from gauges without a start time
TOP = 40  # devices per chart; the table lists every device
COUNTERS = ("spool_windows", "spool_bytes", "windows_spooled", "export_failures", "dropped_samples",
            "bytes_sent", "gaps", "gap_seconds")


def _tidy(devices: pd.DataFrame) -> pd.DataFrame:
    frame = devices.copy()
    for column in COUNTERS:
        if column in frame:
            frame[column] = frame[column].fillna(0)  # the agent sends no zero counters
    frame["first_seen"] = frame["first_seen"].where(frame["first_seen"] >= EPOCH_GUARD)
    frame["status"] = frame["silent_s"].map(lambda s: "online" if s <= ONLINE_WITHIN_S else "offline")
    frame["silent"] = frame["silent_s"].map(fmt_age)
    return frame


def body(f: Filters) -> None:
    """Every device the filters select."""
    devices = data.devices(f.service, f.target, f.hardware)
    if devices.empty:
        page.no_match(f)
        return
    devices = _tidy(devices)
    online = int((devices["status"] == "online").sum())
    cols = st.columns(4)
    cols[0].metric("Devices online", f"{online} / {len(devices)}",
                   help=f"Heard from within {ONLINE_WITHIN_S // 60} minutes")
    cols[1].metric("Longest silence", fmt_age(devices["silent_s"].max()))
    cols[2].metric("Spool backlog", fmt_bytes(devices["spool_bytes"].sum()),
                   help="Windows waiting on devices to be delivered (latest report of each agent)")
    cols[3].metric("Offline gaps", f"{int(devices['gaps'].sum())}",
                   help="Breaks between consecutive windows received from a device")

    st.dataframe(devices, hide_index=True, column_order=(
        "status", "device_id", "service", "target", "hardware", "last_seen", "silent", "windows_received",
        "gaps", "gap_seconds", "spool_windows", "spool_bytes", "export_failures", "dropped_samples",
        "bytes_sent", "overhead_ns", "first_seen"), column_config={
        "last_seen": st.column_config.DatetimeColumn("last seen (UTC)"),
        "first_seen": st.column_config.DatetimeColumn("first seen (UTC)"),
        "silent": st.column_config.TextColumn("silent for"),
        "gap_seconds": st.column_config.NumberColumn("offline (s)", format="%.0f"),
        "spool_bytes": st.column_config.NumberColumn("spool (bytes)", format="%.0f"),
        "bytes_sent": st.column_config.NumberColumn("sent (bytes)", format="%.0f"),
        "overhead_ns": st.column_config.NumberColumn("overhead (ns/call)", format="%.0f"),
    })

    st.subheader("Online and offline")
    many = len(devices) > TOP
    if many:
        st.caption(f"Charts show the {TOP} devices that stand out most on each measure; the table above "
                   f"lists all {len(devices):,}.")
    worst = _top(devices, "gap_seconds", "silent_s")["device_id"]
    runs = data.online_runs(f.params(), list(worst) if many else None)
    if not runs.empty:
        title = "Windows received (white space = offline gap)" + (", most offline devices" if many else "")
        st.plotly_chart(charts.online_timeline(runs, title=title))
    left, right = st.columns(2)
    left.plotly_chart(charts.bars(_top(devices, "silent_s"), "device_id", "silent_s", "device",
                                  "silent for (s)", color="target", title="Time since last window",
                                  text_format=".0f"))
    right.plotly_chart(charts.bars(_top(devices, "gap_seconds"), "device_id", "gap_seconds", "device",
                                   "offline time (s)", color="target", title="Offline time in gaps",
                                   text_format=".0f"))

    st.subheader("Agent health")
    left, right = st.columns(2)
    left.plotly_chart(charts.bars(_top(devices, "spool_bytes"), "device_id", "spool_bytes", "device",
                                  "spool backlog (bytes)", color="target", title="Spool backlog",
                                  text_format=".3s"))
    right.plotly_chart(charts.bars(_top(devices, "overhead_ns"), "device_id", "overhead_ns", "device",
                                   "agent overhead (ns per call)", color="target",
                                   title="Agent overhead per call", text_format=".0f"))


def _top(devices: pd.DataFrame, *by: str) -> pd.DataFrame:
    """The TOP devices with the highest values of `by` (all of them when there are fewer), by device id."""
    if len(devices) <= TOP:
        return devices
    columns = [c for c in by if c in devices]
    return devices.sort_values(columns, ascending=False).head(TOP).sort_values("device_id")


page.render("Devices",
            "Every device: when it last reported, its offline gaps, its spool and the agent's cost.", body)
