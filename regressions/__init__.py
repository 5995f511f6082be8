"""inferwatch.regressions: regression detection on stored histograms (see its issue)."""
