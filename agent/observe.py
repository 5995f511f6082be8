"""The hot path: `observe` (decorator and context manager) and `record`."""

from __future__ import annotations

import functools
import inspect
import math
import threading
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

from .config import is_disabled
from .series import Registry, Series

__all__ = ["Call", "Observer", "record_into"]


class Call:
    """One observed call inside `with observe(...) as call:`; set `call.confidence`."""

    __slots__ = ("confidence", "t0")

    def __init__(self, t0: int) -> None:
        self.t0 = t0
        self.confidence: float | None = None


def _confidence_hook(series: Series, confidence: Callable[[Any], Any] | None):
    if confidence is None:
        return None
    if not callable(confidence):
        raise TypeError(f"confidence must be a callable taking the result, got {type(confidence).__name__}"
                        " — e.g. confidence=lambda y: float(y.max())")

    def hook(result: Any) -> None:
        try:
            value = confidence(result)
        except Exception:
            series.count("confidence_errors")
        else:
            series.on_confidence(value)

    return hook


def _wrap(fn: Callable, series: Series, confidence: Callable[[Any], Any] | None) -> Callable:
    """Return fn wrapped with two perf_counter_ns readings and an append.

    The three wrappers below repeat themselves on purpose: each is specialised (async, sync, sync
    with a confidence hook) so the hot path carries no branch or call it does not need.
    """
    buf = series.durations
    append = buf.append
    clock = perf_counter_ns
    on_error = series.on_error
    hook = _confidence_hook(series, confidence)

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args, **kwargs):
            t0 = clock()
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                on_error(clock() - t0, type(exc))
                raise
            d = clock() - t0
            if len(buf) < series.capacity:
                append(d)
            else:
                series.count("dropped")
            if hook is not None:
                hook(result)
            return result

        return async_wrapper

    if hook is None:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            t0 = clock()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                on_error(clock() - t0, type(exc))
                raise
            d = clock() - t0
            if len(buf) < series.capacity:
                append(d)
            else:
                series.count("dropped")
            return result

        return wrapper

    @functools.wraps(fn)
    def wrapper_with_confidence(*args, **kwargs):
        t0 = clock()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            on_error(clock() - t0, type(exc))
            raise
        d = clock() - t0
        if len(buf) < series.capacity:
            append(d)
        else:
            series.count("dropped")
        hook(result)
        return result

    return wrapper_with_confidence


class Observer:
    """What `observe(model, version)` returns: a decorator and a reusable context manager."""

    __slots__ = ("_confidence", "_local", "_slot", "series")

    def __init__(self, series: Series, confidence: Callable[[Any], Any] | None = None) -> None:
        self.series = series
        self._confidence = confidence
        self._slot: dict[str, Call] = {}  # the common case: one `with` at a time per observe(...) object
        self._local: threading.local | None = None  # nested or concurrent use of the same object

    def __call__(self, fn: Callable) -> Callable:
        if not callable(fn):
            raise TypeError(f"@observe decorates a function, got {type(fn).__name__}")
        if is_disabled():
            return fn
        return _wrap(fn, self.series, self._confidence)

    def __enter__(self) -> Call:
        call = Call(perf_counter_ns())
        if self._slot.setdefault("call", call) is call:  # atomic claim of the fast slot
            return call
        local = self._local
        if local is None:
            local = self._local = threading.local()
        stack = getattr(local, "stack", None)
        if stack is None:
            stack = local.stack = []
        stack.append(call)
        return call

    def __exit__(self, exc_type, exc, tb) -> bool:
        end = perf_counter_ns()
        try:
            local = self._local
            stack = getattr(local, "stack", None) if local is not None else None
            call = stack.pop() if stack else self._slot.pop("call")
            series = self.series
            if exc_type is not None:
                series.on_error(end - call.t0, exc_type)
                return False
            if len(series.durations) < series.capacity:
                series.durations.append(end - call.t0)
            else:
                series.count("dropped")
            if call.confidence is not None:
                series.on_confidence(call.confidence)
        except Exception:  # never raise into the host
            pass
        return False

    async def __aenter__(self) -> Call:
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        return self.__exit__(exc_type, exc, tb)


def record_into(registry: Registry, model: str, version: str | None, duration_s: Any,
                confidence: Any = None, error: Any = None) -> bool:
    """Record one call measured elsewhere; returns False (and counts it) for invalid input."""
    try:
        series = registry.series(str(model), "" if version is None else str(version))
        try:
            seconds = float(duration_s)
        except (TypeError, ValueError):
            seconds = math.nan
        if isinstance(duration_s, bool) or not math.isfinite(seconds) or seconds < 0:
            series.count("invalid_records")
            return False
        ns = int(round(seconds * 1e9))
        if error is not None and error is not False:
            if isinstance(error, BaseException):
                series.on_error(ns, type(error))
            elif isinstance(error, type) and issubclass(error, BaseException):
                series.on_error(ns, error)
            else:
                series.on_error(ns, str(error))  # an error type name given as text
        elif len(series.durations) < series.capacity:
            series.durations.append(ns)
        else:
            series.count("dropped")
        if confidence is not None:
            series.on_confidence(confidence)
        return True
    except Exception:
        return False
