"""Edge vs cloud cost per 1,000 inferences and per month, from measured traffic and a pricing file.

The model (documented in docs/cost-model.md):

- cloud, per 1k inferences = 1000 x (instance_hour_usd / (3600 x capacity x utilization)
  + request_usd + egress_gb_usd x response_bytes / 1e9), where capacity = concurrency / mean
  latency in seconds (what one instance can serve when busy);
- edge, per device per month = hardware_usd / amortization_months + power_watts x 720 h / 1000 x
  kwh_usd + upload_gb_usd x telemetry bytes per device per day x 30 / 1e9; per 1k inferences =
  fleet month / calls per month x 1000;
- calls per month extrapolate the measured call rate over the range to 30 days.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from inferwatch.errors import ConfigurationError

__all__ = ["CloudPricing", "EdgePricing", "Pricing", "estimate", "load_pricing"]

HOURS_PER_MONTH = 720.0
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600


@dataclass(frozen=True)
class CloudPricing:
    """What a cloud inference service costs."""

    instance_hour_usd: float = 0.10  # one inference instance (e.g. a small CPU VM) per hour
    concurrency: float = 1.0  # requests one instance serves in parallel
    utilization: float = 0.6  # share of capacity used on average (headroom for peaks)
    request_usd: float = 0.0  # per-request price (serverless / managed endpoints)
    egress_gb_usd: float = 0.09  # data leaving the cloud, per GB
    response_bytes: float = 2_000.0  # bytes returned per inference


@dataclass(frozen=True)
class EdgePricing:
    """What one edge device costs."""

    hardware_usd: float = 80.0  # e.g. a Raspberry Pi 5 with power supply and case
    amortization_months: float = 36.0
    power_watts: float = 5.0  # average draw while serving
    kwh_usd: float = 0.15
    upload_gb_usd: float = 0.0  # telemetry upload (e.g. cellular data) per GB


@dataclass(frozen=True)
class Pricing:
    """Cloud and edge prices; every field has a documented default."""

    cloud: CloudPricing = CloudPricing()
    edge: EdgePricing = EdgePricing()

    def to_dict(self) -> dict[str, dict[str, float]]:
        return {"cloud": asdict(self.cloud), "edge": asdict(self.edge)}


def _section(cls, values: Any, source: str, name: str):
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigurationError(f"{source}: [{name}] must be a table of prices")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigurationError(f"{source}: unknown key {name}.{unknown[0]} — known keys: "
                                 + ", ".join(sorted(known)))
    clean = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < 0:
            raise ConfigurationError(f"{source}: {name}.{key} must be a number ≥ 0, got {value!r}")
        clean[key] = float(value)
    if name == "cloud" and (clean.get("utilization", 1.0) == 0 or clean.get("concurrency", 1.0) == 0):
        raise ConfigurationError(f"{source}: cloud.utilization and cloud.concurrency must be > 0")
    if name == "edge" and clean.get("amortization_months", 1.0) == 0:
        raise ConfigurationError(f"{source}: edge.amortization_months must be > 0")
    return cls(**clean)


def load_pricing(path: str | os.PathLike | None = None, overrides: dict[str, dict[str, float]] | None = None
                 ) -> Pricing:
    """Prices from a TOML or YAML file (sections [cloud] and [edge]), then overrides, else defaults."""
    data: dict[str, Any] = {}
    source = "pricing"
    if path is not None:
        source = str(path)
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot read pricing file {source!r}: {exc.strerror}") from None
        try:
            if p.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text) or {}
            else:
                data = tomllib.loads(text)
        except Exception as exc:
            raise ConfigurationError(f"pricing file {source!r} is not valid "
                                     f"{'YAML' if p.suffix.lower() in ('.yaml', '.yml') else 'TOML'}: "
                                     f"{exc}") from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"pricing file {source!r} must hold [cloud] and [edge] sections")
        unknown = sorted(set(data) - {"cloud", "edge"})
        if unknown:
            raise ConfigurationError(f"{source}: unknown section [{unknown[0]}] — use [cloud] and [edge]")
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)
    return Pricing(_section(CloudPricing, data.get("cloud"), source, "cloud"),
                   _section(EdgePricing, data.get("edge"), source, "edge"))


def estimate(inputs: pd.DataFrame, pricing: Pricing) -> pd.DataFrame:
    """Cost per 1k inferences and per month for each row of measured inputs.

    `inputs` has columns target, model, calls, seconds (length of the measured range),
    mean_latency_ms, devices, bytes_per_device_day (as the `cost_inputs` named query returns).
    """
    rows = []
    c, e = pricing.cloud, pricing.edge
    for row in inputs.to_dict("records"):
        calls, seconds = float(row.get("calls") or 0), float(row.get("seconds") or 0)
        rate = calls / seconds if seconds > 0 else 0.0
        calls_month = rate * SECONDS_PER_MONTH
        devices = float(row.get("devices") or 0)
        bytes_day = float(row.get("bytes_per_device_day") or 0)
        latency_s = float(row.get("mean_latency_ms") or 0) / 1000
        if row.get("target") == "cloud":
            capacity = c.concurrency / latency_s if latency_s > 0 else math.inf
            compute = c.instance_hour_usd / (3600 * capacity * c.utilization) if capacity else math.nan
            per_1k = 1000 * (compute + c.request_usd + c.egress_gb_usd * c.response_bytes / 1e9)
            month = per_1k * calls_month / 1000
            instances = rate / (capacity * c.utilization) if capacity and math.isfinite(capacity) else 0.0
        else:
            per_device = (e.hardware_usd / e.amortization_months
                          + e.power_watts * HOURS_PER_MONTH / 1000 * e.kwh_usd
                          + e.upload_gb_usd * bytes_day * 30 / 1e9)
            month = per_device * devices
            per_1k = month / calls_month * 1000 if calls_month > 0 else math.nan
            instances = devices
        rows.append({**row, "calls_per_s": rate, "calls_per_month": calls_month, "units": instances,
                     "cost_per_1k_usd": per_1k, "cost_per_month_usd": month,
                     "bytes_per_device_day": bytes_day})
    return pd.DataFrame(rows)
