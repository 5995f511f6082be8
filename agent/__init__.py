"""inferwatch: measure ML inference calls at near-zero cost and export OTLP metrics.

    import inferwatch
    inferwatch.configure(service="digits-app", target="edge", endpoint="http://collector:4318")

    @inferwatch.observe(model="digits", version="2.1.0", confidence=lambda y: float(y.max()))
    def predict(x): ...
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from .agent import Agent
from .config import Config
from .errors import ConfigurationError, InferwatchError, MissingExtraError
from .observe import Call, Observer
from .version import __version__

__all__ = [
    "Agent",
    "Call",
    "Config",
    "ConfigurationError",
    "InferwatchError",
    "MissingExtraError",
    "Observer",
    "__version__",
    "configure",
    "default_agent",
    "flush",
    "observe",
    "record",
    "shutdown",
    "stats",
]

_agent = Agent()


def default_agent() -> Agent:
    """The process-wide agent behind the module-level functions."""
    return _agent


def configure(service: str | None = None, target: str | None = None, endpoint: str | None = None, *,
              device_id: str | None = None, hardware: str | None = None, interval_s: float | None = None,
              spool_dir: str | os.PathLike | None = None, spool_max_mb: float | None = None,
              headers: Mapping[str, str] | str | None = None, protocol: str | None = None,
              timeout_s: float | None = None) -> Config:
    """Configure (or reconfigure) the agent; raises ConfigurationError naming the fix."""
    return _agent.configure(service=service, target=target, endpoint=endpoint, device_id=device_id,
                            hardware=hardware, interval_s=interval_s, spool_dir=spool_dir,
                            spool_max_mb=spool_max_mb, headers=headers, protocol=protocol,
                            timeout_s=timeout_s)


def observe(model: str, version: str | None = None, *,
            confidence: Callable[[Any], Any] | None = None) -> Observer:
    """Measure a function (decorator, sync or async) or a block (`with observe(...) as call:`)."""
    return _agent.observe(model, version, confidence=confidence)


def record(model: str, version: str | None = None, *, duration_s: float, confidence: float | None = None,
           error: BaseException | type | str | None = None) -> bool:
    """Record one call measured elsewhere; never raises, returns False for invalid input."""
    return _agent.record(model, version, duration_s=duration_s, confidence=confidence, error=error)


def flush(timeout_s: float = 10.0) -> bool:
    """Close the current window and deliver it; True if everything pending got through."""
    return _agent.flush(timeout_s)


def shutdown() -> None:
    """Deliver or spool what is pending and stop; also runs at interpreter exit."""
    _agent.shutdown()


def stats() -> dict:
    """The agent's self-telemetry as a dict."""
    return _agent.stats()
