"""The inferwatch dashboard: navigation only; pages live in app_pages/ (start: `inferwatch dashboard`)."""

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "app_pages"

st.set_page_config(page_title="inferwatch", page_icon=":material/monitoring:", layout="wide")
st.navigation([
    st.Page(PAGES / "fleet.py", title="Fleet", icon=":material/dashboard:", default=True),
    st.Page(PAGES / "edge_vs_cloud.py", title="Edge vs cloud", icon=":material/compare_arrows:"),
    st.Page(PAGES / "regressions.py", title="Regressions", icon=":material/trending_down:"),
    st.Page(PAGES / "devices.py", title="Devices", icon=":material/devices:"),
    st.Page(PAGES / "sql_console.py", title="SQL", icon=":material/terminal:"),
]).run()
