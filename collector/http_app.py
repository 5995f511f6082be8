"""OTLP/HTTP receiver, read-only query endpoint, health and metrics as one Starlette app."""

from __future__ import annotations

import hmac
import json

import pyarrow as pa
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .ingest_prepare import TooLarge
from .otlp_decode import DecodeFailure
from .sandbox import QueryError, run_query, to_csv, to_json_document
from .service import Collector, Overloaded, WorkerLost

__all__ = ["create_app", "token_ok"]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ARROW = "application/vnd.apache.arrow.stream"
# google.rpc.Code values
INVALID_ARGUMENT, UNAUTHENTICATED, UNAVAILABLE, RESOURCE_EXHAUSTED = 3, 16, 14, 8


def token_ok(expected: str | None, authorization: str | None) -> bool:
    """Whether an Authorization header carries the expected bearer token (always true when none is set)."""
    if not expected:
        return True
    if not authorization or not authorization[:7].lower() == "bearer ":
        return False
    return hmac.compare_digest(authorization[7:].strip().encode(), expected.encode())


def _status(code: int, message: str, http: int, as_json: bool, headers: dict | None = None) -> Response:
    status = status_pb2.Status(code=code, message=message)
    if as_json:
        return Response(json_format.MessageToJson(status), http, headers=headers, media_type=JSON)
    return Response(status.SerializeToString(), http, headers=headers, media_type=PROTOBUF)


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise TooLarge()
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(collector: Collector) -> Starlette:
    """The ASGI application serving one Collector."""
    settings = collector.settings

    async def export(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        as_json = ctype == JSON
        if not token_ok(settings.ingest_token, request.headers.get("authorization")):
            return _status(
                UNAUTHENTICATED,
                "missing or wrong ingest bearer token",
                401,
                as_json,
                {"WWW-Authenticate": "Bearer"},
            )
        if ctype not in (PROTOBUF, JSON):
            collector.requests_invalid += 1
            return _status(
                INVALID_ARGUMENT, f"unsupported Content-Type {ctype!r}: use {PROTOBUF} or {JSON}", 415, False
            )
        encoding = request.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("identity", "gzip", ""):
            collector.requests_invalid += 1
            return _status(
                INVALID_ARGUMENT, f"unsupported Content-Encoding {encoding!r}: use gzip", 415, as_json
            )
        limit = settings.max_request_bytes
        try:
            received = await _read_body(request, limit)
            result = await collector.ingest_async(received, as_json, gzipped=encoding == "gzip")
        except TooLarge:
            collector.requests_invalid += 1
            return _status(
                INVALID_ARGUMENT, f"request larger than {limit} bytes (after decompression)", 413, as_json
            )
        except DecodeFailure as exc:
            collector.requests_invalid += 1
            return _status(INVALID_ARGUMENT, str(exc), 400, as_json)
        except (Overloaded, WorkerLost) as exc:
            return _status(UNAVAILABLE, str(exc), 503, as_json, {"Retry-After": str(exc.retry_after_s)})
        except ClientDisconnect:
            return Response(status_code=400)
        response = ExportMetricsServiceResponse()
        if result.rejected:
            response.partial_success.rejected_data_points = result.rejected
            response.partial_success.error_message = result.error_message
        if as_json:
            return Response(json_format.MessageToJson(response), 200, media_type=JSON)
        return Response(response.SerializeToString(), 200, media_type=PROTOBUF)

    async def query(request: Request) -> Response:
        if not token_ok(settings.query_token, request.headers.get("authorization")):
            return JSONResponse(
                {"error": "missing or wrong query bearer token"}, 401, headers={"WWW-Authenticate": "Bearer"}
            )
        try:
            doc = json.loads(await _read_body(request, 1024 * 1024) or b"{}")
        except (TooLarge, ValueError):
            return JSONResponse(
                {"error": 'send a JSON body {"sql": "...", "params": {...}} under 1 MiB'}, 400
            )
        if not isinstance(doc, dict):
            return JSONResponse({"error": 'send a JSON object {"sql": "...", "params": {...}}'}, 400)
        params = doc.get("params")
        if params is not None and not isinstance(params, dict | list):
            return JSONResponse({"error": '"params" must be an object (named $params) or a list'}, 400)
        try:
            result = await run_in_threadpool(
                run_query,
                collector.store.cursor,
                doc.get("sql"),
                params,
                max_rows=settings.query_max_rows,
                timeout_s=settings.query_timeout_s,
            )
        except QueryError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        accept = request.headers.get("accept", "")
        if "text/csv" in accept:
            return PlainTextResponse(
                to_csv(result), media_type="text/csv", headers={"X-Truncated": str(result.truncated).lower()}
            )
        if ARROW in accept:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, result.table.schema) as w:
                w.write_table(result.table)
            return Response(
                sink.getvalue().to_pybytes(),
                media_type=ARROW,
                headers={"X-Truncated": str(result.truncated).lower()},
            )
        return JSONResponse(to_json_document(result))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", **collector.stats()})

    async def metrics(request: Request) -> Response:
        lines = []
        for key, value in collector.stats().items():
            if isinstance(value, int | float) and value == value:
                name = f"inferwatch_collector_{key}"
                lines.append(f"# TYPE {name} gauge\n{name} {value}")
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    async def not_allowed(request: Request) -> Response:
        return JSONResponse({"error": "use POST"}, 405, headers={"Allow": "POST"})

    routes = [
        Route("/v1/metrics", export, methods=["POST"]),
        Route("/v1/query", query, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    return Starlette(routes=routes)
