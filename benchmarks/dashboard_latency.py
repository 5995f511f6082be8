"""Dashboard latency in a real browser: first paint, every page, and a filter change on every page.

Run (the data source is the six-device test fleet unless --collector or --db names one):

    .venv/bin/python benchmarks/dashboard_latency.py [--rounds 7]
    .venv/bin/python benchmarks/dashboard_latency.py --db /tmp/iw/month.duckdb   # e.g. query_latency.py's DB

The test fleet (tests/dashboard/fleet.py: six real agents, 30,000 calls, two versions, edge and cloud)
is sent to a fresh collector subprocess; `--db PATH` reads a DuckDB file no collector holds (such as the
month-of-fleet database `benchmarks/query_latency.py --db PATH` generates); `--collector URL` reads a
running collector. Then `inferwatch dashboard` is started as a user would and driven with Debian's
Chromium (/usr/bin/chromium, headless, through playwright) at 1440 × 1000.

A page is *settled* when Streamlit has sent `script_finished` (read from the app's websocket) for the
run the action caused, its running indicator is gone, the page's title is the heading, every Plotly
chart on the page has drawn its SVG, and two animation frames have passed. Every time below is wall
clock in the browser process from the action to that moment, unless it says otherwise.

  * cold start: `inferwatch dashboard` spawned (Python imports, Streamlit start) → the first page's
    heading and first chart visible. Once.
  * first paint: a new tab opens the running server's address (a new session) → the first page's
    heading and first chart visible; `first_paint_settled` is the same until the whole page has
    settled. Query answers are dropped (the sidebar's *Refresh now*) before each round, so the queries
    run too. Alongside, on the browser's own clock from navigation start: `browser_fcp` (the browser's
    First Contentful Paint), `heading` (the page's h1 exists) and `headline_numbers` (the first
    headline number, an st.metric, exists: the page says something about the fleet).
  * floor: the same first paint for a Streamlit app with nothing but a title and one two-bar Plotly
    chart, served from the same machine: what Streamlit's frontend and plotly.js cost in this browser
    before the dashboard does anything. Measured after the dashboard rounds.
  * open: click a page in the sidebar → settled, with the query answers dropped just before (the
    queries run).
  * filter: on that page, pick Target = edge in the sidebar's open list → settled (answers for edge not
    cached).
  * filter back: pick Target = All again → settled (its answers were cached by the open).

Each is repeated `--rounds` times; p50 and p95 (nearest rank) are reported. `server_s` is the part up to
`script_finished` arriving (the script run: queries, engine, figures, sending), `paint_s` the rest
(the browser drawing); `ws_kib` the websocket bytes the run sent. Writes
benchmarks/results/dashboard_latency.json (`--out` to write elsewhere).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.dashboard.fleet import free_port, seed_fleet, start_collector, wait_for_calls, wait_http  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
RESULTS = ROOT / "benchmarks" / "results" / "dashboard_latency.json"
PAGES = ["Fleet", "Edge vs cloud", "Regressions", "Devices", "SQL"]  # nav link text = page title
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
SETTLED = """(title) => {
  if (document.querySelector("[data-testid='stStatusWidget']")) return false;
  const h1 = document.querySelector("h1");
  if (!h1 || !h1.innerText.includes(title)) return false;
  if (document.querySelector("[class*='st-key-iw-skeleton-']")) return false;
  const charts = [...document.querySelectorAll("[data-testid='stPlotlyChart']")];
  return charts.every(c => c.querySelector(".main-svg"));
}"""
# A chart with data: the empty frames sent on a tab's first run (dashboard/skeleton.py) do not count.
DATA_CHART = ("[...document.querySelectorAll(\"[data-testid='stPlotlyChart'] .main-svg\")]"
              ".some(e => !e.closest(\"[class*='st-key-iw-skeleton-']\"))")
FIRST_CHART = """(title) => {
  const h1 = document.querySelector("h1");
  return !!(h1 && h1.innerText.includes(title) && DATA_CHART);
}""".replace("DATA_CHART", DATA_CHART)
# Browser-side marks (ms since navigation): when the heading, the first headline number (st.metric) and
# the first chart's SVG first exist, polled every animation frame; plus the browser's own paint timings.
MARKS = """
window.__iwMarks = {};
(function tick() {
  const m = window.__iwMarks, t = performance.now(), q = (s) => document.querySelector(s);
  if (m.heading === undefined && q('h1')) m.heading = t;
  if (m.numbers === undefined && q("[data-testid='stMetricValue']")) m.numbers = t;
  if (m.chart === undefined && DATA_CHART) m.chart = t;
  if (m.chart === undefined) requestAnimationFrame(tick);
})();
""".replace("DATA_CHART", DATA_CHART)
READ_MARKS = """() => {
  const out = Object.assign({}, window.__iwMarks);
  for (const e of performance.getEntriesByType('paint')) out[e.name] = e.startTime;
  return out;
}"""
TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
TIMEOUT_MS = 180_000
FLOOR_APP = """import plotly.graph_objects as go
import streamlit as st

st.title("Fleet")
st.plotly_chart(go.Figure({"data": [{"type": "bar", "x": ["a", "b"], "y": [1, 2]}]}, _validate=False))
"""


class Wire:
    """Streamlit's websocket messages as they arrive: script runs finished and bytes received."""

    def __init__(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._msg = ForwardMsg
        self.finished: list[float] = []  # arrival times of script_finished (successful runs)
        self.bytes = 0

    def attach(self, page) -> None:
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        now = time.perf_counter()
        if isinstance(payload, str):
            return
        self.bytes += len(payload)
        try:
            msg = self._msg.FromString(payload)
        except Exception:  # not a ForwardMsg: ignore
            return
        if msg.WhichOneof("type") == "script_finished" and msg.script_finished in (
                self._msg.FINISHED_SUCCESSFULLY, self._msg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
            self.finished.append(now)


def _wait_run(page, wire: Wire, seen: int) -> float:
    """Pump events until a script run beyond `seen` has finished; its arrival time."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while len(wire.finished) <= seen:
        if time.monotonic() > deadline:
            raise TimeoutError("no script_finished from the dashboard")
        page.wait_for_timeout(5)
    return wire.finished[seen]


def measure(page, wire: Wire, title: str, action) -> dict[str, float]:
    """Time `action()` until `title`'s page has settled; split at script_finished."""
    seen, sent = len(wire.finished), wire.bytes
    start = time.perf_counter()
    action()
    finished = _wait_run(page, wire, seen)
    page.wait_for_function(SETTLED, arg=title, timeout=TIMEOUT_MS, polling="raf")
    page.evaluate(TWO_FRAMES)
    end = time.perf_counter()
    errors = page.locator("[data-testid='stException']")
    if errors.count():
        raise RuntimeError(f"{title}: {errors.first.inner_text()}")
    return {"total_s": end - start, "server_s": finished - start, "paint_s": end - finished,
            "ws_kib": (wire.bytes - sent) / 1024,
            "charts": page.locator("[data-testid='stPlotlyChart']").count()}


def _nav(page, title: str):
    return lambda: page.locator("[data-testid='stSidebarNavLink']", has_text=title).first.click()


def _target(page, value: str):
    """Open the sidebar's Target list (before the clock starts); the action is picking `value`."""
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']", has_text="Target").click()
    option = page.get_by_role("option", name=value, exact=True)
    option.wait_for()
    return option.click


def _refresh(page, wire: Wire, title: str) -> None:
    """Drop every cached answer (the sidebar's Refresh now) and wait for the rerun it causes."""
    measure(page, wire, title,
            lambda: page.locator("[data-testid='stSidebar'] button", has_text="Refresh now").click())


def first_paint(context, url: str, title: str) -> dict[str, float]:
    """A new tab (new session) on the running server: heading + first chart, then settled."""
    page = context.new_page()
    page.add_init_script(MARKS)
    wire = Wire()
    wire.attach(page)
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(FIRST_CHART, arg=title, timeout=TIMEOUT_MS, polling="raf")
    painted = time.perf_counter()
    _wait_run(page, wire, 0)
    page.wait_for_function(SETTLED, arg=title, timeout=TIMEOUT_MS, polling="raf")
    page.evaluate(TWO_FRAMES)
    settled = time.perf_counter()
    marks = page.evaluate(READ_MARKS)
    page.close()
    out = {"first_paint_s": painted - start, "first_paint_settled_s": settled - start}
    for key, name in (("first-contentful-paint", "browser_fcp_s"), ("heading", "heading_s"),
                      ("numbers", "headline_numbers_s")):
        if key in marks:
            out[name] = marks[key] / 1000
    return out


def _floor(context, work: Path, rounds: int) -> list[dict[str, float]]:
    """First paint of a one-chart Streamlit app (see `floor` above)."""
    app = work / "floor_app.py"
    app.write_text(FLOOR_APP)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
                             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", timeout_s=120, proc=proc)
        return [first_paint(context, f"http://127.0.0.1:{port}", "Fleet") for _ in range(rounds)]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summary(samples: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if key == "charts":
            out["charts"] = max(values)
            continue
        digits = 1 if key == "ws_kib" else 3
        out[f"{key.removesuffix('_s')}_p50" + ("_s" if key.endswith("_s") else "")] = round(
            statistics.median(values), digits)
        out[f"{key.removesuffix('_s')}_p95" + ("_s" if key.endswith("_s") else "")] = round(
            pct(values, 95), digits)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--collector", help="read this running collector")
    source.add_argument("--db", type=Path, help="read this DuckDB file (no collector may hold it)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="iw-dash-bench-"))
    collector = dash = None
    try:
        if args.db:
            flag, where, label = "--db", str(args.db), f"DuckDB file {args.db}"
        elif args.collector:
            flag, where, label = "--collector", args.collector, f"collector {args.collector}"
        else:
            collector = start_collector(work)
            sent = seed_fleet(collector.url, work / "spool")
            wait_for_calls(collector, sent)
            flag, where, label = "--collector", collector.url, f"test fleet (6 devices, {sent:,} calls)"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        results: dict[str, dict[str, list]] = {t: {"open": [], "filter": [], "filter_back": []}
                                               for t in PAGES}
        paints: list[dict[str, float]] = []
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                str(work / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS,
                viewport={"width": 1440, "height": 1000})
            warm = context.new_page()  # the browser itself is up before the clock starts
            warm.goto("about:blank")
            start = time.perf_counter()
            dash = subprocess.Popen([sys.executable, "-m", "inferwatch.cli", "dashboard", flag, where,
                                     "--port", str(port)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            wait_http(f"{url}/_stcore/health", timeout_s=120, proc=dash)
            healthy = time.perf_counter() - start
            opened = time.perf_counter()
            cold = first_paint(context, url, PAGES[0])
            cold_start = opened - start + cold["first_paint_s"]
            page = context.new_page()
            wire = Wire()
            wire.attach(page)
            page.goto(url)
            _wait_run(page, wire, 0)
            page.wait_for_function(SETTLED, arg=PAGES[0], timeout=TIMEOUT_MS)
            for r in range(args.rounds):
                _refresh(page, wire, page.locator("h1").first.inner_text().strip())
                paints.append(first_paint(context, url, PAGES[0]))
                for title in PAGES:
                    here = page.locator("h1").first.inner_text().strip()
                    if here == title:  # Refresh now reruns (and refills) the page it is clicked on
                        other = PAGES[(PAGES.index(title) + 1) % len(PAGES)]
                        measure(page, wire, other, _nav(page, other))
                        here = other
                    _refresh(page, wire, here)
                    results[title]["open"].append(measure(page, wire, title, _nav(page, title)))
                    results[title]["filter"].append(measure(page, wire, title, _target(page, "edge")))
                    results[title]["filter_back"].append(measure(page, wire, title, _target(page, "All")))
                print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                    f"{t} {results[t]['open'][-1]['total_s']:.2f}/{results[t]['filter'][-1]['total_s']:.2f} s"
                    for t in PAGES), flush=True)
            floor = _floor(context, work, args.rounds)
            context.close()
    finally:
        if dash is not None:
            dash.terminate()
            try:
                dash.wait(timeout=20)
            except subprocess.TimeoutExpired:
                dash.kill()
        if collector is not None:
            collector.stop()
        shutil.rmtree(work, ignore_errors=True)

    rows = {t: {kind: summary(samples) for kind, samples in kinds.items()} for t, kinds in results.items()}
    fp = summary(paints)
    fl = summary(floor)
    print(f"\n{label}; {args.rounds} rounds; times are p50 / p95 in seconds")
    print(f"{'page':<15}{'open':>15}{'filter change':>17}{'filter back':>15}{'  server/paint (open p50)':>26}"
          f"{'charts':>8}{'KiB':>7}")
    for t, r in rows.items():
        o, fc, fb = r["open"], r["filter"], r["filter_back"]
        print(f"{t:<15}{o['total_p50_s']:>7.2f} /{o['total_p95_s']:>5.2f}{fc['total_p50_s']:>9.2f} /"
              f"{fc['total_p95_s']:>5.2f}{fb['total_p50_s']:>7.2f} /{fb['total_p95_s']:>5.2f}"
              f"{o['server_p50_s']:>15.2f} /{o['paint_p50_s']:>5.2f}{o['charts']:>11}{o['ws_kib_p50']:>8.0f}")
    print(f"first paint (new tab, queries run): {fp['first_paint_p50_s']:.2f} / "
          f"{fp['first_paint_p95_s']:.2f} s; "
          f"settled {fp['first_paint_settled_p50_s']:.2f} / {fp['first_paint_settled_p95_s']:.2f} s")
    print(f"  of which (browser clock since navigation, p50): first contentful paint "
          f"{fp['browser_fcp_p50_s']:.2f} s, heading {fp['heading_p50_s']:.2f} s, headline numbers "
          f"{fp['headline_numbers_p50_s']:.2f} s")
    print(f"floor (one-chart Streamlit app, new tab): {fl['first_paint_p50_s']:.2f} / "
          f"{fl['first_paint_p95_s']:.2f} s; first contentful paint {fl['browser_fcp_p50_s']:.2f} s")
    print(f"cold start (process spawned → first chart): {cold_start:.2f} s (healthy after {healthy:.2f} s)")
    out = {"benchmark": "dashboard_latency", "source": label, "rounds": args.rounds,
           "definitions": __doc__.split("\n\n", 3)[3].strip(),
           "cold_start_s": round(cold_start, 3), "cold_server_healthy_s": round(healthy, 3),
           "first_paint": fp, "floor_first_paint": fl, "pages": rows,
           "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                       "load_avg": [round(x, 2) for x in os.getloadavg()]}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
