"""`inferwatch query list|run|sql` and `inferwatch export`: the terminal side of inferwatch.queries."""

from __future__ import annotations

import functools
import json
import sys
from typing import Any

import click
import pandas as pd

from inferwatch.errors import InferwatchError

from . import api
from .catalog import list_queries
from .source import DEFAULT_COLLECTOR, connect

__all__ = ["CliError", "data_options", "export", "format_frame", "open_source", "query"]

SETTINGS = {"help_option_names": ["-h", "--help"]}


class CliError(click.ClickException):
    """A one-line error with the fix; exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.message}", err=True)


def data_options(fn):
    """--collector / --db / --token, shared by every command that reads data."""
    @click.option("--collector", envvar="INFERWATCH_COLLECTOR", default=None, metavar="URL",
                  help=f"Collector to query (env INFERWATCH_COLLECTOR, default {DEFAULT_COLLECTOR}).")
    @click.option("--db", type=click.Path(dir_okay=False), default=None, metavar="PATH",
                  help="Read a DuckDB file directly instead (only while no collector holds it).")
    @click.option("--token", envvar="INFERWATCH_TOKEN", default=None,
                  help="Query token of the collector (env INFERWATCH_TOKEN).")
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def open_source(collector: str | None, db: str | None, token: str | None):
    """The Source for the data options, with errors turned into CliError."""
    if collector and db:
        raise CliError("give either --collector or --db, not both")
    try:
        return connect(collector=collector, db=db, token=token)
    except InferwatchError as exc:
        raise CliError(str(exc)) from None


def format_frame(frame: pd.DataFrame, fmt: str) -> str:
    """Render a DataFrame as an aligned table, CSV or JSON records."""
    if fmt == "csv":
        return frame.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return frame.to_json(orient="records", date_format="iso", date_unit="ms", indent=None)
    if frame.empty:
        return "(no rows)" if len(frame.columns) else "(no columns)"
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.4g}")
        elif shown[column].dtype == object:
            shown[column] = shown[column].map(lambda v: _short(v))
    return shown.to_string(index=False)


def _short(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _parse_params(items: tuple[str, ...]) -> dict[str, str]:
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"--param takes key=value, got {item!r} — e.g. --param since=-7d")
        params[key.strip()] = value
    return params


def _emit(frame: pd.DataFrame, fmt: str) -> None:
    click.echo(format_frame(frame, fmt))
    if frame.attrs.get("truncated"):
        click.echo("(truncated at the collector's row limit)", err=True)


FORMAT = click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
                      show_default=True, help="Output format.")


@click.group(context_settings=SETTINGS)
def query() -> None:
    """Run named queries or SQL against a collector (or a DuckDB file).

    \b
    Examples:
      inferwatch query list
      inferwatch query run edge_vs_cloud --param since=-7d --param model=digits
      inferwatch query sql "SELECT target, sum(calls) FROM inference_windows GROUP BY ALL"
      inferwatch query sql "SELECT * FROM devices" --db ./inferwatch.duckdb --format csv

    Exit codes: 0 success, 2 unknown query, bad parameter, SQL error or no data source.
    """


@query.command("list", context_settings=SETTINGS)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def list_command(fmt: str) -> None:
    """List the named queries with their parameters.

    \b
    Examples:
      inferwatch query list
      inferwatch query list --format json
    """
    found = list_queries()
    if fmt == "json":
        click.echo(json.dumps([{"name": q.name, "title": q.title, "description": q.description,
                                "params": [{"name": p.name, "type": p.type, "default": p.default,
                                            "description": p.description} for p in q.params]}
                               for q in found], indent=2))
        return
    for q in found:
        click.echo(f"{q.name}\n    {q.title}. {q.description}")
        for p in q.params:
            default = "required" if p.required else f"default {p.default}"
            click.echo(f"    --param {p.name}=<{p.type}>  ({default}) {p.description}")


@query.command("run", context_settings=SETTINGS)
@click.argument("name")
@click.option("--param", "-p", "param_items", multiple=True, metavar="KEY=VALUE",
              help="A parameter; repeat for several. Times take ISO dates or -24h, -7d, now.")
@FORMAT
@data_options
def run_command(name: str, param_items: tuple[str, ...], fmt: str, collector, db, token) -> None:
    """Run the named query NAME.

    \b
    Examples:
      inferwatch query run fleet_overview
      inferwatch query run edge_vs_cloud --param since=-7d --param model=digits --format csv
      inferwatch query run latency_cdf --param model=digits --db ./inferwatch.duckdb
    """
    params = _parse_params(param_items)
    try:
        api.describe(name)
        frame = api.run(name, params, open_source(collector, db, token))
    except InferwatchError as exc:
        raise CliError(str(exc)) from None
    _emit(frame, fmt)


@query.command("sql", context_settings=SETTINGS)
@click.argument("text", metavar="SQL")
@click.option("--param", "-p", "param_items", multiple=True, metavar="KEY=VALUE",
              help="A named parameter used as $KEY in the SQL (passed as text).")
@FORMAT
@data_options
def sql_command(text: str, param_items: tuple[str, ...], fmt: str, collector, db, token) -> None:
    """Run read-only SQL (use - to read it from standard input).

    \b
    Examples:
      inferwatch query sql "SELECT model, hist_quantile(list(latency_hist), 0.95) AS p95_ms
                            FROM inference_windows GROUP BY ALL"
      echo "SELECT * FROM devices" | inferwatch query sql - --format json
    """
    if text == "-":
        text = sys.stdin.read()
    try:
        frame = api.sql(text, _parse_params(param_items), open_source(collector, db, token))
    except InferwatchError as exc:
        raise CliError(str(exc)) from None
    _emit(frame, fmt)


@click.command(context_settings=SETTINGS)
@click.option("--parquet", "directory", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Directory to write hive-partitioned Parquet into (date=YYYY-MM-DD/...).")
@click.option("--since", default=None, help="Start of the range (ISO time or -30d); default: everything.")
@click.option("--until", default=None, help="End of the range (ISO time or now); default: everything.")
@data_options
def export(directory: str, since: str | None, until: str | None, collector, db, token) -> None:
    """Export inference windows (with their histogram columns) to Parquet, partitioned by date.

    \b
    Examples:
      inferwatch export --parquet ./export
      inferwatch export --parquet ./export --since -7d --db ./inferwatch.duckdb
      duckdb -c "SELECT sum(calls) FROM read_parquet('export/**/*.parquet', hive_partitioning=true)"
    """
    from .export import export_parquet

    source = open_source(collector, db, token)
    try:
        summary = export_parquet(source, directory, since=since, until=until,
                                 progress=lambda msg: click.echo(msg, err=True))
    except InferwatchError as exc:
        raise CliError(str(exc)) from None
    click.echo(f"wrote {summary['rows']} windows in {summary['files']} files under {directory} "
               f"({summary['days']} days)")


@query.command("cost", context_settings=SETTINGS)
@click.option("--pricing", type=click.Path(dir_okay=False, exists=True), default=None,
              help="TOML or YAML file with [cloud] and [edge] prices (defaults: docs/cost-model.md).")
@click.option("--param", "-p", "param_items", multiple=True, metavar="KEY=VALUE",
              help="A parameter of the cost_inputs query (since, until, model, ...).")
@FORMAT
@data_options
def cost_command(pricing: str | None, param_items: tuple[str, ...], fmt: str, collector, db, token) -> None:
    """Edge vs cloud cost per 1,000 inferences and per month, from measured traffic.

    \b
    Examples:
      inferwatch query cost
      inferwatch query cost --pricing prices.toml --param since=-7d --param model=digits
      inferwatch query cost --format json
    """
    from .cost import estimate, load_pricing

    try:
        prices = load_pricing(pricing)
        inputs = api.run("cost_inputs", _parse_params(param_items), open_source(collector, db, token))
    except InferwatchError as exc:
        raise CliError(str(exc)) from None
    columns = ["target", "model", "devices", "calls", "calls_per_s", "mean_latency_ms", "units",
               "cost_per_1k_usd", "cost_per_month_usd", "bytes_per_device_day"]
    frame = estimate(inputs, prices)
    _emit(frame[columns] if not frame.empty else pd.DataFrame(columns=columns), fmt)
