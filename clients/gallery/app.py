"""The gallery app: one HTML page, its static files, and a small JSON + server-sent-events API that
the page calls. Every API call becomes one gRPC call made with the gallery's service token.

    GET   /orgs/{org}/projects/{project}                                  the page
    GET   /api/orgs/{org}/projects/{project}/integrations                 cards
    GET   /api/orgs/{org}/projects/{project}/integrations/{name}          one card
    PUT   /api/orgs/{org}/projects/{project}/integrations/{name}/enabled  {"enabled": bool}
    PATCH /api/orgs/{org}/projects/{project}/integrations/{name}/settings the configuration dialog
    POST  /api/orgs/{org}/projects/{project}/integrations/{name}/test     Test Connection
    POST  /api/orgs/{org}/projects/{project}/integrations/{name}/imports  Start Import
    GET   /api/orgs/{org}/projects/{project}/imports/{job_id}/events      progress (text/event-stream)
    GET   /api/orgs/{org}/projects/{project}/imports/{job_id}             a job as it is now (detail.py)
    GET   /api/orgs/{org}/projects/{project}/integrations/{name}/fields   custom fields and their mapping
    PUT   /api/orgs/{org}/projects/{project}/integrations/{name}/fields   {"mappings": [...]}: re-map (detail.py)
    POST  /api/orgs/{org}/projects/{project}/integrations/{name}/authorizations  Connect with … (sign-in)
    GET   /oauth/callback                                                 where the sign-in comes back
    GET   /api/orgs/{org}/projects/{project}/signin-result                its outcome, once (signin.py)
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import grpc
from asgi_correlation_id import CorrelationIdMiddleware
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from clients.client import AsyncIntegrationsClient
from clients.errors import IntegrationsError
from clients.gallery import detail
from clients.gallery.bodies import json_body
from clients.gallery.config import GalleryConfig
from clients.gallery.guards import BodyLimit, HostAllowList, OwnPageWrites, SecurityHeaders
from clients.gallery.responses import error
from clients.gallery.signin import (
    CALLBACK_PATH,
    RESULT_COOKIE,
    PendingSignIn,
    Redirect,
    SignInResult,
    own_origin,
    state_hash,
)
from clients.gallery.views import (
    FormError,
    Update,
    connection_result,
    deletion_view,
    disable_choice,
    enabled_update,
    form_schema,
    import_job,
    import_mode,
    integration_card,
    settings_update,
)

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
# gRPC status -> HTTP status for the browser. The gallery's own token being refused is our fault, not
# the user's: 502. An unreachable server is 503 so the page can say "try again".
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}
# The server names fields by their protobuf path; the page knows its form's names.
FORM_FIELDS = {
    "settings.api_token": "api_token",
    "settings.auth_method": "api_token",
    "settings.sync_settings.auto_sync": "auto_sync",
    "settings.sync_settings.sync_interval": "sync_interval_minutes",
}
OPTIONS_PATH = "settings.options."


def form_field(path: str) -> str:
    """The form's name for a field the server named: ``settings.options.project_keys[2]`` is the
    dialog's ``options.project_keys[2]``, as the body spells it."""
    if path.startswith(OPTIONS_PATH):
        return "options." + path.removeprefix(OPTIONS_PATH)
    return FORM_FIELDS.get(path, path)


Handler = Callable[[Request, "Gallery", str, str], Awaitable[Response]]


class Gallery:
    def __init__(self, config: GalleryConfig) -> None:
        self.config = config
        self._client: AsyncIntegrationsClient | None = None

    @property
    def secure_cookies(self) -> bool:
        """Cookies marked Secure only where the page is served over https (loopback http would drop them)."""
        return (self.config.public_origin or "").startswith("https://")

    @property
    def client(self) -> AsyncIntegrationsClient:
        if self._client is None:
            raise RuntimeError("the gallery has not started")
        return self._client

    async def start(self) -> None:
        # Made here, not in __init__: a grpc.aio channel belongs to the loop that serves the app.
        self._client = AsyncIntegrationsClient(self.config.server_target, self.config.token, retries=2)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()


def scoped(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Checks the project is one this gallery serves and turns client errors into JSON answers."""

    async def endpoint(request: Request) -> Response:
        gallery: Gallery = request.app.state.gallery
        org, project = request.path_params["org"], request.path_params["project"]
        if (org, project) not in gallery.config.projects:
            return error(404, "not_found", f"this gallery does not serve project {org}/{project}")
        try:
            return await handler(request, gallery, org, project)
        except FormError as exc:
            return error(400, "invalid_argument", exc.message, {exc.field: exc.message})
        except IntegrationsError as exc:
            status = HTTP_STATUS.get(exc.code, 502)
            if exc.code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                logger.error("the IntegrationService refused the gallery's token: %s", exc.message)
                return error(502, "bad_gateway", "the gallery is not allowed to do this; ask an operator")
            if status >= 500:
                logger.warning("IntegrationService call failed: %s", exc)
            fields = {form_field(path): text for path, text in exc.field_violations.items()}
            return error(status, exc.code.name.lower(), exc.message, fields)

    return endpoint


# ---------------------------------------------------------------- endpoints


async def list_cards(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    items = await gallery.client.list_integrations(org, project)
    return JSONResponse({"integrations": [integration_card(item) for item in items]})


async def get_card(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    item = await gallery.client.get_integration(org, project, request.path_params["name"])
    return JSONResponse(integration_card(item))


async def _update(request: Request, gallery: Gallery, org: str, project: str, update: Update) -> Response:
    name = request.path_params["name"]
    item = await gallery.client.update_integration(org, project, name, update.integration, update.paths)
    logger.info("gallery updated %s for %s/%s: %s", name, org, project, ",".join(update.paths))
    return JSONResponse(integration_card(item))


async def set_enabled(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    return await _update(request, gallery, org, project, enabled_update(await json_body(request)))


async def disable(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    choice = disable_choice(await json_body(request))
    name = request.path_params["name"]
    done = await gallery.client.disable_integration(
        org, project, name, delete_data=choice.delete_data, confirm_name=choice.confirm_name
    )
    deletion = deletion_view(done.deletion) if done.HasField("deletion") else None
    logger.info("gallery disabled %s for %s/%s (%s)", name, org, project, "delete" if deletion else "keep")
    return JSONResponse({"integration": integration_card(done.integration), "deletion": deletion})


async def get_deletion(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    deletion = await gallery.client.get_data_deletion(org, project, request.path_params["deletion_id"])
    return JSONResponse(deletion_view(deletion))


async def save_settings(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    """Options are checked against the integration's own schema, read from the server first, so an
    unknown option or a wrong type is a 400 naming it before anything is changed."""
    body = await json_body(request)
    schema: dict[str, Any] = {}
    if isinstance(body, dict) and "options" in body:
        item = await gallery.client.get_integration(org, project, request.path_params["name"])
        schema = form_schema(item)["properties"]
    return await _update(request, gallery, org, project, settings_update(body, schema))


async def test_connection(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    result = await gallery.client.test_connection(org, project, request.path_params["name"])
    return JSONResponse(connection_result(result))


async def start_import(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    mode = import_mode(await json_body(request) if await request.body() else {})  # no body: a full import
    job = await gallery.client.start_import(org, project, request.path_params["name"], mode=mode)
    logger.info("gallery started import %s of %s for %s/%s", job.id, job.integration, org, project)
    return JSONResponse(import_job(job), status_code=202)


async def latest_import(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    listed = await gallery.client.list_import_jobs(org, project, name=request.path_params["name"], page_size=1)
    return JSONResponse({"job": import_job(listed.jobs[0]) if listed.jobs else None})


async def import_events(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    job_id = request.path_params["job_id"]
    job = await gallery.client.get_import_job(org, project, job_id)  # 404 before the stream starts

    async def events() -> AsyncIterator[ServerSentEvent]:
        last: dict[str, Any] = import_job(job)
        yield ServerSentEvent(json.dumps(last), event="progress", retry=2000)
        try:
            if not last["done"]:
                async for update in gallery.client.watch_import_job(org, project, job_id):
                    last = import_job(update)
                    yield ServerSentEvent(json.dumps(last), event="progress")
        except IntegrationsError as exc:
            # The browser's EventSource reconnects by itself and picks the job up again.
            logger.warning("watching import %s stopped: %s", job_id, exc)
            yield ServerSentEvent(json.dumps({"message": exc.message}), event="interrupted")
            return
        yield ServerSentEvent(json.dumps(last), event="end")

    return EventSourceResponse(events(), ping=15, headers={"cache-control": "no-store"})


# ---------------------------------------------------------------- sign-in (OAuth; signin.py)


async def start_signin(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    if await json_body(request) != {}:
        raise FormError("body", "expected {}")
    name = request.path_params["name"]
    redirect_uri = own_origin(gallery.config.public_origin, request) + CALLBACK_PATH
    started = await gallery.client.start_authorization(org, project, name, redirect_uri)
    response = JSONResponse(
        {"authorization_url": started.authorization_url, "expire_time": started.expire_time.ToJsonString()},
        headers={"cache-control": "no-store"},
    )
    pending = PendingSignIn(org, project, name, state_hash(started.state))
    pending.remember(response, started.expire_time.ToDatetime(tzinfo=UTC), secure=gallery.secure_cookies)
    logger.info("gallery started a sign-in to %s for %s/%s", name, org, project)
    return response


async def signin_callback(request: Request) -> Response:
    """Completes a sign-in this browser started, then sends it back to the page; refusals come first
    and make no RPC. Never answers with the code or the state, never logs them."""
    gallery: Gallery = request.app.state.gallery
    pending = PendingSignIn.read(request)
    redirect = Redirect.parse(request)
    if isinstance(redirect, str):
        logger.info("refused a sign-in callback: %s", redirect)
        return error(400, "invalid_argument", f"{redirect}; start the sign-in again from the gallery")
    if pending is None or not pending.matches(redirect.state):
        logger.warning("refused a sign-in callback with a state this browser did not start")
        return error(
            400,
            "unknown_state",
            "this sign-in was not started in this browser, or it has expired: start it again from the gallery",
        )
    if (pending.org, pending.project) not in gallery.config.projects:
        return error(404, "not_found", "this gallery does not serve that project")
    try:
        done = await gallery.client.complete_authorization(redirect.complete_request(pending))
        result = SignInResult.connected(pending.name, done)
    except IntegrationsError as exc:
        result = SignInResult.from_error(pending.name, exc)
        if exc.code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            logger.error("the IntegrationService refused the gallery's token: %s", exc.message)
            result = SignInResult(pending.name, "failed", "the gallery is not allowed to do this; ask an operator")
        else:
            logger.warning("sign-in to %s for %s/%s not completed: %s", pending.name, pending.org, pending.project, exc)
    logger.info("sign-in to %s for %s/%s: %s", pending.name, pending.org, pending.project, result.outcome)
    response = RedirectResponse(f"/orgs/{pending.org}/projects/{pending.project}", status_code=303)
    PendingSignIn.forget(response, secure=gallery.secure_cookies)
    result.remember(response, pending.org, pending.project, secure=gallery.secure_cookies)
    return response


async def signin_result(request: Request, gallery: Gallery, org: str, project: str) -> Response:
    """The outcome the callback sent this browser back with, shown once on the card."""
    result = SignInResult.read(request)
    response = JSONResponse({"result": result.as_json() if result else None}, headers={"cache-control": "no-store"})
    if RESULT_COOKIE in request.cookies:
        SignInResult.forget(response, org, project, secure=gallery.secure_cookies)
    return response


# ---------------------------------------------------------------- pages and probes


async def home(request: Request) -> Response:
    org, project = request.app.state.gallery.config.projects[0]
    return RedirectResponse(f"/orgs/{org}/projects/{project}", status_code=307)


async def page(request: Request) -> Response:
    gallery: Gallery = request.app.state.gallery
    if (request.path_params["org"], request.path_params["project"]) not in gallery.config.projects:
        return error(404, "not_found", "this gallery does not serve that project")
    return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})


async def detail_page(request: Request) -> Response:
    """One integration's page (overview, imports, events, analytics); its data comes from the API."""
    gallery: Gallery = request.app.state.gallery
    if (request.path_params["org"], request.path_params["project"]) not in gallery.config.projects:
        return error(404, "not_found", "this gallery does not serve that project")
    return FileResponse(STATIC / "detail.html", headers={"cache-control": "no-store"})


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 as JSON, like every other answer of this app."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return error(status, "not_found" if status == 404 else "http_error", str(getattr(exc, "detail", "error")))


async def internal_error(request: Request, exc: Exception) -> Response:
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error(500, "internal", "something went wrong in the gallery; it has been logged")


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    if await request.app.state.gallery.client.serving():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready", "reason": "the IntegrationService is not serving"}, status_code=503)


class GalleryApp(Starlette):
    """Starlette with SecurityHeaders outside even its ServerErrorMiddleware: every answer, the 500s
    and every guard's refusal included, carries the headers."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(config: GalleryConfig) -> Starlette:
    gallery = Gallery(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gallery.start()
        try:
            yield
        finally:
            await gallery.stop()

    api = "/api/orgs/{org}/projects/{project}"
    one = api + "/integrations/{name}"
    app = GalleryApp(
        routes=[
            Route("/", home),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/orgs/{org}/projects/{project}", page),
            Route("/orgs/{org}/projects/{project}/integrations/{name}", detail_page),
            Route(api + "/integrations", scoped(list_cards)),
            Route(one, scoped(get_card)),
            Route(one + "/enabled", scoped(set_enabled), methods=["PUT"]),
            Route(one + "/disable", scoped(disable), methods=["POST"]),
            Route(api + "/deletions/{deletion_id}", scoped(get_deletion)),
            Route(one + "/jobs", scoped(detail.import_history)),
            Route(one + "/analytics", scoped(detail.analytics)),
            Route(one + "/audit", scoped(detail.audit)),
            Route(one + "/webhook-secret", scoped(detail.regenerate_secret), methods=["POST"]),
            Route(one + "/fields", scoped(detail.custom_fields)),
            Route(one + "/fields", scoped(detail.map_fields), methods=["PUT"]),
            Route(one + "/events", scoped(detail.events)),
            Route(api + "/events/replay", scoped(detail.replay), methods=["POST"]),
            Route(one + "/settings", scoped(save_settings), methods=["PATCH"]),
            Route(one + "/test", scoped(test_connection), methods=["POST"]),
            Route(one + "/imports", scoped(start_import), methods=["POST"]),
            Route(one + "/imports/latest", scoped(latest_import)),
            Route(api + "/imports/{job_id}", scoped(detail.import_status)),
            Route(api + "/imports/{job_id}/events", scoped(import_events)),
            Route(one + "/authorizations", scoped(start_signin), methods=["POST"]),
            Route(api + "/signin-result", scoped(signin_result)),
            Route(CALLBACK_PATH, signin_callback),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[
            Middleware(CorrelationIdMiddleware),
            Middleware(HostAllowList, allowed_hosts=config.allowed_hosts),
            Middleware(OwnPageWrites, public_origin=config.public_origin),
            Middleware(BodyLimit),
        ],
        exception_handlers={HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )
    app.state.gallery = gallery
    return app
