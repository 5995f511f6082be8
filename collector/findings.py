"""Rollout watch: the collector compares each model's newest version with the one before, on a timer.

The findings replace the rows of the `regression_findings` table (created by schema.py), so SQL
users (`SELECT * FROM regression_findings`), the `regressions` named query and the dashboard all
see the verdicts that `inferwatch regressions` would print for that pair of versions.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa

from .transaction import transaction

__all__ = ["RolloutWatch", "scan_rollouts"]

log = logging.getLogger("inferwatch.collector")


_VERSIONS = """
SELECT model, model_version, min(window_start) AS first_seen
FROM inference_points WHERE window_start >= ? AND window_start < ? AND calls > 0
GROUP BY ALL ORDER BY model, first_seen
"""


def _pairs(con: duckdb.DuckDBPyConnection, since: datetime, until: datetime) -> list[tuple[str, str, str]]:
    """(model, baseline version, candidate version): the newest version against the one before it."""
    by_model: dict[str, list[str]] = {}
    for model, version, _ in con.execute(_VERSIONS, [since, until]).fetchall():
        by_model.setdefault(model, []).append(version)
    return [(m, v[-2], v[-1]) for m, v in by_model.items() if len(v) >= 2]


def scan_rollouts(con: duckdb.DuckDBPyConnection, now: datetime, hours: float = 24.0) -> int:
    """Compare versions of every model seen in the last `hours`; replace the findings; return their number."""
    from inferwatch.queries.api import render
    from inferwatch.queries.catalog import get_query
    from inferwatch.queries.params import bind_params
    from inferwatch.regressions import build_cohorts, compare
    from inferwatch.regressions.source import population_from_row

    now = now.replace(tzinfo=None)
    since = now - timedelta(hours=hours)
    query = get_query("regression_inputs")
    rows = []
    for model, baseline, candidate in _pairs(con, since, now):
        sides = []
        for version in (baseline, candidate):
            params = bind_params(
                query.params, {"since": since, "until": now, "model": model, "version": version}, query.name
            )
            frame = con.execute(render(query, params), params).df()
            sides.append(
                [
                    (
                        {"model": model, "target": r["target"], "hardware": r["hardware"]},
                        population_from_row(r),
                    )
                    for r in frame.to_dict("records")
                ]
            )
        report = compare(build_cohorts(sides[0], sides[1]), comparison="versions")
        for f in report.findings:
            ci = f.ci or (None, None)
            rows.append(
                {
                    "scanned_at": now,
                    "range_start": since,
                    "range_end": now,
                    "model": model,
                    "baseline_version": baseline,
                    "candidate_version": candidate,
                    "target": f.cohort.get("target"),
                    "hardware": f.cohort.get("hardware"),
                    "verdict": report.verdict.value,
                    "check": f.check,
                    "status": f.status.value,
                    "gated": f.gated,
                    "baseline": f.baseline,
                    "candidate": f.candidate,
                    "effect": f.effect,
                    "effect_kind": f.effect_kind,
                    "threshold": f.threshold,
                    "ci_low": ci[0],
                    "ci_high": ci[1],
                    "p_value": f.p_value,
                    "p_adjusted": f.p_adjusted,
                    "n_baseline": f.n_baseline,
                    "n_candidate": f.n_candidate,
                    "test": f.test,
                    "reason": f.reason,
                    "evidence": json.dumps(f.to_dict()["evidence"]),
                }
            )
    with transaction(con):
        con.execute("DELETE FROM regression_findings")
        if rows:
            table = pa.Table.from_pylist(rows)
            con.register("iw_findings", table)
            columns = ", ".join(f'"{c}"' for c in table.column_names)
            con.execute(f"INSERT INTO regression_findings ({columns}) SELECT {columns} FROM iw_findings")
            con.unregister("iw_findings")
    return len(rows)


class RolloutWatch:
    """Runs `scan_rollouts` every `interval_s` on its own thread and cursor: ingest never waits for it
    (a scan of many models takes as long as it takes; the writer keeps writing meanwhile)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, interval_s: float, *, first_after_s: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.interval_s = interval_s
        self.first_after_s = min(first_after_s, interval_s)
        self.clock = clock
        self.scans = 0
        self._cursor = con.cursor()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RolloutWatch:
        """Start the watch thread (no-op when the interval is 0)."""
        if self.interval_s > 0:
            self._thread = threading.Thread(target=self._run, name="inferwatch-rollout-watch", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop at once, interrupting a scan in progress (its findings are not half written)."""
        self._stop.set()
        if self._thread is not None:
            self._cursor.interrupt()
            self._thread.join()
        self._cursor.close()

    def _run(self) -> None:
        wait = self.first_after_s
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                scan_rollouts(self._cursor, datetime.fromtimestamp(self.clock(), timezone.utc))
                self.scans += 1
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("inferwatch collector: rollout scan failed")
