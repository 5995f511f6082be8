"""The dashboard in a real browser: `inferwatch dashboard` on a seeded collector, each page in Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .fleet import free_port, wait_http

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# nav link text -> (file name, headings the page must show)
PAGES = {
    "Fleet": ("fleet", ["Fleet", "Per target and model"]),
    "Edge vs cloud": ("edge_vs_cloud", ["Edge vs cloud", "Latency", "Cost"]),
    "Regressions": ("regressions", ["Regressions", "Findings", "Evidence"]),
    "Devices": ("devices", ["Devices", "Online and offline", "Agent health"]),
    "SQL": ("sql", ["SQL"]),
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def dashboard_url(seeded_collector, tmp_path_factory) -> Iterator[str]:
    """`inferwatch dashboard --collector URL --port P`, started as a user would; waits for its health."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("dashboard") / "dashboard.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "inferwatch.cli", "dashboard", "--collector",
                                 seeded_collector.url, "--port", str(port)], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/_stcore/health", timeout_s=90, proc=proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def browser_page() -> Iterator:
    """A headless Chromium page (Debian's chromium driven by playwright; no downloaded browser)."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="iw-chromium-")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 1000})
        try:
            yield context.new_page()
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


def test_every_page_renders_headings_and_charts_without_exceptions(dashboard_url, browser_page):
    page = browser_page
    page.goto(dashboard_url)
    page.wait_for_selector("[data-testid='stSidebarNavLink']", timeout=60_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for link_text, (file_name, headings) in PAGES.items():
        page.locator("[data-testid='stSidebarNavLink']", has_text=link_text).first.click()
        page.wait_for_selector(f"h1:has-text('{headings[0]}')", timeout=60_000)
        page.wait_for_selector("[data-testid='stPlotlyChart'] .main-svg", timeout=60_000)
        page.wait_for_function(  # Streamlit shows a running indicator until the script finishes
            "() => !document.querySelector(\"[data-testid='stStatusWidget']\")", timeout=60_000)
        for heading in headings:  # raises TimeoutError naming the selector if a heading never shows
            page.wait_for_selector(f"h1:has-text('{heading}'), h3:has-text('{heading}')", timeout=60_000)
        assert page.locator("[data-testid='stException']").count() == 0, page.locator(
            "[data-testid='stException']").first.inner_text()
        assert page.locator("[data-testid='stPlotlyChart']").count() >= 1
        assert page.locator("[class*='st-key-iw-skeleton-']").count() == 0, "an empty chart frame was left"
        _screenshot(page, SCREENSHOTS / f"{file_name}.png")


def _screenshot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so grow the viewport to fit it first."""
    height = page.evaluate("() => document.querySelector(\"[data-testid='stMain']\").scrollHeight")
    page.set_viewport_size({"width": 1440, "height": min(max(int(height), 1000), 6000)})
    page.wait_for_timeout(1500)  # Plotly relayouts after the resize
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1440, "height": 1000})
