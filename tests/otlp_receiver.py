"""A real OTLP/HTTP metrics receiver for tests: decodes what the agent sends, can go down and come back."""

from __future__ import annotations

import gzip
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

__all__ = ["OtlpReceiver", "free_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OtlpReceiver:
    """Collects decoded ExportMetricsServiceRequests; `status` forces an answer (e.g. 503)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[ExportMetricsServiceRequest] = []
        self.raw_bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.status = 200
        self.retry_after: str | None = None
        self.attempts = 0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.attempts += 1
                    status, retry_after = receiver.status, receiver.retry_after
                if status != 200:
                    self.send_response(status)
                    if retry_after is not None:
                        self.send_header("Retry-After", retry_after)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    with receiver._lock:
                        receiver.changed.notify_all()
                    return
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportMetricsServiceRequest.FromString(body)
                with receiver._lock:
                    receiver.requests.append(request)
                    receiver.raw_bodies.append(body)
                    receiver.headers.append(dict(self.headers))
                    receiver.changed.notify_all()
                answer = ExportMetricsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        """Go down: stop listening (connections are refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until predicate(self) is true."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout)

    # ------------------------------------------------------------- decoding helpers
    def metrics(self, name: str):
        """(resource attrs, metric) for every metric of that name received."""
        out = []
        with self._lock:
            requests = list(self.requests)
        for request in requests:
            for rm in request.resource_metrics:
                resource = {kv.key: kv.value.string_value for kv in rm.resource.attributes}
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        if m.name == name:
                            out.append((resource, m))
        return out

    def points(self, name: str):
        """Every data point of a metric, whatever its type, with attributes as a dict."""
        out = []
        for resource, m in self.metrics(name):
            kind = m.WhichOneof("data")
            for p in getattr(m, kind).data_points:
                out.append((resource, {kv.key: kv.value.string_value for kv in p.attributes}, p))
        return out

    def count(self, name: str = "inferwatch.inference.duration", **attrs) -> int:
        """Sum of histogram counts of a metric whose point attributes include attrs."""
        return sum(p.count for _, a, p in self.points(name) if all(a.get(k) == v for k, v in attrs.items()))


class GrpcReceiver:
    """A real OTLP/gRPC MetricsService on a free 127.0.0.1 port."""

    def __init__(self) -> None:
        from concurrent import futures

        import grpc
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc

        self.requests: list[ExportMetricsServiceRequest] = []
        self.metadata: list[dict[str, str]] = []
        receiver = self

        class Servicer(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request, context):
                receiver.requests.append(request)
                receiver.metadata.append(dict(context.invocation_metadata()))
                return ExportMetricsServiceResponse()

        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Servicer(), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.stop(0)
