"""The sidebar filters every page honours: time range, service, model, version, target, hardware."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
import streamlit as st

from . import data
from .state import remembered

__all__ = ["ALL", "RANGES", "REFRESH", "Filters", "bucket_minutes", "narrowed", "sidebar"]

ALL = "All"
# label -> (since, bucket minutes for time series over that range)
RANGES: dict[str, tuple[str, int]] = {
    "Last 15 minutes": ("-15m", 1),
    "Last hour": ("-1h", 1),
    "Last 6 hours": ("-6h", 5),
    "Last 24 hours": ("-24h", 15),
    "Last 7 days": ("-7d", 60),
    "Last 30 days": ("-30d", 360),
}
DEFAULT_RANGE = "Last 24 hours"
REFRESH: dict[str, float | None] = {"Off": None, "every 30 s": 30.0, "every minute": 60.0,
                                    "every 5 minutes": 300.0}
_DIMENSIONS = (("service", "service", "Service"), ("model", "model", "Model"),
               ("version", "model_version", "Version"), ("target", "target", "Target"),
               ("hardware", "hardware", "Hardware"))


@dataclass(frozen=True)
class Filters:
    """What the sidebar selects; None means no filter on that dimension."""

    range_label: str = DEFAULT_RANGE
    service: str | None = None
    model: str | None = None
    version: str | None = None
    target: str | None = None
    hardware: str | None = None
    refresh_s: float | None = None

    @property
    def since(self) -> str:
        """Start of the range as the queries take it (relative, e.g. `-24h`)."""
        return RANGES[self.range_label][0]

    def params(self, **overrides: Any) -> dict[str, Any]:
        """Parameters for the named queries (since/until and the five dimensions)."""
        out = {"since": self.since, "until": "now", "service": self.service, "model": self.model,
               "version": self.version, "target": self.target, "hardware": self.hardware}
        out.update(overrides)
        return out

    def describe(self) -> str:
        """One line naming the active filters, for captions."""
        chosen = [f"{k} = {v}" for k, v in asdict(self).items()
                  if k not in ("range_label", "refresh_s") and v is not None]
        return self.range_label.lower() + (" · " + ", ".join(chosen) if chosen else "")


def bucket_minutes(f: Filters) -> int:
    """Time-series bucket width for the selected range."""
    return RANGES[f.range_label][1]


def _persisted(name: str, label: str, options: list[str], default: str) -> str:
    """A sidebar selectbox whose choice survives page switches."""
    key, keep = remembered(f"filter.{name}", default, options)
    return st.selectbox(label, options, key=key, on_change=keep)


def _choices(frame: pd.DataFrame, column: str) -> list[str]:
    values = sorted({str(v) for v in frame[column].dropna().unique()}) if column in frame else []
    return [ALL, *values]


def _narrow(frame: pd.DataFrame, column: str, value: str | None) -> pd.DataFrame:
    return frame[frame[column].astype(str) == value] if value is not None and column in frame else frame


def narrowed(frame: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """The rows of a filter-choices frame (`data.dimensions`) that match every filter chosen in `f`."""
    for name, column, _ in _DIMENSIONS:
        frame = _narrow(frame, column, getattr(f, name))
    return frame


def sidebar(choices: Callable[[str], pd.DataFrame | None]) -> Filters:
    """Draw the filters in the sidebar and return the selection (choices narrow one another).

    `choices(since)` gives the distinct service, model, version, target and hardware in the range.
    """
    with st.sidebar:
        st.caption(f"Data: `{data.settings().label}`")
        range_label = _persisted("range", "Time range", list(RANGES), DEFAULT_RANGE)
        found = choices(RANGES[range_label][0])
        frame = found if found is not None else pd.DataFrame()
        chosen: dict[str, str | None] = {}
        for name, column, label in _DIMENSIONS:
            value = _persisted(name, label, _choices(frame, column), ALL)
            chosen[name] = None if value == ALL else value
            frame = _narrow(frame, column, chosen[name])
        refresh = _persisted("refresh", "Auto refresh", list(REFRESH), "Off")
        st.button("Refresh now", icon=":material/refresh:", width="stretch", on_click=data.clear)
    return Filters(range_label, refresh_s=REFRESH[refresh], **chosen)
