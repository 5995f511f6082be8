"""Run a Collector behind uvicorn (HTTP) and grpcio, in the foreground or in a background thread."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time

import uvicorn

from .grpc_server import start_grpc_server
from .http_app import create_app
from .service import Collector, CollectorSettings

__all__ = ["CollectorServer"]

log = logging.getLogger("inferwatch.collector")

try:
    import httptools  # noqa: F401

    _HTTPTOOLS = True
except ImportError:  # an install without it still serves, on h11
    _HTTPTOOLS = False


class CollectorServer:
    """A collector with its HTTP and gRPC servers; `serve()` blocks, `start()` runs in a thread."""

    def __init__(self, settings: CollectorSettings) -> None:
        self.settings = settings
        self.collector: Collector | None = None
        self.grpc_server = None
        self.grpc_port: int | None = None
        self._uvicorn: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def _open(self) -> None:
        self.collector = Collector(self.settings).start()
        if self.settings.grpc_port is not None:
            self.grpc_server, self.grpc_port = start_grpc_server(
                self.collector, self.settings.host, self.settings.grpc_port
            )
        config = uvicorn.Config(
            create_app(self.collector),
            host=self.settings.host,
            port=self.settings.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=10,
            # httptools parses requests in C (less Python per request than h11).
            http="httptools" if _HTTPTOOLS else "h11",
        )
        self._uvicorn = uvicorn.Server(config)

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.grpc_server is not None:
            self.grpc_server.stop(grace=5).wait()
        if self.collector is not None:
            self.collector.stop()

    def serve(self) -> None:
        """Serve until SIGTERM/SIGINT, then commit everything acknowledged and close the database."""
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not stop.wait(0.5):
                if not self._thread.is_alive():
                    raise RuntimeError("the collector's HTTP server stopped unexpectedly")
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def start(self, timeout_s: float = 30.0) -> CollectorServer:
        """Serve from a background thread (tests, the demo); returns once the port accepts connections."""
        self._open()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._uvicorn.serve()), name="inferwatch-http", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._uvicorn.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the collector's HTTP server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving, commit and close."""
        if self._uvicorn is not None:
            self._uvicorn.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._close()

    @property
    def port(self) -> int:
        """The bound HTTP port."""
        servers = getattr(self._uvicorn, "servers", None) or []
        for s in servers:
            for sock in s.sockets:
                return sock.getsockname()[1]
        return self.settings.port
