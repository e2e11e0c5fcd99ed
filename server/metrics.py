"""Prometheus metrics of the server, and the ids that tie log lines to a request or a job.

``METRICS_ADDRESS`` (``host:port``) serves ``/metrics``. Every RPC is counted by method and
status code and timed; import progress and rate-limit waits are counted as jobs checkpoint;
the webhook inbox depth by state is refreshed by the worker.
"""

from __future__ import annotations

import contextvars
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
job_id: contextvars.ContextVar[str] = contextvars.ContextVar("job_id", default="")


class ContextIds(logging.Filter):
    """Adds the current request and job ids to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.job_id = job_id.get()
        return True


class ServerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rpcs = Counter(
            "integrations_rpc_total", "RPCs by method and status code", ["method", "code"], registry=self.registry
        )
        self.latency = Histogram(
            "integrations_rpc_seconds", "RPC latency by method", ["method"], registry=self.registry
        )
        self.import_pages = Counter("integrations_import_pages_total", "Import pages committed", registry=self.registry)
        self.rate_limit_waits = Gauge(
            "integrations_import_rate_limit_waits",
            "Rate-limit waits of the running imports (last checkpoint)",
            ["job"],
            registry=self.registry,
        )
        self.inbox = Gauge("integrations_webhook_inbox", "Webhook events by state", ["state"], registry=self.registry)

    def serve(self, address: str) -> Callable[[], None]:
        """Serve /metrics on ``host:port``; returns how to stop it."""
        host, _, port = address.rpartition(":")
        server, thread = start_http_server(int(port), addr=host or "127.0.0.1", registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(5)

        return stop


def _code(context: Any) -> str:
    code = context.code() if hasattr(context, "code") else None
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"


if TYPE_CHECKING:  # generic in the stubs only
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _Interceptor = grpc.aio.ServerInterceptor


class MetricsInterceptor(_Interceptor):
    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]], details: Any) -> Any:
        handler = await continuation(details)
        if handler is None:
            return None
        method = str(details.method).rsplit("/", 1)[-1]
        metrics = self._metrics
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: Any) -> Any:
                request_id.set(uuid.uuid4().hex[:16])
                started, code = time.perf_counter(), "OK"
                try:
                    return await inner(request, context)
                except BaseException:
                    code = _code(context)
                    raise
                finally:
                    metrics.rpcs.labels(method, code).inc()
                    metrics.latency.labels(method).observe(time.perf_counter() - started)

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            stream_inner = handler.unary_stream

            async def stream(request: Any, context: Any) -> AsyncIterator[Any]:
                request_id.set(uuid.uuid4().hex[:16])
                started, code = time.perf_counter(), "OK"
                try:
                    async for item in stream_inner(request, context):
                        yield item
                except BaseException:
                    code = _code(context)
                    raise
                finally:
                    metrics.rpcs.labels(method, code).inc()
                    metrics.latency.labels(method).observe(time.perf_counter() - started)

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler
