"""Agent configuration: argument > environment > default, validated once at `configure()`."""

from __future__ import annotations

import math
import os
import platform
import socket
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigurationError

__all__ = ["PROTOCOLS", "TARGETS", "Config", "default_spool_dir", "is_disabled", "resolve_config"]

TARGETS = ("edge", "cloud", "unknown")
PROTOCOLS = ("http/protobuf", "grpc")
DEFAULT_HTTP_ENDPOINT = "http://127.0.0.1:4318"
DEFAULT_GRPC_ENDPOINT = "http://127.0.0.1:4317"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Config:
    """The resolved, validated agent configuration."""

    service: str
    target: str
    endpoint: str  # full URL of the metrics endpoint (HTTP) or the gRPC target URL
    protocol: str
    device_id: str
    hardware: str
    interval_s: float
    spool_dir: Path | None  # None: spooling disabled (spool_max_mb=0)
    spool_max_mb: float
    headers: Mapping[str, str] = field(default_factory=dict)
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    disabled: bool = False


def is_disabled(env: Mapping[str, str] | None = None) -> bool:
    """True when INFERWATCH_DISABLED asks for the agent to be a no-op."""
    env = os.environ if env is None else env
    return env.get("INFERWATCH_DISABLED", "").strip().lower() in _TRUE


def default_spool_dir(service: str, env: Mapping[str, str] | None = None) -> Path:
    """Where windows wait while the collector is unreachable, per service."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in service) or "service"
    return Path(base) / "inferwatch" / "spool" / safe


def _pick(arg, env: Mapping[str, str], *names: str):
    """The argument if given, else the first environment variable set (with its name)."""
    if arg is not None:
        return arg, "argument"
    for name in names:
        value = env.get(name)
        if value is not None and value.strip() != "":
            return value.strip(), name
    return None, None


def _number(value, source: str, what: str, *, minimum: float, fix: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{what} from {source} is {value!r}, not a number — {fix}") from None
    if not math.isfinite(number) or number < minimum:
        raise ConfigurationError(f"{what} from {source} is {value!r}; it must be ≥ {minimum:g} — {fix}")
    return number


def parse_key_values(text: str, source: str) -> dict[str, str]:
    """Parse the OTel `key1=value1,key2=value2` form (values URL-decoded)."""
    result: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(
                f"{source} has {item.strip()!r}, which is not key=value — "
                "write it as key1=value1,key2=value2 (URL-encode commas and '=' inside values)"
            )
        result[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return result


def _headers(arg, env: Mapping[str, str]) -> dict[str, str]:
    if arg is None:
        value, source = _pick(None, env, "OTEL_EXPORTER_OTLP_METRICS_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS")
        return parse_key_values(value, source) if value else {}
    if isinstance(arg, str):
        return parse_key_values(arg, "headers")
    if isinstance(arg, Mapping):
        bad = [k for k, v in arg.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise ConfigurationError(f"headers must map str to str; {bad[0]!r} does not — pass e.g. "
                                     "headers={'Authorization': 'Bearer TOKEN'}")
        return dict(arg)
    raise ConfigurationError(
        f"headers is a {type(arg).__name__}; pass a dict or 'key=value,key2=value2'")


def _endpoint(arg, env: Mapping[str, str], protocol: str) -> str:
    """Resolve the endpoint the way the OTel exporters do."""
    if arg is not None:
        value, source, base = arg, "argument endpoint", True
    elif env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "").strip():
        value, source, base = env["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"].strip(), \
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", False
    elif env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        value, source, base = env["OTEL_EXPORTER_OTLP_ENDPOINT"].strip(), "OTEL_EXPORTER_OTLP_ENDPOINT", True
    else:
        value, source, base = (DEFAULT_GRPC_ENDPOINT if protocol == "grpc" else DEFAULT_HTTP_ENDPOINT), \
            "default", True
    if not isinstance(value, str):
        raise ConfigurationError(f"endpoint is a {type(value).__name__}; pass a URL such as "
                                 "'http://collector:4318'")
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigurationError(
            f"endpoint from {source} is {value!r}, not an http(s) URL — use e.g. 'http://collector:4318'"
        )
    try:
        parsed.port  # noqa: B018 — validates the port
    except ValueError:
        raise ConfigurationError(f"endpoint from {source} has an invalid port: {value!r}") from None
    if protocol == "grpc":
        return value
    if base and not parsed.path.rstrip("/").endswith("/v1/metrics"):
        # A base URL: append the signal path, as OTEL_EXPORTER_OTLP_ENDPOINT does.
        value = value.rstrip("/") + "/v1/metrics"
    return value


def resolve_config(
    service: str | None = None,
    target: str | None = None,
    endpoint: str | None = None,
    *,
    device_id: str | None = None,
    hardware: str | None = None,
    interval_s: float | None = None,
    spool_dir: str | os.PathLike | None = None,
    spool_max_mb: float | None = None,
    headers: Mapping[str, str] | str | None = None,
    protocol: str | None = None,
    timeout_s: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Build a Config from arguments, then environment, then defaults; raise ConfigurationError."""
    env = os.environ if env is None else env

    resource = {}
    raw_resource, _ = _pick(None, env, "OTEL_RESOURCE_ATTRIBUTES")
    if raw_resource:
        resource = parse_key_values(raw_resource, "OTEL_RESOURCE_ATTRIBUTES")

    svc, svc_source = _pick(service, env, "OTEL_SERVICE_NAME")
    if svc is None:
        svc = resource.get("service.name") or "unknown_service"
    if not isinstance(svc, str) or not svc.strip():
        raise ConfigurationError(f"service from {svc_source} must be a non-empty string — "
                                 "pass service='my-app' or set OTEL_SERVICE_NAME")

    tgt, tgt_source = _pick(target, env, "INFERWATCH_TARGET")
    tgt = tgt if tgt is not None else resource.get("inferwatch.target", "unknown")
    if not isinstance(tgt, str) or tgt.strip().lower() not in TARGETS:
        raise ConfigurationError(
            f"target from {tgt_source} is {tgt!r} — use 'edge' or 'cloud' (or set INFERWATCH_TARGET)"
        )
    tgt = tgt.strip().lower()

    proto, proto_source = _pick(protocol, env, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
                                "OTEL_EXPORTER_OTLP_PROTOCOL")
    proto = (proto or "http/protobuf").strip().lower() if isinstance(proto or "", str) else proto
    if proto not in PROTOCOLS:
        raise ConfigurationError(
            f"protocol from {proto_source} is {proto!r} — use 'http/protobuf' (default) or 'grpc'; "
            "the agent does not send http/json"
        )

    dev, _ = _pick(device_id, env, "INFERWATCH_DEVICE_ID")
    dev = dev if dev is not None else resource.get("device.id") or socket.gethostname() or "unknown"
    if not isinstance(dev, str) or not dev.strip():
        raise ConfigurationError("device_id must be a non-empty string — pass device_id='gw-17' "
                                 "or set INFERWATCH_DEVICE_ID")

    hw, _ = _pick(hardware, env, "INFERWATCH_HARDWARE")
    hw = hw if hw is not None else resource.get("inferwatch.hardware", "unknown")
    if not isinstance(hw, str) or not hw.strip():
        raise ConfigurationError("hardware must be a non-empty label such as 'raspberry-pi-5' — "
                                 "pass hardware=... or set INFERWATCH_HARDWARE")

    if interval_s is not None:
        interval = _number(interval_s, "argument interval_s", "interval_s", minimum=0.05,
                           fix="pass interval_s=60.0 (seconds)")
    elif env.get("OTEL_METRIC_EXPORT_INTERVAL", "").strip():
        interval = _number(env["OTEL_METRIC_EXPORT_INTERVAL"], "OTEL_METRIC_EXPORT_INTERVAL",
                           "OTEL_METRIC_EXPORT_INTERVAL", minimum=50,
                           fix="set it in milliseconds, e.g. OTEL_METRIC_EXPORT_INTERVAL=60000") / 1000.0
    else:
        interval = 60.0

    max_mb, mb_source = _pick(spool_max_mb, env, "INFERWATCH_SPOOL_MAX_MB")
    max_mb = 50.0 if max_mb is None else _number(
        max_mb, mb_source, "spool_max_mb", minimum=0, fix="pass spool_max_mb=50 (0 turns the spool off)")

    sdir, sdir_source = _pick(spool_dir, env, "INFERWATCH_SPOOL_DIR")
    if max_mb == 0:
        spool_path = None
    else:
        if sdir is not None and not isinstance(sdir, (str, os.PathLike)):
            raise ConfigurationError(f"spool_dir is a {type(sdir).__name__}; pass a directory path")
        spool_path = Path(sdir).expanduser() if sdir is not None else default_spool_dir(svc, env)
        if spool_path.exists() and not spool_path.is_dir():
            raise ConfigurationError(f"spool_dir from {sdir_source} is {str(spool_path)!r}, a file, "
                                     "not a directory — point INFERWATCH_SPOOL_DIR at a directory")

    timeout = 10.0 if timeout_s is None else _number(timeout_s, "argument timeout_s", "timeout_s",
                                                      minimum=0.01, fix="pass timeout_s=10")

    attrs = dict(resource)
    attrs.update({
        "service.name": svc,
        "device.id": dev,
        "host.name": socket.gethostname(),
        "host.arch": _host_arch(),
        "os.type": platform.system().lower() or "unknown",
        "inferwatch.target": tgt,
        "inferwatch.hardware": hw,
    })
    return Config(
        service=svc, target=tgt, endpoint=_endpoint(endpoint, env, proto), protocol=proto,
        device_id=dev, hardware=hw, interval_s=interval, spool_dir=spool_path, spool_max_mb=max_mb,
        headers=_headers(headers, env), resource_attributes=attrs, timeout_s=timeout,
        disabled=is_disabled(env),
    )


def _host_arch() -> str:
    """`host.arch` as the OTel semantic conventions spell it."""
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64",
            "i386": "x86", "i686": "x86", "armv7l": "arm32", "ppc64le": "ppc64", "s390x": "s390x"}.get(
        machine, machine or "unknown")
