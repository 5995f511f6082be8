"""The `inferwatch` command: one click group; each subcommand loads its extra lazily."""

from __future__ import annotations

import importlib

import click

from .errors import MissingExtraError
from .version import __version__

__all__ = ["COMMANDS", "LazyGroup", "main", "require_extra"]

# name -> (module:attribute of the click command, the extra it needs, one-line help).
# A subcommand's module is imported only when that subcommand runs (or shows its -h).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "collector": ("inferwatch.collector.cli:collector", "collector",
                  "Run the OTLP receiver that stores aggregates in DuckDB and serves SQL."),
    "query": ("inferwatch.queries.cli:query", "collector",
              "Run named queries or SQL against a collector or a DuckDB file."),
    "export": ("inferwatch.queries.cli:export", "collector",
               "Export inference windows to hive-partitioned Parquet."),
    "dashboard": ("inferwatch.dashboard.cli:dashboard", "dashboard",
                  "Open the Streamlit dashboard (edge vs cloud, regressions, devices, SQL)."),
    "regressions": ("inferwatch.regressions.cli:regressions", "collector",
                    "Flag a worse version, time range, target or device; exit 1 on a regression."),
    "demo": ("inferwatch.dashboard.demo.cli:demo", "all",
             "Run a live fleet: collector, dashboard, edge devices and a cloud service."),
}


def require_extra(extra: str, *modules: str) -> None:
    """Import modules of an optional extra or raise MissingExtraError naming the pip install."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise MissingExtraError(extra, name) from None


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        found = super().get_command(ctx, name)
        if found is not None or name not in COMMANDS:
            return found
        target, extra, short = COMMANDS[name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or str(exc)
            if missing and missing.startswith("inferwatch"):
                raise
            message = str(MissingExtraError(extra, missing))

            @click.command(name=name, help=short, context_settings={"ignore_unknown_options": True})
            @click.argument("args", nargs=-1, type=click.UNPROCESSED)
            def unavailable(args):
                raise click.UsageError(message)

            return unavailable
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in COMMANDS:
                rows.append((name, COMMANDS[name][2]))
            else:
                cmd = super().get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit=80)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="inferwatch")
def main() -> None:
    """inferwatch: observe ML inference at the edge and in the cloud.

    \b
    Examples:
      inferwatch collector --db ./inferwatch.duckdb --port 4318
      inferwatch --version

    Exit codes: 0 success, 1 a check failed (e.g. a regression), 2 usage or data error.
    """


if __name__ == "__main__":  # pragma: no cover
    main()
