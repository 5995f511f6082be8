"""`inferwatch dashboard`: run the Streamlit app against a collector or a DuckDB file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from inferwatch.queries.cli import data_options
from inferwatch.queries.source import DEFAULT_COLLECTOR

__all__ = ["APP", "dashboard", "streamlit_command"]

APP = Path(__file__).with_name("streamlit_app.py")


def streamlit_command(port: int, host: str) -> list[str]:
    """The `python -m streamlit run …` command line for the dashboard."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
            "--server.address", host, "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "minimal"]


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@data_options
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True,
              help="Port the dashboard serves on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback shows the fleet's data to the network.")
def dashboard(collector: str | None, db: str | None, token: str | None, port: int, host: str) -> None:
    """Open the Streamlit dashboard: fleet, edge vs cloud, regressions, devices and SQL.

    \b
    Examples:
      inferwatch dashboard                                  # the collector on 127.0.0.1:4318
      inferwatch dashboard --collector http://collector:4318 --token "$QUERY_TOKEN"
      inferwatch dashboard --db ./inferwatch.duckdb --port 8502   # a file no collector holds
      inferwatch dashboard --host 0.0.0.0                    # reachable from other machines

    Then open http://127.0.0.1:8501 (the port you chose). Stops on Ctrl-C.

    Exit codes: 0 stopped cleanly, 2 usage error, otherwise Streamlit's exit code.
    """
    if collector and db:
        raise click.UsageError("give either --collector or --db, not both")
    if db and not Path(db).exists():
        raise click.UsageError(f"no database file at {db!r} — check --db, or read a running collector "
                               "with --collector URL")
    env = {k: v for k, v in os.environ.items() if k not in ("INFERWATCH_COLLECTOR", "INFERWATCH_DB")}
    if db:
        env["INFERWATCH_DB"] = str(Path(db).resolve())
    else:
        env["INFERWATCH_COLLECTOR"] = collector or DEFAULT_COLLECTOR
    if token:
        env["INFERWATCH_TOKEN"] = token
    env.setdefault("STREAMLIT_SERVER_HEADLESS", "true")
    source = env.get("INFERWATCH_DB") or env["INFERWATCH_COLLECTOR"]
    click.echo(f"inferwatch dashboard: http://{host}:{port} reading {source}", err=True)
    raise SystemExit(_run(streamlit_command(port, host), env))


def _run(command: list[str], env: dict[str, str]) -> int:
    """Run Streamlit; SIGTERM (and Ctrl-C) to this process stop it too instead of orphaning it."""
    proc = subprocess.Popen(command, env=env)
    previous = signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        while True:
            try:
                code = proc.wait()
                break
            except KeyboardInterrupt:  # a terminal's Ctrl-C reaches Streamlit too; a bare SIGINT may not
                proc.terminate()
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0 if code in (0, -2, -15, 130, 143) else code
