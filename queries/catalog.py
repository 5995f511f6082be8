"""Named queries: `queries/*.sql` files with a header of title, description and typed parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources

from inferwatch.errors import InferwatchError

from .params import Param, ParamError, parse_param_line

__all__ = ["FILTER_CLAUSE", "STANDARD_FILTERS", "NamedQuery", "QueryNotFound", "get_query", "list_queries",
           "parse_query"]

_HEADER = re.compile(r"^--\s*(\w+)\s*:\s*(.*)$")

# `-- filters: standard` declares these parameters, and `{{filters}}` in the SQL becomes FILTER_CLAUSE:
# the filters every dashboard page and CLI call share.
STANDARD_FILTERS = (
    Param("since", "timestamp", "-24h", "Start of the range (ISO time, or relative like -24h, -7d)"),
    Param("until", "timestamp", "now", "End of the range"),
    Param("service", "text", "null", "Only this service"),
    Param("model", "text", "null", "Only this model"),
    Param("version", "text", "null", "Only this model version"),
    Param("target", "text", "null", "Only edge or cloud"),
    Param("hardware", "text", "null", "Only this hardware label"),
)
FILTER_CLAUSE = """window_start >= CAST($since AS TIMESTAMP) AND window_start < CAST($until AS TIMESTAMP)
  AND ($service IS NULL OR service = $service) AND ($model IS NULL OR model = $model)
  AND ($version IS NULL OR model_version = $version) AND ($target IS NULL OR target = $target)
  AND ($hardware IS NULL OR hardware = $hardware)"""


class QueryNotFound(InferwatchError, KeyError):
    """No named query has that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


@dataclass(frozen=True)
class NamedQuery:
    """One parameterised SQL file: what it answers, its parameters and its text."""

    name: str
    title: str
    description: str
    params: tuple[Param, ...] = field(default_factory=tuple)
    sql: str = ""
    rollup: str = ""  # "auto": {{windows}} is the raw view or the hourly rollup, by range length
    # parameters that, when set, need per-device rows (no fleet rollups), e.g. ("device", "exclude_device")
    per_device: tuple[str, ...] = ()
    grain: str = ""  # an int parameter: rows must not be coarser than this many minutes (time buckets)
    dims: tuple[str, ...] = ()  # the only dimensions it groups by ("target", "model"): coarser fleet rows do

    def param(self, name: str) -> Param | None:
        """The parameter of that name, if any."""
        return next((p for p in self.params if p.name == name), None)


def parse_query(name: str, text: str) -> NamedQuery:
    """Parse a named query file: title, description, param, filters and rollup lines, then SQL."""
    title, description, params, rollup = name, [], [], ""
    per_device: tuple[str, ...] = ()
    grain = ""
    dims: tuple[str, ...] = ()
    for line in text.splitlines():
        match = _HEADER.match(line.strip())
        if not match:
            if line.strip() and not line.strip().startswith("--"):
                break  # the header ends where the SQL starts
            continue
        key, value = match.group(1).lower(), match.group(2).strip()
        if key == "title":
            title = value
        elif key == "description":
            description.append(value)
        elif key == "param":
            params.append(parse_param_line(value, name))
        elif key == "rollup":
            rollup = value.lower()
        elif key == "per_device":
            per_device = tuple(v.strip() for v in value.split(",") if v.strip())
        elif key == "grain":
            grain = value.split()[0]
        elif key == "dims":
            dims = tuple(v.strip() for v in value.split(",") if v.strip())
        elif key == "filters":
            if value.split()[0].lower() != "standard":
                raise ParamError(f"query {name!r}: only '-- filters: standard' is known, got {value!r}")
            params.extend(STANDARD_FILTERS)
    return NamedQuery(name, title, " ".join(description), tuple(params), text, rollup, per_device, grain,
                      dims)


def list_queries() -> list[NamedQuery]:
    """Every named query shipped with inferwatch, sorted by name."""
    found = []
    for entry in resources.files("inferwatch.queries").iterdir():
        if entry.name.endswith(".sql"):
            found.append(parse_query(entry.name[:-4], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda q: q.name)


def get_query(name: str) -> NamedQuery:
    """The named query, or QueryNotFound listing the names that exist."""
    queries = {q.name: q for q in list_queries()}
    if name not in queries:
        close = [n for n in queries if name.replace("-", "_") in n or n in name]
        hint = f" — did you mean {close[0]!r}?" if close else ""
        raise QueryNotFound(f"no named query {name!r}{hint}; `inferwatch query list` shows them all: "
                            + ", ".join(sorted(queries)))
    return queries[name]
