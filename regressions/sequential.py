"""Sequential monitoring of a rollout: the event-share e-process, valid however often it is looked at.

Each bad event (an error, a call above a fixed latency edge, a low-confidence prediction) comes
from the candidate with probability equal to the candidate's traffic share π when the candidate is
no worse. For θ > 1 (the candidate's bad-event rate is θ times the baseline's) the likelihood
ratio of one event is ``θ^y / (1 − π + θπ)``; the product over events is a nonnegative martingale
under the null, and so is an average of such products over a grid of θ. Ville's inequality gives
``P(sup_t E_t ≥ 1/alpha) ≤ alpha``: stop and fail the rollout the first time ``E_t ≥ 1/alpha``.
A window's events can be added at once (order inside a window does not matter when π is constant).
With fixed per-window call counts, the candidate's count of a window's bad events is hypergeometric,
which is dominated in convex order by the binomial (Hoeffding 1963), so E_t stays a supermartingale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .model import LatencyHistogram

__all__ = ["DEFAULT_THETAS", "EventShareEProcess", "count_above", "edge_index"]

DEFAULT_THETAS = (1.1, 1.25, 1.5, 2.0, 3.0, 5.0)


class EventShareEProcess:
    """An always-valid one-sided test that the candidate produces more than its share of bad events."""

    def __init__(
        self,
        alpha: float = 0.05,
        thetas: Sequence[float] = DEFAULT_THETAS,
        weights: Sequence[float] | None = None,
    ) -> None:
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        if not thetas or any(t <= 0 for t in thetas):
            raise ValueError("thetas must be positive rate ratios, e.g. (1.1, 1.25, 1.5, 2, 3, 5)")
        w = np.full(len(thetas), 1 / len(thetas)) if weights is None else np.asarray(weights, dtype=float)
        if len(w) != len(thetas) or np.any(w < 0) or not math.isclose(float(w.sum()), 1.0):
            raise ValueError("weights must be one non-negative weight per theta, summing to 1")
        self.alpha = alpha
        self.thetas = np.asarray(thetas, dtype=float)
        self._log_w = np.log(np.where(w > 0, w, 1e-300))
        self._log_theta = np.log(self.thetas)
        self._log_wealth = np.zeros(len(thetas))
        self.events = 0
        self.candidate_events = 0
        self.looks = 0
        self.rejected = False
        self.rejected_at: int | None = None

    def update(self, bad_baseline: int, bad_candidate: int, candidate_share: float) -> float:
        """Add one window (or event): bad events per side and the candidate's traffic share; returns E_t."""
        if not 0 < candidate_share < 1:
            if bad_baseline + bad_candidate == 0:
                return self.e_value
            raise ValueError(
                f"candidate_share must be in (0, 1) when there are events, got {candidate_share}"
            )
        if bad_baseline < 0 or bad_candidate < 0:
            raise ValueError("event counts must be ≥ 0")
        k = bad_baseline + bad_candidate
        self._log_wealth += bad_candidate * self._log_theta - k * np.log1p(
            candidate_share * (self.thetas - 1)
        )
        self.events += k
        self.candidate_events += bad_candidate
        self.looks += 1
        e = self.e_value
        if e >= 1 / self.alpha and not self.rejected:
            self.rejected = True
            self.rejected_at = self.looks
        return e

    def update_calls(
        self, bad_baseline: int, calls_baseline: int, bad_candidate: int, calls_candidate: int
    ) -> float:
        """Add one window given bad events and calls per side (share = candidate calls / all calls)."""
        total = calls_baseline + calls_candidate
        return self.update(bad_baseline, bad_candidate, calls_candidate / total if total else 0.0)

    @property
    def log_e_value(self) -> float:
        """log E_t (the mixture over thetas)."""
        a = self._log_w + self._log_wealth
        m = float(a.max())
        return m + math.log(float(np.exp(a - m).sum()))

    @property
    def e_value(self) -> float:
        """E_t; fail when it reaches 1/alpha (`rejected` latches the first crossing)."""
        return math.exp(min(self.log_e_value, 700.0))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "e_value": self.e_value,
            "threshold": 1 / self.alpha,
            "alpha": self.alpha,
            "rejected": self.rejected,
            "rejected_at_look": self.rejected_at,
            "looks": self.looks,
            "events": self.events,
            "candidate_events": self.candidate_events,
            "thetas": self.thetas.tolist(),
        }


def edge_index(h: LatencyHistogram, q: float, scale: int = 0) -> int:
    """Index, at ``scale``, of the bucket holding h's q-quantile; fix it before the rollout (from history)."""
    if scale > h.scale:
        raise ValueError(f"edge scale {scale} is finer than the histogram's scale {h.scale}")
    shift = h.scale - scale
    rank = math.ceil(q * h.count)
    cum = h.zero_count
    for k, c in enumerate(h.counts):
        cum += c
        if cum >= rank and c:
            return (h.offset + k) >> shift
    return (h.offset + len(h.counts) - 1) >> shift


def count_above(h: LatencyHistogram, index: int, scale: int = 0) -> int:
    """Calls strictly above the upper edge of bucket ``index`` at ``scale`` — exact when h.scale ≥ scale."""
    if scale > h.scale:
        raise ValueError(
            f"histogram scale {h.scale} is coarser than the edge's scale {scale}: pick the edge at "
            f"scale ≤ {h.scale} so that it is a bucket boundary"
        )
    shift = h.scale - scale
    return sum(c for k, c in enumerate(h.counts) if (h.offset + k) >> shift > index)
