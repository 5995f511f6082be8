"""inferwatch.regressions: regression detection on stored histograms, pure and UI-free.

Build `Population`s per side and cohort (or `build_cohorts` from keyed rows), call `compare`, read the
`Report` (verdict, findings, `to_dict()`). Methods and references: docs/regressions.md.
"""

from .engine import COMPARISONS, DEFAULT_SPLIT, build_cohorts, compare
from .model import (
    Cohort,
    ConfidenceHistogram,
    Finding,
    LatencyHistogram,
    Memory,
    Population,
    Report,
    Sample,
    Status,
    Verdict,
)
from .sequential import DEFAULT_THETAS, EventShareEProcess
from .thresholds import (
    CheckThresholds,
    ConfidenceThresholds,
    ErrorThresholds,
    LatencyThresholds,
    MemoryThresholds,
    Thresholds,
    load_thresholds,
)

__all__ = [
    "COMPARISONS",
    "DEFAULT_SPLIT",
    "DEFAULT_THETAS",
    "CheckThresholds",
    "Cohort",
    "ConfidenceHistogram",
    "ConfidenceThresholds",
    "ErrorThresholds",
    "EventShareEProcess",
    "Finding",
    "LatencyHistogram",
    "LatencyThresholds",
    "Memory",
    "MemoryThresholds",
    "Population",
    "Report",
    "Sample",
    "Status",
    "Thresholds",
    "Verdict",
    "build_cohorts",
    "compare",
    "load_thresholds",
]
