"""Edge vs cloud against a latency SLO: which side meets it, and at what cost per 1,000 inferences."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from .format import fmt_ms, fmt_usd, missing

__all__ = ["Side", "SloVerdict", "slo_verdict"]


@dataclass(frozen=True)
class Side:
    """One target measured against the SLO."""

    target: str
    latency_ms: float
    meets: bool
    cost_per_1k_usd: float

    def describe(self) -> str:
        """`edge (p95 38.2 ms, $0.0012 per 1k)`."""
        cost = "" if missing(self.cost_per_1k_usd) else f", {fmt_usd(self.cost_per_1k_usd)} per 1k"
        return f"{self.target} ({fmt_ms(self.latency_ms)}{cost})"


@dataclass(frozen=True)
class SloVerdict:
    """The outcome: `level` is success (a side meets it), warning (only one side measured) or error."""

    level: str
    text: str
    choice: str | None
    sides: tuple[Side, ...]


def slo_verdict(latency: pd.DataFrame, costs: pd.DataFrame, percentile: str, slo_ms: float) -> SloVerdict:
    """Compare each target's latency percentile with the SLO; recommend the cheapest side that meets it.

    `latency` has columns target and `percentile` (e.g. latency_ms_p95) with one row per target
    (merged over versions already); `costs` has target and cost_per_1k_usd.
    """
    label = percentile.rsplit("_", 1)[-1]
    cost_of = dict(zip(costs["target"], costs["cost_per_1k_usd"])) if not costs.empty else {}
    sides = tuple(Side(str(r["target"]), float(r[percentile]), float(r[percentile]) <= slo_ms,
                       float(cost_of.get(r["target"], math.nan)))
                  for _, r in latency.iterrows() if not missing(r[percentile]))
    goal = f"{label} ≤ {slo_ms:g} ms"
    if not sides:
        return SloVerdict("warning", f"No latency measured yet to judge {goal}.", None, sides)
    meeting = [s for s in sides if s.meets]
    missing_sides = [s for s in sides if not s.meets]
    if not meeting:
        closest = min(sides, key=lambda s: s.latency_ms)
        cut = 1 - slo_ms / closest.latency_ms
        text = (f"Neither side meets {goal}: " + ", ".join(s.describe() for s in sides)
                + f". Closest: {closest.target}, which needs {cut:.0%} less latency.")
        return SloVerdict("error", text, None, sides)
    cheapest = min(meeting, key=lambda s: (math.inf if missing(s.cost_per_1k_usd) else s.cost_per_1k_usd))
    if len(sides) == 1:
        return SloVerdict("warning", f"Only {cheapest.describe()} has data; it meets {goal}.",
                          cheapest.target, sides)
    if missing_sides:
        text = (f"Only {cheapest.describe()} meets {goal}; "
                + ", ".join(s.describe() for s in missing_sides) + " misses it.")
        return SloVerdict("success", text, cheapest.target, sides)
    others = [s for s in meeting if s is not cheapest]
    text = f"Both sides meet {goal}. {cheapest.describe()} is the cheaper way to meet it"
    other = others[0]
    priced = not missing(other.cost_per_1k_usd) and not missing(cheapest.cost_per_1k_usd)
    if priced and cheapest.cost_per_1k_usd > 0:
        text += f" ({other.cost_per_1k_usd / cheapest.cost_per_1k_usd:.1f}× less than {other.target})"
    return SloVerdict("success", text + ".", cheapest.target, sides)
