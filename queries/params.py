"""Typed parameters of named queries: parsing the header, converting CLI text, relative times."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from inferwatch.errors import InferwatchError

__all__ = ["Param", "ParamError", "bind_params", "parse_param_line", "parse_time"]

TYPES = ("timestamp", "text", "int", "float", "bool")
_LINE = re.compile(r"^(\w+)\s*\(\s*(\w+)\s*(?:,\s*default\s+([^)]*?))?\s*\)\s*(.*)$")
_RELATIVE = re.compile(r"^-?\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class ParamError(InferwatchError, ValueError):
    """A parameter is missing, unknown or of the wrong type."""


@dataclass(frozen=True)
class Param:
    """One parameter: `-- param: name (type, default VALUE) description`."""

    name: str
    type: str
    default: str | None  # text as written; "null" means optional (NULL = no filter)
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is None

    def convert(self, value: Any, now: datetime | None = None) -> Any:
        """Turn CLI text (or a Python value) into the value bound to the SQL parameter."""
        if value is None or (isinstance(value, str) and value.strip().lower() in ("null", "none", "")):
            return None
        try:
            if self.type == "timestamp":
                return parse_time(value, now).strftime("%Y-%m-%d %H:%M:%S.%f")
            if self.type == "int":
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                return int(str(value).strip()) if isinstance(value, str) else int(value)
            if self.type == "float":
                number = float(value)
                if not math.isfinite(number):
                    raise ValueError
                return number
            if self.type == "bool":
                text = str(value).strip().lower()
                if text in ("1", "true", "yes", "on"):
                    return True
                if text in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            return str(value)
        except (TypeError, ValueError):
            example = {"timestamp": "2026-11-01T12:00 or -24h", "int": "10", "float": "0.95",
                       "bool": "true"}.get(self.type, "text")
            raise ParamError(f"parameter {self.name!r} must be a {self.type}, got {value!r} — "
                             f"e.g. --param {self.name}={example}") from None


def parse_time(value: Any, now: datetime | None = None) -> datetime:
    """A UTC time from a datetime, an ISO string, `now`, or a relative offset like `-24h`, `-7d`."""
    now = now or datetime.now(timezone.utc)
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    text = str(value).strip().lower()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match and text.startswith("-"):
        return now - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_param_line(text: str, query: str) -> Param:
    """Parse the text after `-- param:`."""
    match = _LINE.match(text.strip())
    if not match or match.group(2) not in TYPES:
        raise ParamError(f"query {query!r} has a malformed parameter line {text!r} — write "
                         f"'-- param: name (type, default VALUE) description' with type in {TYPES}")
    name, kind, default, description = match.groups()
    return Param(name, kind, default, description.strip())


def bind_params(params: tuple[Param, ...], given: dict[str, Any], query: str,
                now: datetime | None = None) -> dict[str, Any]:
    """Values for every declared parameter: given ones converted, the rest from defaults."""
    declared = {p.name: p for p in params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        names = ", ".join(declared) or "none"
        raise ParamError(f"query {query!r} has no parameter {unknown[0]!r} (its parameters: {names})")
    out = {}
    for p in params:
        if p.name in given:
            out[p.name] = p.convert(given[p.name], now)
        elif p.required:
            raise ParamError(f"query {query!r} needs --param {p.name}=<{p.type}> ({p.description})")
        else:
            out[p.name] = p.convert(p.default, now)
    return out
