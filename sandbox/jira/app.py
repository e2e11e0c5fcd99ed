"""The sandbox as one Starlette app: platform v3, Agile 1.0, and the admin API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.jira import admin, agile, authorize, gateway, mutations, oauth, platform, search, webhooks
from sandbox.jira.state import Sandbox


async def _not_found(request: Request, exc: Exception) -> Response:
    """Unknown API paths are problem+json naming the method and path (§8)."""
    if request.url.path.startswith("/rest/"):
        body = {
            "type": "about:blank",
            "title": "Not Found",
            "status": 404,
            "detail": f"No endpoint {request.method} {request.url.path}.",
            "instance": request.url.path,
        }
        return JSONResponse(body, status_code=404, media_type="application/problem+json")
    return JSONResponse({"error": "not found"}, status_code=404)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    body = {
        "type": "about:blank",
        "title": "Method Not Allowed",
        "status": 405,
        "detail": f"Method '{request.method}' is not supported.",
        "instance": request.url.path,
    }
    return JSONResponse(body, status_code=405, media_type="application/problem+json")


def create_app(sandbox: Sandbox) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await sandbox.hub.aclose()

    app = Starlette(
        lifespan=lifespan,
        routes=[
            *search.routes(),
            *platform.routes(),
            *agile.routes(),
            *admin.routes(),
            *mutations.routes(),
            *webhooks.routes(),
            *oauth.routes(),
            *authorize.routes(),
            *gateway.routes(),
        ],
        exception_handlers={404: _not_found, 405: _method_not_allowed},
        middleware=[Middleware(gateway.GatewayMiddleware)],  # api.atlassian.com/ex/jira/{cloudId} (gateway.py)
    )
    app.state.sandbox = sandbox
    return app
