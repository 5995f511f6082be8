"""Every error inferwatch raises; each message says what happened and how to fix it."""

from __future__ import annotations

__all__ = ["ConfigurationError", "InferwatchError", "MissingExtraError"]


class InferwatchError(Exception):
    """Base class of every inferwatch error."""


class ConfigurationError(InferwatchError, ValueError):
    """Invalid configuration given to `configure()`, an environment variable or a CLI flag."""


class MissingExtraError(InferwatchError, ImportError):
    """A command needs an optional extra that is not installed."""

    def __init__(self, extra: str, missing: str) -> None:
        super().__init__(
            f"this needs the '{extra}' extra ({missing} is not installed) — "
            f"try `pip install 'inferwatch[{extra}]'`"
        )
        self.extra = extra
        self.missing = missing
