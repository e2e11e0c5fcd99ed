"""The sandbox as one Starlette app: ClickUp's API v2, its OAuth consent page, and the admin API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.clickup import admin, api, authorize
from sandbox.clickup.state import Sandbox


async def _not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/v2/"):
        return JSONResponse({"err": "Route not found", "ECODE": "APP_001"}, status_code=404)
    return JSONResponse({"error": "not found"}, status_code=404)


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse({"err": "Method not allowed", "ECODE": "APP_003"}, status_code=405)


def create_app(sandbox: Sandbox) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await sandbox.hub.aclose()

    app = Starlette(
        routes=[*api.routes(), *authorize.routes(), *admin.routes()],
        lifespan=lifespan,
        exception_handlers={404: _not_found, 405: _method_not_allowed},
    )
    app.state.sandbox = sandbox
    return app
