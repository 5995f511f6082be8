"""Dashboard latency in a real browser: first paint of each page, and a filter change.

Run: .venv/bin/python benchmarks/dashboard_latency.py [--rounds 3]

Starts a collector subprocess filled by six real agents (tests/dashboard/fleet.py: 30,000 calls,
two versions, edge and cloud), then `inferwatch dashboard` against it, and drives Debian's
Chromium (/usr/bin/chromium) with playwright. Measured, wall clock from the browser side:

  * cold: the first load of the app (server just started, nothing cached) until the Fleet page
    shows a drawn Plotly chart;
  * page: clicking a page in the sidebar until its title and a drawn chart are there and the
    script has finished (Streamlit's status widget gone), for every page, `--rounds` times (the
    first visit runs the queries; later visits within 15 s hit the cache);
  * filter: choosing target = edge in the sidebar on the Fleet page until the metrics show the
    edge-only call count (queries not cached yet for that filter).

Writes benchmarks/results/dashboard_latency.json. The data set is small: this measures the
dashboard's own cost (Streamlit, Plotly, the query round trips), not query scaling.
"""

from __future__ import annotations

import argparse
import json
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

PAGES = {"Fleet": "Fleet", "Edge vs cloud": "Edge vs cloud", "Regressions": "Regressions",
         "Devices": "Devices", "SQL": "SQL"}
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage"]
DONE = "() => !document.querySelector(\"[data-testid='stStatusWidget']\")"


def _settled(page, title: str) -> None:
    page.wait_for_selector(f"h1:has-text('{title}')", timeout=120_000)
    page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg", timeout=120_000)
    page.wait_for_function(DONE, timeout=120_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="iw-dash-bench-"))
    collector = start_collector(work)
    dash = None
    try:
        sent = seed_fleet(collector.url, work / "spool")
        wait_for_calls(collector, sent)
        port = free_port()
        dash = subprocess.Popen([sys.executable, "-m", "inferwatch.cli", "dashboard", "--collector",
                                 collector.url, "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/_stcore/health", timeout_s=90, proc=dash)
        results: dict[str, list[float]] = {name: [] for name in PAGES}
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                str(work / "profile"), executable_path="/usr/bin/chromium", headless=True, args=ARGS,
                viewport={"width": 1440, "height": 1000})
            page = context.new_page()
            start = time.perf_counter()
            page.goto(url)
            _settled(page, "Fleet")
            cold = time.perf_counter() - start
            for _ in range(args.rounds):
                for link, title in PAGES.items():
                    start = time.perf_counter()
                    page.locator("[data-testid='stSidebarNavLink']", has_text=link).first.click()
                    _settled(page, title)
                    results[link].append(time.perf_counter() - start)
            page.locator("[data-testid='stSidebarNavLink']", has_text="Fleet").first.click()
            _settled(page, "Fleet")
            start = time.perf_counter()
            page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']", has_text="Target").click()
            page.get_by_role("option", name="edge", exact=True).click()
            page.wait_for_selector("[data-testid='stMetricValue']:has-text('18,000')", timeout=120_000)
            page.wait_for_function(DONE, timeout=120_000)
            filter_s = time.perf_counter() - start
            context.close()
    finally:
        if dash is not None:
            dash.terminate()
            dash.wait(timeout=20)
        collector.stop()
        shutil.rmtree(work, ignore_errors=True)

    rows = {name: {"first_visit_s": round(v[0], 3), "median_s": round(statistics.median(v), 3),
                   "max_s": round(max(v), 3)} for name, v in results.items()}
    print(f"{'page':<16}{'first visit':>14}{'median':>10}{'max':>10}")
    for name, r in rows.items():
        print(f"{name:<16}{r['first_visit_s']:>13.2f}s{r['median_s']:>9.2f}s{r['max_s']:>9.2f}s")
    print(f"cold first paint (server just started): {cold:.2f} s; filter change on Fleet: {filter_s:.2f} s")
    out = {"benchmark": "dashboard_latency", "rounds": args.rounds, "cold_first_paint_s": round(cold, 3),
           "filter_change_s": round(filter_s, 3), "pages": rows, "calls_stored": sent,
           "machine": {"python": platform.python_version(), "cpu_count": __import__("os").cpu_count()}}
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "dashboard_latency.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
