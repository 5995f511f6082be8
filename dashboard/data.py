"""Every read the dashboard makes, through `inferwatch.queries`, cached with `st.cache_data(ttl)`."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from inferwatch import queries
from inferwatch.queries.source import DEFAULT_COLLECTOR

__all__ = [
    "TTL_S",
    "SourceSettings",
    "clear",
    "comparison_inputs",
    "devices",
    "dimensions",
    "has_data",
    "in_background",
    "online_runs",
    "prefetch",
    "run_named",
    "run_sql",
    "settings",
]

TTL_S = 15  # seconds a query answer is reused (auto refresh intervals are longer)


@dataclass(frozen=True)
class SourceSettings:
    """Where the dashboard reads: a collector URL or a DuckDB file, and the query token."""

    collector: str | None
    db: str | None
    token: str | None

    @property
    def label(self) -> str:
        """What to show as the data source."""
        return self.db or self.collector or DEFAULT_COLLECTOR


def settings() -> SourceSettings:
    """The data source the CLI passed in INFERWATCH_COLLECTOR / INFERWATCH_DB / INFERWATCH_TOKEN."""
    db = os.environ.get("INFERWATCH_DB") or None
    collector = None if db else (os.environ.get("INFERWATCH_COLLECTOR") or DEFAULT_COLLECTOR)
    return SourceSettings(collector, db, os.environ.get("INFERWATCH_TOKEN") or None)


@st.cache_resource(show_spinner=False)
def _source(where: SourceSettings) -> queries.Source:
    return queries.connect(collector=where.collector, db=where.db, token=where.token)


def _frozen(params: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(params.items()))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _named(where: SourceSettings, name: str, params: tuple[tuple[str, Any], ...]) -> pd.DataFrame:
    return queries.run(name, dict(params), _source(where))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _sql(where: SourceSettings, text: str, params: tuple[tuple[str, Any], ...]) -> pd.DataFrame:
    return queries.sql(text, dict(params), _source(where))


def run_named(name: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A named query's answer (None means no filter, as the queries' defaults do)."""
    return _named(settings(), name, _frozen(params or {}))


def run_sql(text: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The answer of read-only SQL."""
    return _sql(settings(), text, _frozen(params or {}))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _filtered(where: SourceSettings, text: str, params: tuple[tuple[str, Any], ...],
              keep: tuple[str, ...] | None, extra: tuple[tuple[str, Any], ...] = ()) -> pd.DataFrame:
    """SQL over the sidebar's filters, cached under the relative range (`-24h`), bound to times here;
    `extra` parameters are passed as they are.

    Binding before caching would key the cache on `now` and never hit it.
    """
    bound = _bind(dict(params))
    if keep is not None:
        bound = {k: bound[k] for k in keep}
    bound.update({k: list(v) if isinstance(v, tuple) else v for k, v in extra})
    return queries.sql(text, bound, _source(where))


def _run_filtered(text: str, params: Mapping[str, Any], keep: tuple[str, ...] | None = None,
                  extra: Mapping[str, Any] | None = None) -> pd.DataFrame:
    wanted = {k: params.get(k) for k in _FILTERS}
    return _filtered(settings(), text, _frozen(wanted), keep, _frozen(extra or {}))


def in_background(*reads: Callable[[], Any]) -> Callable[[], None]:
    """Start reads in threads now; returns a join. Their answers land in the cache, so the page's own
    later calls find them there, while the page draws what it already has.

    Errors are left for the page's own call to raise, with its notice.
    """
    from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

    ctx = get_script_run_ctx()

    def quietly(read: Callable[[], Any]) -> None:
        try:
            read()
        except Exception:  # raised again where the page reads it
            pass

    threads = [threading.Thread(target=quietly, args=(read,), daemon=True) for read in reads]
    for thread in threads:
        add_script_run_ctx(thread, ctx)
        thread.start()

    def join() -> None:
        for thread in threads:
            thread.join()

    return join


def prefetch(*reads: Callable[[], Any]) -> None:
    """Run independent reads at once so the page's own calls find their answers cached.

    The store serves queries concurrently (a collector's cursors, a file's cursors), so a page waits
    for its slowest query instead of the sum.
    """
    if len(reads) < 2:
        return
    join = in_background(*reads[1:])
    try:
        reads[0]()
    except Exception:  # raised again, with its notice, where the page reads it
        pass
    join()


def clear() -> None:
    """Forget cached answers (the Refresh button)."""
    _named.clear()
    _sql.clear()
    _filtered.clear()
    _comparison.clear()


def has_data() -> bool:
    """Whether the store holds any inference data at all (raises DataUnavailable when unreachable)."""
    frame = run_sql("SELECT (SELECT count(*) FROM (SELECT 1 FROM inference_points LIMIT 1)) + "
                    "(SELECT count(*) FROM (SELECT 1 FROM inference_rollup_1h LIMIT 1)) AS n")
    return bool(len(frame) and frame.iloc[0, 0])


_WHERE = """window_start >= CAST($since AS TIMESTAMP) AND window_start < CAST($until AS TIMESTAMP)
  AND ($service IS NULL OR service = $service) AND ($model IS NULL OR model = $model)
  AND ($version IS NULL OR model_version = $version) AND ($target IS NULL OR target = $target)
  AND ($hardware IS NULL OR hardware = $hardware)"""
_FILTERS = ("since", "until", "service", "model", "version", "target", "hardware")


def _bind(params: Mapping[str, Any]) -> dict[str, Any]:
    from inferwatch.queries.params import Param

    stamp = Param("t", "timestamp", None)
    out = {name: params.get(name) for name in _FILTERS}
    out["since"] = stamp.convert(out["since"] or "-24h")
    out["until"] = stamp.convert(out["until"] or "now")
    return out


def dimensions(since: str) -> pd.DataFrame:
    """Distinct service, target, hardware, model and version seen since `since` (filter choices), from
    the fleet rollups (hours, minutes) and the raw points of minutes not rolled up yet."""
    return _run_filtered(
        "SELECT DISTINCT service, target, hardware, model, model_version FROM inference_fleet_1h "
        "WHERE bucket >= time_bucket(INTERVAL 1 HOUR, CAST($since AS TIMESTAMP)) UNION "
        "SELECT DISTINCT service, target, hardware, model, model_version FROM inference_fleet_1m "
        "WHERE bucket >= time_bucket(INTERVAL 1 MINUTE, CAST($since AS TIMESTAMP)) UNION "
        "SELECT DISTINCT service, target, hardware, model, model_version FROM inference_points "
        "WHERE window_start >= (SELECT min(minute) FROM rollup_dirty_1m) "
        "AND time_bucket(INTERVAL 1 MINUTE, window_start) IN (SELECT minute FROM rollup_dirty_1m) "
        "AND window_start >= CAST($since AS TIMESTAMP) ORDER BY ALL", {"since": since}, ("since",))


def comparison_inputs(params: Mapping[str, Any]) -> pd.DataFrame:
    """The Edge vs cloud page's read (`comparison.INPUTS_SQL`): per version, target and hardware of a model,
    sums and merged histograms."""
    return _comparison(settings(), _frozen({k: params.get(k) for k in _FILTERS}))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def _comparison(where: SourceSettings, params: tuple[tuple[str, Any], ...]) -> pd.DataFrame:
    from .comparison import bound_sql

    return _source(where).query(*bound_sql(dict(params)))


def devices(service: str | None = None, target: str | None = None,
            hardware: str | None = None) -> pd.DataFrame:
    """The `devices` named query's rows for these filters, cut from its unfiltered answer.

    The view computes every device whatever the filters (they apply after its GROUP BY; 0.1–0.2 s for
    1,000 devices either way on the month database), so one cached answer serves every filter choice and
    both pages that list devices: a filter change within the cache's TTL reads no device list.
    """
    frame = run_named("devices")
    for column, value in (("service", service), ("target", target), ("hardware", hardware)):
        if value is not None:
            frame = frame[frame[column] == value]
    return frame.reset_index(drop=True)


def online_runs(params: Mapping[str, Any], devices: list[str] | None = None) -> pd.DataFrame:
    """Per device (only `devices` when given), the stretches of back-to-back windows (online) in the
    range; gaps are between them."""
    return _run_filtered("""
WITH w AS (
    SELECT DISTINCT device_id, target, hardware, window_start, window_end FROM inference_points
    WHERE window_start >= CAST($since AS TIMESTAMP) AND window_start < CAST($until AS TIMESTAMP)
      AND ($service IS NULL OR service = $service) AND ($target IS NULL OR target = $target)
      AND ($hardware IS NULL OR hardware = $hardware)
      AND ($devices IS NULL OR list_contains($devices, device_id))
), g AS (
    SELECT *, CASE WHEN window_start > lag(window_end) OVER (PARTITION BY device_id ORDER BY window_start)
                   THEN 1 ELSE 0 END AS new_run
    FROM w
), r AS (
    SELECT *, sum(new_run) OVER (PARTITION BY device_id ORDER BY window_start) AS run FROM g
)
SELECT device_id, any_value(target) AS target, any_value(hardware) AS hardware, run,
       min(window_start) AS online_from, max(window_end) AS online_until
FROM r GROUP BY device_id, run ORDER BY device_id, run""",
                         params, ("since", "until", "service", "target", "hardware"),
                         {"devices": tuple(sorted(devices)) if devices is not None else None})
