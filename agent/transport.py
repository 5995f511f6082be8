"""Deliver encoded OTLP requests over HTTP/protobuf or gRPC and classify the outcome."""

from __future__ import annotations

import email.utils
import gzip
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import requests
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

__all__ = ["GrpcTransport", "HttpTransport", "SendResult", "Transport", "make_transport", "parse_retry_after"]

RETRYABLE_HTTP = {429, 502, 503, 504}  # the OTLP specification's list


@dataclass(frozen=True)
class SendResult:
    """The outcome of one export attempt."""

    ok: bool
    retryable: bool = False
    retry_after_s: float | None = None
    status: str = ""
    bytes_sent: int = 0
    rejected_points: int = 0
    message: str = ""


class Transport(Protocol):
    """Sends one gzip'ed, serialized ExportMetricsServiceRequest."""

    def send(self, payload: bytes) -> SendResult: ...
    def close(self) -> None: ...


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _rejected(body: bytes) -> tuple[int, str]:
    try:
        response = metrics_service_pb2.ExportMetricsServiceResponse.FromString(body)
        return (int(response.partial_success.rejected_data_points),
                response.partial_success.error_message)
    except Exception:
        return 0, ""


class HttpTransport:
    """OTLP/HTTP with protobuf bodies, gzip'ed, with the configured headers."""

    def __init__(self, endpoint: str, headers: Mapping[str, str] | None = None, timeout_s: float = 10.0):
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self._session = requests.Session()
        self._session.headers.update({
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "gzip",
            "User-Agent": "inferwatch-agent",
            **dict(headers or {}),
        })

    def send(self, payload: bytes) -> SendResult:
        body = payload  # already gzip'ed
        try:
            response = self._session.post(self.endpoint, data=body, timeout=self.timeout_s)
        except requests.RequestException as exc:
            return SendResult(False, True, None, "connection", message=f"{type(exc).__name__}: {exc}")
        code = response.status_code
        if 200 <= code < 300:
            rejected, message = _rejected(response.content)
            return SendResult(True, status=str(code), bytes_sent=len(body), rejected_points=rejected,
                              message=message)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        text = response.text[:300] if response.content else ""
        return SendResult(False, code in RETRYABLE_HTTP, retry_after, str(code), message=text)

    def close(self) -> None:
        self._session.close()


class GrpcTransport:
    """OTLP/gRPC `MetricsService/Export`, gzip'ed, headers as metadata."""

    RETRYABLE = {"UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "ABORTED", "CANCELLED",
                 "OUT_OF_RANGE", "DATA_LOSS"}

    def __init__(self, endpoint: str, headers: Mapping[str, str] | None = None, timeout_s: float = 10.0):
        from urllib.parse import urlsplit

        import grpc
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc

        parts = urlsplit(endpoint)
        target = f"{parts.hostname}:{parts.port or 4317}"
        self._grpc = grpc
        if parts.scheme == "https":
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(),
                                                compression=grpc.Compression.Gzip)
        else:
            self._channel = grpc.insecure_channel(target, compression=grpc.Compression.Gzip)
        self._stub = metrics_service_pb2_grpc.MetricsServiceStub(self._channel)
        self._metadata = tuple((k.lower(), v) for k, v in (headers or {}).items())
        self.timeout_s = timeout_s

    def send(self, payload: bytes) -> SendResult:
        grpc = self._grpc
        try:
            request = metrics_service_pb2.ExportMetricsServiceRequest.FromString(gzip.decompress(payload))
            response = self._stub.Export(request, metadata=self._metadata, timeout=self.timeout_s)
        except grpc.RpcError as exc:
            code = exc.code().name if hasattr(exc, "code") else "UNKNOWN"
            return SendResult(False, code in self.RETRYABLE, None, code,
                              message=str(getattr(exc, "details", lambda: "")()))
        except Exception as exc:
            return SendResult(False, True, None, "connection", message=f"{type(exc).__name__}: {exc}")
        return SendResult(True, status="OK", bytes_sent=len(payload),
                          rejected_points=int(response.partial_success.rejected_data_points),
                          message=response.partial_success.error_message)

    def close(self) -> None:
        self._channel.close()


def make_transport(protocol: str, endpoint: str, headers: Mapping[str, str], timeout_s: float) -> Transport:
    """The transport for a configured protocol."""
    if protocol == "grpc":
        return GrpcTransport(endpoint, headers, timeout_s)
    return HttpTransport(endpoint, headers, timeout_s)
