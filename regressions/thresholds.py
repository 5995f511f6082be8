"""Thresholds and gates per check, with per-model overrides, from a TOML/YAML file and `key=value` flags."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from inferwatch.errors import ConfigurationError

__all__ = [
    "CORRECTIONS",
    "DEFAULT_WEIGHTS",
    "CheckThresholds",
    "ConfidenceThresholds",
    "ErrorThresholds",
    "LatencyThresholds",
    "MemoryThresholds",
    "Thresholds",
    "load_thresholds",
]

CORRECTIONS = ("holm", "bh", "none")

# Share of the family's alpha per check (relative; normalised over the tests actually run). Most
# goes where a target-size change is hardest to see at ~5,000 calls a side: the error rate and p95.
# The confidence mean and memory tests see their target changes with z ≥ 8 there and lose nothing
# with a small share; p50 catches scale shifts early. See docs/regressions.md ("Decision rule").
DEFAULT_WEIGHTS = {
    "latency.p50": 0.10,
    "latency.p95": 0.30,
    "latency.p99": 0.025,
    "errors.rate": 0.40,
    "confidence.mean": 0.05,
    "confidence.p05": 0.05,
    "memory.avg_rss": 0.025,
    "memory.peak_rss": 0.05,
}
OTHER_QUANTILE_WEIGHT = 0.05  # a latency quantile other than p50/p95/p99


def default_quantile_weights(quantiles: tuple[float, ...]) -> tuple[float, ...]:
    """The default weight of each latency quantile (p50/p95/p99 as above, any other 0.05)."""
    return tuple(
        DEFAULT_WEIGHTS.get(f"latency.p{round(q * 100):02d}", OTHER_QUANTILE_WEIGHT)
        if round(q * 100) / 100 == q
        else OTHER_QUANTILE_WEIGHT
        for q in quantiles
    )


@dataclass(frozen=True)
class LatencyThresholds:
    """Latency quantile checks: flag a relative increase of a quantile beyond ``threshold``."""

    enabled: bool = True
    threshold: float = 0.10
    quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)
    min_calls: int = 200
    min_events: int = 10
    weights: tuple[float, ...] = default_quantile_weights((0.5, 0.95, 0.99))

    def quantile_weights(self) -> tuple[float, ...]:
        """One alpha weight per quantile (the defaults for these quantiles if ``weights`` does not fit)."""
        if len(self.weights) == len(self.quantiles):
            return self.weights
        return default_quantile_weights(self.quantiles)


@dataclass(frozen=True)
class ErrorThresholds:
    """Error-rate check: flag an absolute increase beyond ``threshold`` (0.005 = 0.5 percentage points)."""

    enabled: bool = True
    threshold: float = 0.005
    min_calls: int = 200
    weight: float = DEFAULT_WEIGHTS["errors.rate"]


@dataclass(frozen=True)
class ConfidenceThresholds:
    """Confidence checks: flag a drop of the mean or of the 5th percentile beyond an absolute threshold."""

    enabled: bool = True
    mean_threshold: float = 0.02
    p05_threshold: float = 0.02
    min_count: int = 200
    min_events: int = 10
    mean_weight: float = DEFAULT_WEIGHTS["confidence.mean"]
    p05_weight: float = DEFAULT_WEIGHTS["confidence.p05"]


@dataclass(frozen=True)
class MemoryThresholds:
    """Memory checks: flag relative growth of the per-window average and peak RSS beyond a threshold."""

    enabled: bool = True
    avg_threshold: float = 0.10
    peak_threshold: float = 0.10
    min_windows: int = 5
    avg_weight: float = DEFAULT_WEIGHTS["memory.avg_rss"]
    peak_weight: float = DEFAULT_WEIGHTS["memory.peak_rss"]


@dataclass(frozen=True)
class CheckThresholds:
    """Thresholds of every check for one model (or the defaults)."""

    latency: LatencyThresholds = field(default_factory=LatencyThresholds)
    errors: ErrorThresholds = field(default_factory=ErrorThresholds)
    confidence: ConfidenceThresholds = field(default_factory=ConfidenceThresholds)
    memory: MemoryThresholds = field(default_factory=MemoryThresholds)


@dataclass(frozen=True)
class Thresholds:
    """Family-wide settings (alpha, correction, power) plus per-check defaults and per-model overrides."""

    alpha: float = 0.01
    correction: str = "holm"
    power: float = 0.8
    defaults: CheckThresholds = field(default_factory=CheckThresholds)
    models: Mapping[str, CheckThresholds] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _validate_family(self.alpha, self.correction, self.power, "Thresholds")

    def for_model(self, model: str | None) -> CheckThresholds:
        """The thresholds that apply to a model (its overrides, else the defaults)."""
        return self.models.get(model, self.defaults) if model is not None else self.defaults

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "thresholds") -> Thresholds:
        """Build from a parsed file: top-level alpha/correction/power, check sections, ``[models.NAME.*]``."""
        if not isinstance(data, Mapping):
            raise ConfigurationError(
                f"{source}: expected a table of settings at the top level — see docs/regressions.md"
            )
        top = {k: v for k, v in data.items() if k not in _SECTION_TYPES and k != "models"}
        unknown = set(top) - {"alpha", "correction", "power"}
        if unknown:
            raise ConfigurationError(
                f"{source}: unknown setting {sorted(unknown)[0]!r} — known: alpha, correction, "
                f"power, {', '.join(_SECTION_TYPES)}, models"
            )
        base = cls()
        alpha = _number(top.get("alpha", base.alpha), f"{source}: alpha")
        power = _number(top.get("power", base.power), f"{source}: power")
        correction = top.get("correction", base.correction)
        _validate_family(alpha, correction, power, source)
        defaults = _checks(CheckThresholds(), data, source, per_model=False)
        models_data = data.get("models", {})
        if not isinstance(models_data, Mapping):
            raise ConfigurationError(
                f"{source}: 'models' must be a table of model names, e.g. [models.digits.latency]"
            )
        models = {
            str(name): _checks(defaults, m, f"{source}: models.{name}", per_model=True)
            for name, m in models_data.items()
        }
        return cls(alpha=alpha, correction=correction, power=power, defaults=defaults, models=models)

    def with_overrides(self, assignments: Iterable[str]) -> Thresholds:
        """Apply ``key=value`` flags, e.g. ``latency.threshold=0.2``, ``models.m.errors.threshold=0.01``."""
        data = self.to_dict()
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep or not key.strip():
                raise ConfigurationError(
                    f"threshold override {item!r} is not key=value — e.g. latency.threshold=0.2"
                )
            parts = key.strip().split(".")
            target = data
            if parts[0] == "models" and len(parts) >= 3 and parts[1] not in data["models"]:
                data["models"][parts[1]] = _as_dict(self.defaults)
            for p in parts[:-1]:
                if not isinstance(target, dict) or p not in target:
                    raise ConfigurationError(f"threshold override {item!r}: unknown key {key.strip()!r}")
                target = target[p]
            if not isinstance(target, dict) or parts[-1] not in target:
                raise ConfigurationError(f"threshold override {item!r}: unknown key {key.strip()!r}")
            target[parts[-1]] = _parse_scalar(raw.strip())
            if parts[-1] == "quantiles" and "weights" in target and isinstance(target["quantiles"], list):
                try:  # new quantiles take their default weights unless weights are set too
                    target["weights"] = list(default_quantile_weights(tuple(target["quantiles"])))
                except TypeError:
                    pass  # not numbers: from_dict below names the problem
        return Thresholds.from_dict(data, "threshold overrides")

    def to_dict(self) -> dict[str, Any]:
        """A dict that `from_dict` reads back (also what a report records)."""
        out: dict[str, Any] = {"alpha": self.alpha, "correction": self.correction, "power": self.power}
        out.update(_as_dict(self.defaults))
        out["models"] = {name: _as_dict(c) for name, c in self.models.items()}
        return out


_SECTION_TYPES = {
    "latency": LatencyThresholds,
    "errors": ErrorThresholds,
    "confidence": ConfidenceThresholds,
    "memory": MemoryThresholds,
}


def _as_dict(c: CheckThresholds) -> dict[str, Any]:
    return {
        name: {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in dataclasses.asdict(getattr(c, name)).items()
        }
        for name in _SECTION_TYPES
    }


def _validate_family(alpha: Any, correction: Any, power: Any, source: str) -> None:
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 0.5):
        raise ConfigurationError(
            f"{source}: alpha must be a number in (0, 0.5), got {alpha!r} — e.g. alpha = 0.01"
        )
    if correction not in CORRECTIONS:
        raise ConfigurationError(
            f"{source}: correction must be one of {', '.join(CORRECTIONS)}, got {correction!r}"
        )
    if not (isinstance(power, (int, float)) and 0.5 <= power < 1):
        raise ConfigurationError(
            f"{source}: power must be a number in [0.5, 1), got {power!r} — e.g. power = 0.8"
        )


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigurationError(f"{where} must be a number, got {v!r}")
    return float(v)


def _checks(base: CheckThresholds, data: Mapping[str, Any], source: str, per_model: bool) -> CheckThresholds:
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{source}: expected a table, got {data!r}")
    out = base
    for name, values in data.items():
        if name not in _SECTION_TYPES:
            if not per_model:
                continue  # top-level settings, validated by the caller
            if name in ("alpha", "correction", "power"):
                raise ConfigurationError(
                    f"{source}: {name!r} is family-wide; set it at the top level, not per model"
                )
            raise ConfigurationError(
                f"{source}: unknown section {name!r} — known: {', '.join(_SECTION_TYPES)}"
            )
        if not isinstance(values, Mapping):
            raise ConfigurationError(
                f"{source}: [{name}] must be a table, e.g. [{name}] with threshold = 0.1"
            )
        out = replace(out, **{name: _section(getattr(out, name), values, f"{source}: {name}")})
    return out


def _section(current: Any, values: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(current)}
    changes: dict[str, Any] = {}
    for key, v in values.items():
        if key not in known:
            raise ConfigurationError(f"{where}.{key}: unknown setting — known: {', '.join(known)}")
        default = getattr(current, key)
        label = f"{where}.{key}"
        if isinstance(default, bool):
            if not isinstance(v, bool):
                raise ConfigurationError(f"{label} must be true or false, got {v!r}")
        elif isinstance(default, int):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigurationError(f"{label} must be a whole number ≥ 0, got {v!r}")
        elif isinstance(default, float):
            v = _number(v, label)
            if key.endswith("weight"):
                if v <= 0:
                    raise ConfigurationError(
                        f"{label} must be > 0 (a relative share of alpha, e.g. 0.4), got {v!r} — "
                        "to stop gating a check, set enabled = false or leave it out"
                    )
            elif v < 0 or (key.endswith("threshold") and v >= 10):
                raise ConfigurationError(f"{label} must be ≥ 0 (a fraction: 0.1 = 10%), got {v!r}")
        elif isinstance(default, tuple):
            if not isinstance(v, (list, tuple)) or not v:
                raise ConfigurationError(f"{label} must be a non-empty list, e.g. [0.5, 0.95, 0.99]")
            v = tuple(_number(q, label) for q in v)
            if key == "quantiles" and not all(0 < q < 1 for q in v):
                raise ConfigurationError(
                    f"{label}: quantiles must lie strictly between 0 and 1, got {list(v)}"
                )
            if key == "weights" and not all(w > 0 for w in v):
                raise ConfigurationError(f"{label}: weights must be > 0, got {list(v)}")
        changes[key] = v
    if "quantiles" in changes and "weights" not in changes:
        changes["weights"] = default_quantile_weights(changes["quantiles"])
    out = replace(current, **changes)
    if hasattr(out, "quantiles") and len(out.weights) != len(out.quantiles):
        raise ConfigurationError(
            f"{where}.weights: one weight per quantile — {len(out.weights)} weights for "
            f"{len(out.quantiles)} quantiles {list(out.quantiles)}"
        )
    return out


def _parse_scalar(raw: str) -> Any:
    low = raw.lower()
    if low in ("true", "false"):
        return low == "true"
    if raw.startswith("[") and raw.endswith("]"):
        return [_parse_scalar(p.strip()) for p in raw[1:-1].split(",") if p.strip()]
    for conv in (int, float):
        try:
            return conv(raw)
        except ValueError:
            pass
    return raw


def load_thresholds(path: str | Path) -> Thresholds:
    """Read thresholds from a ``.toml`` or ``.yaml``/``.yml`` file; errors name the file and the fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read thresholds file {path}: {exc.strerror or exc} — check the path"
        ) from exc
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path}: not valid TOML ({exc}) — fix the syntax at that line") from exc
    elif suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ModuleNotFoundError as exc:
            raise ConfigurationError(
                f"{path}: reading YAML needs PyYAML — try `pip install pyyaml` or use a .toml file"
            ) from exc
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"{path}: not valid YAML ({exc}) — fix the syntax there") from exc
    else:
        raise ConfigurationError(
            f"{path}: unknown thresholds format {suffix or '(none)'!r} — use .toml, .yaml or .yml"
        )
    return Thresholds.from_dict(data, str(path))
