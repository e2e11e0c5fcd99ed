"""The webhook gateway app. Order of work per delivery:

cap the body -> read raw bytes -> headers -> envelope -> secret -> HMAC over the exact bytes ->
durable in the local spool (group commit) -> 2xx. Every refusal is a 4xx with a JSON body and
nothing is stored or forwarded. A background drainer hands spooled deliveries to the server in
order, in batches, and removes each only once the server has stored it (or refused it for good).

Why spool first rather than call the server first: ClickUp's answer then depends only on this
process and its disk (about a millisecond), never on the server or Neo4j being slow or away, and
every delivery takes the same path, so order and "nothing lost" hold by construction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import grpc
from asgi_correlation_id import CorrelationIdMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from webhook_gateway.config import GatewayConfig
from webhook_gateway.metrics import GatewayMetrics
from webhook_gateway.server_link import FINAL, ServerLink
from webhook_gateway.signature import Rejected, envelope, verify
from webhook_gateway.spool import Delivery, Spool, Spooled, SpoolWriter

logger = logging.getLogger(__name__)
KEPT_HEADERS = ("content-type", "user-agent", "x-signature")
FORWARD_BATCH = 256
FORWARD_BATCH_BYTES = 3 * 1024 * 1024  # under gRPC's 4 MiB message limit
MAX_BACKOFF_SECONDS = 5.0


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.metrics = GatewayMetrics()
        self.spool = Spool(config.spool_path)
        self.writer = SpoolWriter(self.spool)
        self.link: ServerLink | None = None
        self._wake = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self.server_reachable = False

    async def start(self) -> None:
        self.link = ServerLink(self.config.server_target, self.config.server_token, self.config.forward_timeout_seconds)
        self._drainer = asyncio.get_running_loop().create_task(self._drain())
        self.metrics.spool_depth.set(self.spool.depth())

    async def stop(self) -> None:
        if self._drainer is not None:
            self._drainer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._drainer
        if self.link is not None:
            await self.link.close()
        self.spool.close()

    async def _read(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.config.max_body_bytes:
            raise Rejected(413, "too_large", f"body is larger than {self.config.max_body_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > self.config.max_body_bytes:
                raise Rejected(413, "too_large", f"body is larger than {self.config.max_body_bytes} bytes")
        return bytes(body)

    async def receive(self, request: Request, integration: str = "clickup") -> Response:
        self.metrics.received.inc()
        try:
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != "application/json":
                raise Rejected(415, "content_type", "Content-Type must be application/json")
            body = await self._read(request)
            provided = request.headers.get("x-signature", "").strip()
            if not provided:
                raise Rejected(401, "missing_signature", "X-Signature header is required")
            found = envelope(body)
            secret = self.config.static_secret or await self._secret(integration, found.webhook_id)
            verify(secret, body, provided)
        except Rejected as rejected:
            self.metrics.rejected.labels(rejected.reason).inc()
            logger.info("refused a delivery: %s %s (%s)", rejected.status, rejected.reason, rejected.message)
            return JSONResponse({"error": rejected.message, "reason": rejected.reason}, status_code=rejected.status)
        self.metrics.verified.inc()
        headers = {k: request.headers[k] for k in KEPT_HEADERS if k in request.headers}
        started = time.perf_counter()
        try:
            spool_id = await self.writer.add(Delivery(integration, body, headers, int(time.time() * 1000)))
        except Exception:
            # Not durable, so not acknowledged: ClickUp retries the delivery.
            logger.exception("the spool could not store a delivery")
            self.metrics.rejected.labels("spool_unwritable").inc()
            return JSONResponse(
                {"error": "cannot store the delivery right now", "reason": "spool_unwritable"}, status_code=503
            )
        self.metrics.durable_latency.observe(time.perf_counter() - started)
        self.metrics.spooled.inc()
        self.metrics.spool_depth.set(self.spool.depth())
        self._wake.set()
        return JSONResponse({"status": "accepted", "spool_id": spool_id})

    async def _secret(self, integration: str, webhook_id: str) -> str:
        assert self.link is not None
        try:
            secret = await self.link.secret(integration, webhook_id)
        except grpc.aio.AioRpcError:
            # Without the secret nothing can be verified, so nothing is kept: ClickUp will retry.
            raise Rejected(503, "secret_unavailable", "cannot look up the webhook's secret right now") from None
        if secret is None:
            raise Rejected(401, "unknown_webhook", "unknown webhook_id")
        return secret

    async def _drain(self) -> None:
        """Forward spooled deliveries oldest first, in batches, backing off while the server is away."""
        delay = 0.2
        while True:
            self._wake.clear()  # before the read: a delivery spooled meanwhile must not wait for the timeout
            batch = await asyncio.to_thread(self.spool.oldest, FORWARD_BATCH, FORWARD_BATCH_BYTES)
            if not batch:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):
                        await self._wake.wait()
                continue
            if await self._forward(batch):
                delay = 0.2
            else:
                self.server_reachable = False
                self.metrics.forward_retries.inc()
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    async def _forward(self, batch: list[Spooled]) -> bool:
        """True when the whole batch is settled; otherwise what was settled is removed, the rest waits."""
        assert self.link is not None
        started = time.perf_counter()
        try:
            results = await self.link.deliver_many([item.delivery for item in batch])
        except grpc.aio.AioRpcError as error:
            # Retried whatever the code: a refused token or a bad batch is an operator's problem to fix,
            # and dropping events would turn it into data loss.
            logger.warning("the server did not take %d spooled deliveries: %s", len(batch), error.code().name)
            return False
        self.metrics.forward_latency.observe(time.perf_counter() - started)
        self.server_reachable = True
        settled: list[int] = []
        for item, result in zip(batch, results, strict=True):
            if result.code == 0:
                self.metrics.forwarded.labels("duplicate" if result.duplicate else "stored").inc()
            elif result.code in FINAL:
                logger.error("the server refused spooled delivery %s for good: %s", item.id, result.message)
                self.metrics.forwarded.labels("refused").inc()
            else:
                break  # keep the order: this one and those after it are tried again
            settled.append(item.id)
        await asyncio.to_thread(self.spool.remove_many, settled)
        self.metrics.spool_depth.set(self.spool.depth())
        return len(settled) == len(batch)


def create_app(config: GatewayConfig) -> Starlette:
    gateway = Gateway(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        yield
        await gateway.stop()

    async def clickup(request: Request) -> Response:
        return await gateway.receive(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        writable = gateway.spool.writable()
        body = {
            "spool_writable": writable,
            "server_reachable": gateway.server_reachable,
            "spool_depth": gateway.spool.depth(),
        }
        return JSONResponse(body, status_code=200 if writable else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "method not allowed", "reason": "method"}, status_code=405)

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"error": "not found", "reason": "not_found"}, status_code=404)

    app = Starlette(
        routes=[
            Route("/webhooks/clickup", clickup, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan,
        exception_handlers={405: not_allowed, 404: not_found},
        middleware=[Middleware(CorrelationIdMiddleware)],
    )
    app.state.gateway = gateway
    return app
