"""Chart frames drawn on a tab's first run while its queries run, so plotly.js loads alongside them.

Streamlit fetches and evaluates plotly.js (4.7 MB) only when the first chart element reaches the browser.
On a new tab that used to start after the page's queries; an empty frame sent before them overlaps the
two (measured here: a one-chart app with 1.5 s of queries drew its chart at 3.3 s with the module
preloaded, 2.1 s with a frame sent first). Later runs of the session draw no frames: the old charts stay
in place until the new ones replace them, without a flash of empty frames.
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from . import charts

__all__ = ["KEY_PREFIX", "chart_slot", "first_run_done"]

KEY_PREFIX = "iw-skeleton-"  # frames live in containers keyed with it (class st-key-iw-skeleton-…)
_DONE = "iw_first_run_done"


def chart_slot(where: DeltaGenerator, x_title: str, y_title: str, title: str) -> DeltaGenerator:
    """A single-element slot in `where` for a chart, holding an empty titled frame on the first run."""
    slot = where.empty()
    if not st.session_state.get(_DONE):
        with slot.container(key=f"{KEY_PREFIX}{title}"):
            st.plotly_chart(charts.skeleton(x_title, y_title, title), config={"staticPlot": True})
    return slot


def first_run_done() -> None:
    """Mark the session's first complete run (frames are drawn only before it)."""
    st.session_state[_DONE] = True
