"""OTLP/gRPC `MetricsService/Export` with the same semantics as the HTTP receiver."""

from __future__ import annotations

from concurrent import futures

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc

from .http_app import token_ok
from .otlp_decode import DecodeFailure
from .service import Collector, Overloaded

__all__ = ["start_grpc_server"]


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, collector: Collector) -> None:
        self.collector = collector

    def Export(self, request, context):
        metadata = dict(context.invocation_metadata())
        if not token_ok(self.collector.settings.ingest_token, metadata.get("authorization")):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong ingest bearer token")
        body = request.SerializeToString()
        if len(body) > self.collector.settings.max_request_bytes:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "request larger than the size limit")
        try:
            result = self.collector.ingest_sync(body)
        except DecodeFailure as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except Overloaded as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        response = metrics_service_pb2.ExportMetricsServiceResponse()
        if result.rejected:
            response.partial_success.rejected_data_points = result.rejected
            response.partial_success.error_message = result.error_message
        return response


def start_grpc_server(
    collector: Collector, host: str, port: int, workers: int = 8
) -> tuple[grpc.Server, int]:
    """Start the gRPC server; returns it and the bound port (port 0 picks a free one)."""
    limit = collector.settings.max_request_bytes
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inferwatch-grpc"),
        options=[("grpc.max_receive_message_length", limit)],
    )
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(collector), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"cannot bind gRPC to {host}:{port}")
    server.start()
    return server, bound
