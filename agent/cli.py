"""The `inferwatch` command: one click group; each subcommand loads its extra lazily."""

from __future__ import annotations

import importlib

import click

from .errors import MissingExtraError
from .version import __version__

__all__ = ["main", "require_extra"]


def require_extra(extra: str, *modules: str) -> None:
    """Import modules of an optional extra or raise MissingExtraError naming the pip install."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            raise MissingExtraError(extra, name) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="inferwatch")
def main() -> None:
    """inferwatch: observe ML inference at the edge and in the cloud.

    \b
    Examples:
      inferwatch --version
    """


if __name__ == "__main__":  # pragma: no cover
    main()
