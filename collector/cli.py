"""`inferwatch collector`: run the OTLP receiver that stores aggregates in DuckDB and serves SQL."""

from __future__ import annotations

import ipaddress
import logging

import click

from .decode_pool import default_decode_workers
from .service import CollectorSettings

__all__ = ["collector"]


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class _WorkerCount(click.ParamType):
    """A number of decode worker processes, 0 to 64."""

    name = "N"

    def convert(self, value, param, ctx):
        try:
            n = int(value)
        except (TypeError, ValueError):
            n = -1
        if not 0 <= n <= 64:
            self.fail(
                f"{value!r} is not a number of processes: give 0 (decode in the collector's process) to 64",
                param,
                ctx,
            )
        return n


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    envvar="INFERWATCH_DB",
    default="./inferwatch.duckdb",
    show_default=True,
    help="DuckDB file the collector owns (env INFERWATCH_DB).",
)
@click.option(
    "--host",
    envvar="INFERWATCH_HOST",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but loopback exposes the collector (use tokens).",
)
@click.option(
    "--port",
    envvar="INFERWATCH_PORT",
    type=int,
    default=4318,
    show_default=True,
    help="OTLP/HTTP, query and health port.",
)
@click.option(
    "--grpc-port",
    envvar="INFERWATCH_GRPC_PORT",
    type=int,
    default=None,
    help="Also serve OTLP/gRPC on this port (usually 4317).",
)
@click.option(
    "--ingest-token",
    envvar="INFERWATCH_INGEST_TOKEN",
    default=None,
    help="Bearer token required on /v1/metrics and gRPC (env INFERWATCH_INGEST_TOKEN).",
)
@click.option(
    "--query-token",
    envvar="INFERWATCH_QUERY_TOKEN",
    default=None,
    help="Bearer token required on /v1/query (env INFERWATCH_QUERY_TOKEN).",
)
@click.option(
    "--retention-days",
    envvar="INFERWATCH_RETENTION_DAYS",
    type=float,
    default=30.0,
    show_default=True,
    help="Keep hourly rollups this long.",
)
@click.option(
    "--raw-retention-hours",
    envvar="INFERWATCH_RAW_RETENTION_HOURS",
    type=float,
    default=48.0,
    show_default=True,
    help="Keep raw (per-window) points this long; older points are refused.",
)
@click.option(
    "--max-request-mb",
    type=float,
    default=16.0,
    show_default=True,
    help="Largest request accepted, checked before and after decompression (413 beyond).",
)
@click.option(
    "--max-queue-points",
    type=int,
    default=500_000,
    show_default=True,
    help="Write queue bound; a request finding it full waits up to 2 s for room, then gets 503 + "
    "Retry-After.",
)
@click.option(
    "--batch-points",
    type=click.IntRange(1, None),
    default=CollectorSettings.batch_points,
    show_default=True,
    help="Points per DuckDB transaction when requests arrive faster than the writer commits.",
)
@click.option(
    "--decode-workers",
    envvar="INFERWATCH_DECODE_WORKERS",
    type=_WorkerCount(),
    default=default_decode_workers(),
    show_default=True,
    help="Processes that decode large OTLP/HTTP requests and build their Arrow tables, beside the "
    "collector's own, at nice +10; 0 decodes everything in the collector's process (env "
    "INFERWATCH_DECODE_WORKERS).",
)
@click.option(
    "--decode-min-kb",
    type=click.FloatRange(0, None),
    default=CollectorSettings.decode_min_bytes / 1024,
    show_default=True,
    help="Requests smaller than this (as received) are decoded in the collector's process: for them "
    "the round trip to a worker costs more than it saves.",
)
@click.option(
    "--rollout-scan-minutes",
    envvar="INFERWATCH_ROLLOUT_SCAN_MINUTES",
    type=click.FloatRange(0, None),
    default=5.0,
    show_default=True,
    help="Every N minutes compare each model's newest version with the one before over the last 24 h "
    "into the regression_findings table (0: off).",
)
@click.option("--query-timeout", type=float, default=30.0, show_default=True, help="Seconds per query.")
@click.option("--query-max-rows", type=int, default=100_000, show_default=True, help="Rows per query answer.")
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def collector(
    db,
    host,
    port,
    grpc_port,
    ingest_token,
    query_token,
    retention_days,
    raw_retention_hours,
    max_request_mb,
    max_queue_points,
    batch_points,
    decode_workers,
    decode_min_kb,
    rollout_scan_minutes,
    query_timeout,
    query_max_rows,
    verbose,
):
    """Receive OTLP metrics, store inference aggregates in DuckDB, serve read-only SQL.

    \b
    Examples:
      inferwatch collector --db ./inferwatch.duckdb --port 4318
      inferwatch collector --db /var/lib/inferwatch.duckdb --grpc-port 4317 --retention-days 90
      inferwatch collector --decode-workers 0      # decode every request in the collector's process
      INFERWATCH_INGEST_TOKEN=dev INFERWATCH_QUERY_TOKEN=ops inferwatch collector --host 0.0.0.0
      curl -s localhost:4318/v1/query -d '{"sql": "SELECT * FROM inference_windows LIMIT 5"}'

    Endpoints: POST /v1/metrics (OTLP protobuf/JSON, gzip), POST /v1/query, GET /healthz, GET /metrics.
    Stops cleanly on SIGTERM or Ctrl-C with every acknowledged point on disk.
    Exit codes: 0 stopped cleanly, 2 usage error, 1 any other failure.
    """
    from .server import CollectorServer

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(message)s"
    )
    if max_request_mb <= 0 or max_queue_points <= 0 or retention_days <= 0 or raw_retention_hours < 2:
        raise click.UsageError("sizes and retention must be positive (--raw-retention-hours at least 2)")
    if not _loopback(host) and not (ingest_token and query_token):
        click.echo(
            f"warning: binding {host} without --ingest-token and --query-token lets anyone who can "
            "reach it send and read data",
            err=True,
        )
    settings = CollectorSettings(
        db=db,
        host=host,
        port=port,
        grpc_port=grpc_port,
        ingest_token=ingest_token,
        query_token=query_token,
        max_request_bytes=int(max_request_mb * 1024 * 1024),
        max_queue_points=max_queue_points,
        batch_points=batch_points,
        decode_workers=decode_workers,
        decode_min_bytes=int(decode_min_kb * 1024),
        raw_retention_hours=raw_retention_hours,
        retention_days=retention_days,
        rollout_scan_interval_s=rollout_scan_minutes * 60,
        query_timeout_s=query_timeout,
        query_max_rows=query_max_rows,
    )
    click.echo(
        f"inferwatch collector: {db} — OTLP/HTTP http://{host}:{port}/v1/metrics"
        + (f", OTLP/gRPC {host}:{grpc_port}" if grpc_port else ""),
        err=True,
    )
    try:
        CollectorServer(settings).serve()
    except OSError as exc:
        raise click.ClickException(
            f"{exc} — is another collector running on this port or database?"
        ) from None
    click.echo("inferwatch collector: stopped, everything acknowledged is stored", err=True)
