"""Pause Python's cyclic garbage collector while the engine builds many short-lived, acyclic objects.

Building populations and findings for 1,000 cohorts allocates ~100,000 containers (histograms, drafts,
findings, their dicts). Each allocation burst triggers collections, and the full ones traverse every
object the caller holds (a benchmark or a dashboard holds hundreds of thousands): measured on the
1,000-cohort verdict, rows → populations 0.44–0.50 s with the collector running, 0.28–0.33 s paused;
compare 0.34–0.45 s vs 0.28–0.35 s. None of these objects form reference cycles, so the paused
collections would free nothing; reference counting still frees everything at once. The collector is
enabled again when the outermost pause ends (nested and concurrent pauses count as one) unless it was
disabled before the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic garbage collector for the block (reference counting is unaffected)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
