"""The Agent: one registry, one configuration, one runtime; what the module-level API drives."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from .config import Config, resolve_config
from .observe import Observer, record_into
from .runtime import Runtime
from .series import BUFFER_CAPACITY, Registry
from .stats import Stats
from .transport import Transport

__all__ = ["Agent"]

log = logging.getLogger("inferwatch")


class Agent:
    """Everything the agent holds; tests and embedders may create their own."""

    def __init__(self, registry: Registry | None = None, *,
                 transport_factory: Callable[[Config], Transport] | None = None) -> None:
        self.registry = registry or Registry()
        self.stats_ = Stats()
        self._transport_factory = transport_factory
        self._runtime: Runtime | None = None
        self._config: Config | None = None
        self._lock = threading.RLock()
        self._atexit = False

    @property
    def config(self) -> Config | None:
        """The active configuration, None before configure()."""
        return self._config

    def configure(self, **kwargs: Any) -> Config:
        """Validate the configuration (raising ConfigurationError) and (re)start the background."""
        config = resolve_config(**kwargs)
        with self._lock:
            old, self._runtime = self._runtime, None
            if old is not None:
                old.stop(timeout_s=2.0)
            self._config = config
            if config.disabled:
                self.registry.set_capacity(0)
                for series in self.registry.all():
                    series.drain()
                return config
            self.registry.set_capacity(BUFFER_CAPACITY)
            transport = self._transport_factory(config) if self._transport_factory else None
            runtime = Runtime(config, self.registry, self.stats_, transport=transport)
            runtime.start()
            self._runtime = runtime
            if not self._atexit:
                atexit.register(self.shutdown)
                if hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=self._after_fork)
                self._atexit = True
        return config

    def observe(self, model: str, version: str | None = None, *,
                confidence: Callable[[Any], Any] | None = None) -> Observer:
        """A decorator (sync or async) and context manager that measures each call."""
        if not isinstance(model, str) or not model:
            raise TypeError("observe() needs the model name as a non-empty string, e.g. observe('digits')")
        if version is not None and not isinstance(version, str):
            version = str(version)
        return Observer(self.registry.series(model, version or ""), confidence)

    def record(self, model: str, version: str | None = None, *, duration_s: Any,
               confidence: Any = None, error: Any = None) -> bool:
        """Record one call measured elsewhere; never raises, returns False for invalid input."""
        return record_into(self.registry, model, version, duration_s, confidence, error)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Close the current window now and wait (≤ timeout_s) for delivery; True if all got through."""
        try:
            runtime = self._runtime
            return runtime.flush(float(timeout_s)) if runtime is not None else False
        except Exception:
            log.exception("inferwatch: flush failed")
            return False

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Deliver what is pending (or spool it) and stop the background threads."""
        try:
            with self._lock:
                runtime, self._runtime = self._runtime, None
            if runtime is not None:
                runtime.stop(timeout_s=timeout_s)
        except Exception:
            log.exception("inferwatch: shutdown failed")

    def stats(self) -> dict:
        """Self-telemetry: calls, drops, spool, export outcomes, measured overhead."""
        out: dict[str, Any] = dict(self.stats_.totals())
        out.update(self.stats_.gauges())
        pending = 0
        for series in self.registry.all():
            pending += len(series.durations) + len(series.errors)
            counts = series.peek_counts()
            for key, n in counts.items():
                out[key] = out.get(key, 0) + n
        out["buffered"] = pending
        out["configured"] = self._config is not None
        out["running"] = self._runtime is not None
        out["disabled"] = bool(self._config and self._config.disabled)
        return out

    def _after_fork(self) -> None:
        # Threads do not survive fork(); the spool belongs to the parent. The child must
        # call configure() itself (gunicorn: in post_fork / post_worker_init).
        self._runtime = None
        self.registry.set_capacity(0)
        for series in self.registry.all():
            series.drain()
