"""`inferwatch demo`."""

from __future__ import annotations

from pathlib import Path

import click

from .runner import DemoOptions, run_demo

__all__ = ["demo"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("inferwatch-demo"), show_default=True,
              help="Where the DuckDB file, spools and logs go.")
@click.option("--devices", type=click.IntRange(1, 64), default=6, show_default=True,
              help="Number of emulated edge devices.")
@click.option("--duration", type=click.FloatRange(10, None), default=None,
              help="Stop after this many seconds (default: run until Ctrl-C).")
@click.option("--rollout-after", type=click.FloatRange(0, None), default=None,
              help="Seconds until version 2 rolls out (default: half the duration, or 120).")
@click.option("--port", "collector_port", type=click.IntRange(1, 65535), default=4318, show_default=True,
              help="Collector port.")
@click.option("--dashboard-port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@click.option("--no-dashboard", is_flag=True, help="Do not start the dashboard.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option("--interval", type=click.FloatRange(1, 600), default=10.0, show_default=True,
              help="Agent export window in seconds.")
def demo(directory: Path, devices: int, duration: float | None, rollout_after: float | None,
         collector_port: int, dashboard_port: int, no_dashboard: bool, no_browser: bool,
         interval: float) -> None:
    """Run a live fleet: a collector, the dashboard, edge devices and a cloud service.

    Edge devices are separate processes, each with its own agent, device id and emulated hardware
    (CPU slowdown factors: raspberry-pi-4 x4, raspberry-pi-5 x2, jetson-orin-nano x1.3,
    intel-nuc-i5 x1), running a real scikit-learn model on the bundled digits data. The cloud is a
    real HTTP inference server on 127.0.0.1 with a larger model behind an emulated WAN delay.
    Devices lose their uplink now and then (their spools replay). Version 2.0.0 rolls out to a
    third of the devices and half the cloud traffic and regresses latency and confidence.

    \b
    Examples:
      inferwatch demo                                   # until Ctrl-C, opens the dashboard
      inferwatch demo --devices 10 --duration 300 --no-browser
      inferwatch demo --dir /tmp/iw --no-dashboard --duration 60
    """
    code = run_demo(DemoOptions(directory=directory, devices=devices, duration_s=duration,
                                rollout_after_s=rollout_after, collector_port=collector_port,
                                dashboard_port=dashboard_port, dashboard=not no_dashboard,
                                open_browser=not no_browser, interval_s=interval))
    raise SystemExit(code)
