"""The webhook gateway app: ``POST /webhooks/{integration}`` (and ``/webhooks/{integration}/{key}``
for schemes keyed by the route). It knows HTTP signing *schemes* (``schemes/``), not integrations:
configuration says which scheme an integration's deliveries use. Order of work per delivery:

the integration's scheme (404 without one) -> cap the body -> read raw bytes (the HTTP layer's read
deadline covers this) -> the signature header present and well-formed -> the lookup key (from the
body, after a bounded-depth parse, or from the path) -> secret (cached, negative-cached) -> the
scheme's verification (an HMAC over the exact bytes, or a bearer token: with the current secret, then
each old one still in a regeneration's grace period, then once more after asking the server) -> the
scheme's remaining body rules -> durable in the local spool (group commit) -> 2xx. Every refusal is
a 4xx with a JSON body and nothing is stored or forwarded; only the gateway's own trouble (no secret
lookup possible, spool unwritable) is a 503, which senders retry. A background drainer hands spooled
deliveries to the server (``drainer.py``).

Why spool first rather than call the server first: the sender's answer then depends only on this
process and its disk (about a millisecond), never on the server or Neo4j being slow or away, and
every delivery takes the same path, so order and "nothing lost" hold by construction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgi_correlation_id import CorrelationIdMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from webhook_gateway.config import GatewayConfig
from webhook_gateway.drainer import Drainer
from webhook_gateway.envelope import Rejected, SignatureMismatch
from webhook_gateway.http_limits import READ_TIMED_OUT, REFUSAL_HOOK
from webhook_gateway.last_resort import LastResortMiddleware
from webhook_gateway.metrics import GatewayMetrics
from webhook_gateway.scheme_table import SchemeTable
from webhook_gateway.schemes import SCHEMES, Scheme, Signed
from webhook_gateway.secret_lookup import SecretLookup
from webhook_gateway.server_link import ServerLink
from webhook_gateway.spool import Delivery, Spool, SpoolWriter

logger = logging.getLogger(__name__)
KEPT_HEADERS = ("content-type", "user-agent")
# Set by the gateway on deliveries whose key came from the path: the body does not say which
# registration it belongs to, so the server is told which key verified it.
ROUTE_KEY_HEADER = "x-gateway-route-key"
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")


class _Disconnected(Exception):
    """The sender went away (or was cut off by the read deadline) before its body arrived."""


class Gateway:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.metrics = GatewayMetrics()
        self.spool = Spool(config.spool_path)
        self.writer = SpoolWriter(self.spool)
        self.link: ServerLink | None = None
        self.secrets: SecretLookup | None = None
        self.schemes = SchemeTable(None, config.schemes, config.disabled)
        self.drainer: Drainer | None = None
        self._wake = asyncio.Event()
        self._draining: asyncio.Task[None] | None = None

    @property
    def server_reachable(self) -> bool:
        return self.drainer is not None and self.drainer.server_reachable

    async def start(self) -> None:
        self.link = ServerLink(self.config.server_target, self.config.server_token, self.config.forward_timeout_seconds)
        self.secrets = SecretLookup(self.link, self.metrics)
        self.schemes = SchemeTable(self.link, self.config.schemes, self.config.disabled)
        self.drainer = Drainer(self.spool, self.link, self.metrics, self._wake)
        self._draining = asyncio.get_running_loop().create_task(self.drainer.run())
        self.metrics.spool_depth.set(self.spool.depth())
        self.metrics.dead_depth.set(self.spool.dead_count())

    async def stop(self) -> None:
        if self._draining is not None:
            self._draining.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._draining
        if self.link is not None:
            await self.link.close()
        self.spool.close()

    def count_refusal(self, reason: str) -> None:
        """Refusals made below the app (by the HTTP limits) land in the same counter."""
        self.metrics.rejected.labels(reason).inc()

    async def _read(self, request: Request) -> bytes:
        cap = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and _CONTENT_LENGTH.fullmatch(declared) and int(declared) > cap:
            raise Rejected(413, "too_large", f"body is larger than {cap} bytes")
        body = bytearray()
        try:
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > cap:
                    raise Rejected(413, "too_large", f"body is larger than {cap} bytes")
        except ClientDisconnect:
            raise _Disconnected(len(body)) from None
        return bytes(body)

    async def _scheme(self, integration: str, route: str | None) -> Scheme:
        name = await self.schemes.scheme_for(integration)
        if name is None:
            raise Rejected(404, "unknown_integration", f"no webhooks are received for {integration!r}")
        scheme = SCHEMES[name]
        if scheme.keyed_by_route != (route is not None):
            shape = "/{key}" if scheme.keyed_by_route else ""
            raise Rejected(404, "not_found", f"{integration} webhooks are posted to /webhooks/{integration}{shape}")
        return scheme

    async def receive(self, request: Request, integration: str, route: str | None = None) -> Response:
        self.metrics.received.inc()
        try:
            scheme = await self._scheme(integration, route)
            media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != "application/json":
                raise Rejected(415, "content_type", "Content-Type must be application/json")
            body = await self._read(request)
            signed = scheme.signature(request.headers)
            routed = scheme.route(body, route, self.config.max_body_bytes)
            assert self.secrets is not None
            # A static secret replaces the per-webhook one for verification only: the webhook must
            # still be registered, so nothing is kept that no project would ever see.
            known = await self.secrets.secret(integration, routed.key)
            static = self.config.static_secrets.get(integration)
            try:
                _verify_any(scheme, (static,) if static else known.candidates(), body, signed)
            except SignatureMismatch:
                newer = None if static else await self.secrets.newer_than(integration, routed.key, known)
                if newer is None:
                    raise
                _verify_any(scheme, newer.candidates(), body, signed)
            scheme.check(body, routed, self.config.max_body_bytes)
        except Rejected as rejected:
            self.metrics.rejected.labels(rejected.reason).inc()
            logger.info("refused a delivery: %s %s (%s)", rejected.status, rejected.reason, rejected.message)
            # No "Connection: close" on a 413: the sender would see a reset instead of the answer while
            # it still writes. uvicorn discards the rest of the body, within the read deadline.
            return JSONResponse({"error": rejected.message, "reason": rejected.reason}, status_code=rejected.status)
        except _Disconnected as gone:
            if not request.scope.get(READ_TIMED_OUT):  # the HTTP layer has logged and counted that one
                self.metrics.rejected.labels("client_disconnected").inc()
                logger.info("the sender disconnected before its body arrived (%s bytes read)", gone.args[0])
            return Response(status_code=499)  # never sent: there is no one to send it to
        kept = KEPT_HEADERS + scheme.signature_headers
        headers = {k: request.headers[k] for k in kept if k in request.headers}
        if scheme.keyed_by_route:
            headers[ROUTE_KEY_HEADER] = routed.key
        return await self._keep(integration, body, headers)

    async def _keep(self, integration: str, body: bytes, headers: dict[str, str]) -> Response:
        self.metrics.verified.inc()
        started = time.perf_counter()
        try:
            spool_id = await self.writer.add(Delivery(integration, body, headers, int(time.time() * 1000)))
        except Exception:
            # Not durable, so not acknowledged: the sender retries the delivery.
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


def _verify_any(scheme: Scheme, secrets: tuple[str, ...], body: bytes, signed: Signed) -> None:
    """Good if any of ``secrets`` made the signature (the current one, then those still accepted
    during a regeneration's grace period); else the last mismatch."""
    for secret in secrets[:-1]:
        try:
            scheme.verify(secret, body, signed)
            return
        except SignatureMismatch:
            continue
    scheme.verify(secrets[-1], body, signed)


def create_app(config: GatewayConfig) -> Starlette:
    gateway = Gateway(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        await gateway.start()
        yield {REFUSAL_HOOK: gateway.count_refusal}
        await gateway.stop()

    async def webhook(request: Request) -> Response:
        params = request.path_params
        return await gateway.receive(request, params["integration"], params.get("route"))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        writable = gateway.spool.writable()
        body = {
            "spool_writable": writable,
            "server_reachable": gateway.server_reachable,
            "spool_depth": gateway.spool.depth(),
            "dead_letters": gateway.spool.dead_count(),
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
            Route("/webhooks/{integration}", webhook, methods=["POST"]),
            Route("/webhooks/{integration}/{route}", webhook, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan,
        exception_handlers={405: not_allowed, 404: not_found},
        middleware=[Middleware(CorrelationIdMiddleware), Middleware(LastResortMiddleware)],
    )
    app.state.gateway = gateway
    return app
