"""The layers every request passes before a handler, outermost first:

    SecurityHeaders   CSP, nosniff, referrer policy on every answer (outside Starlette's own error layer)
    HostAllowList     Host must be one of ours, else 400: a DNS-rebinding page carries its own name
    OwnPageWrites     writes only from our page: an allowed Origin (or Sec-Fetch-Site: same-origin)
                      and a JSON body, else 403 / 415
    BodyLimit         a write's body read whole before the handler, at most MAX_BODY_BYTES within
                      BODY_READ_SECONDS, else 413 / 408 without reading further

Each refusal is the gallery's JSON error and comes before any handler runs, so it changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clients.gallery.responses import error

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 16 * 1024
# The page sends a few hundred bytes at once; a body still arriving after this is not from it.
BODY_READ_SECONDS = 10.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_HEADERS = (
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        b"frame-ancestors 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """Adds the security headers to every response start that passes through, whoever made it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {bytes(name).lower() for name, _ in headers}
                message["headers"] = headers + [item for item in SECURITY_HEADERS if item[0] not in present]
            await send(message)

        await self.app(scope, receive, with_headers)


async def _host_allowed(scope: Scope, receive: Receive, send: Send) -> None:
    """TrustedHostMiddleware's inner app: reaching it is the verdict "allowed"; nothing is sent."""


class HostAllowList:
    """Starlette's TrustedHostMiddleware decides; the refusal is ours (JSON, not plain text)."""

    def __init__(self, app: ASGIApp, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self._check = TrustedHostMiddleware(_host_allowed, allowed_hosts=list(allowed_hosts), www_redirect=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = False

        async def swallow(message: Message) -> None:
            nonlocal refused
            refused = True

        await self._check(scope, receive, swallow)
        if refused:
            host = Headers(scope=scope).get("host", "")
            logger.info("refused a request for host %r", host[:100])
            await error(400, "invalid_host", "this gallery does not answer for that host name")(scope, receive, send)
            return
        await self.app(scope, receive, send)


class OwnPageWrites:
    """State-changing calls only from our own page. A browser sends ``Origin`` on every fetch that
    is not GET/HEAD; it must be the public origin or this request's own origin (its Host already
    passed HostAllowList, so it is one of ours, never a rebinding attacker's). Without ``Origin``
    only ``Sec-Fetch-Site: same-origin`` vouches for the caller. The JSON content type is a second
    bar: a cross-site form cannot send it without a preflight we never grant."""

    def __init__(self, app: ASGIApp, public_origin: str | None) -> None:
        self.app = app
        self.public_origin = public_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            refusal = self._refusal(scope, Headers(scope=scope))
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, headers: Headers) -> Response | None:
        origin = headers.get("origin")
        if origin is not None:
            own = f"{scope['scheme']}://{headers.get('host', '').lower()}"
            if origin not in (own, self.public_origin):
                return error(403, "cross_origin", "requests from other sites are not accepted")
        elif headers.get("sec-fetch-site") != "same-origin":
            return error(403, "origin_required", "changes are accepted only from the gallery page (no Origin sent)")
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return error(415, "unsupported_media_type", "send the body as application/json")
        return None


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


class BodyLimit:
    """Reads a write's body before the handler, never more than ``max_bytes`` and never for longer
    than ``seconds``, then replays it: a handler cannot be made to hold a large body, nor a slow
    client to hold a handler. A declared Content-Length above the cap is refused unread."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, seconds: float = BODY_READ_SECONDS) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and not (declared.isascii() and declared.isdigit()):
            await error(400, "invalid_argument", "Content-Length is not a number", close=True)(scope, receive, send)
            return
        if declared is not None and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        if scope["method"] in SAFE_METHODS:  # their bodies are never read
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.seconds):
                body = await self._read(receive)
        except _TooLarge:
            await self._too_large(scope, receive, send)
            return
        except TimeoutError:
            message = f"the request body did not arrive within {self.seconds:g} s"
            await error(408, "request_timeout", message, close=True)(scope, receive, send)
            return
        except _Gone:
            logger.info("the client went away before sending the whole request body")
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body is larger than {self.max_bytes} bytes"
        await error(413, "payload_too_large", message, close=True)(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body in one message, then the real channel (a handler may still wait for a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
