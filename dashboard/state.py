"""Widget values that survive page switches (Streamlit forgets a page's widgets when it is left)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

__all__ = ["remembered"]


def remembered(name: str, default: Any,
               options: Sequence[Any] | None = None) -> tuple[str, Callable[[], None]]:
    """A widget key preset to the last value chosen (or `default`) and the on_change that keeps it."""
    store, key = f"iw.keep.{name}", f"iw.widget.{name}"
    value = st.session_state.get(store, default)
    if options is not None and value not in options:
        value = default
    st.session_state[key] = value

    def keep() -> None:
        st.session_state[store] = st.session_state[key]

    return key, keep
