"""One wrapper for every API route: authentication (§2), the burst limit (§5), error bodies (§8).

Site host: basic auth only. A request without credentials runs as the anonymous viewer (``None``):
anonymous-capable endpoints then answer 200 with reduced data. Credentials that do not match, and
any Bearer token (3LO works only via the gateway, §1), answer Jira's plain-text 401 with
``X-Seraph-LoginReason: AUTHENTICATED_FAILED``.

Gateway (``scope["jira.gateway"]``, set by ``gateway.GatewayMiddleware``): only a live 3LO access
token passes, as the grant's user; no credentials, Basic, or an unknown, expired or revoked token
answer ``401 {"code":401,"message":"Unauthorized"}`` (a sandbox pick: the facts give no body). The
burst limit keys gateway traffic by grant, site traffic by user.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from sandbox.jira.gateway import UNAUTHORIZED, bearer_token
from sandbox.jira.state import ApiError, Sandbox, error_collection, problem

Viewer = str | None  # an accountId, or None for an anonymous caller
Handler = Callable[[Sandbox, Request, Viewer], Awaitable[Any]]

UNAUTHENTICATED = "Client must be authenticated to access this resource."
UNAUTHENTICATED_HEADERS = {
    "X-Seraph-LoginReason": "AUTHENTICATED_FAILED",
    "WWW-Authenticate": 'Basic realm="protected-area"',
}


def unauthenticated() -> ApiError:
    return ApiError(401, UNAUTHENTICATED, "text/plain;charset=UTF-8", dict(UNAUTHENTICATED_HEADERS))


def gateway_unauthorized() -> ApiError:
    return ApiError(401, dict(UNAUTHORIZED), headers={"WWW-Authenticate": 'Bearer realm="api.atlassian.com"'})


def authenticate(sandbox: Sandbox, header: str, *, gateway: bool = False) -> Viewer:
    """The accountId behind ``Basic base64(email:api_token)``; any other scheme is refused on the site host.

    Through the gateway, the accountId behind a 3LO access token, and nothing else.
    """
    if gateway:
        return _oauth_user(sandbox, header)
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise unauthenticated()  # 3LO and service-account bearer tokens work only via the gateway (§1)
    try:
        email, _, token = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthenticated() from None
    account_id = sandbox.site.api_tokens.get(token)
    person = sandbox.site.users.get(account_id or "")
    if person is None or person.email is None or person.email.lower() != email.lower() or not person.active:
        raise unauthenticated()
    return person.account_id


def _oauth_user(sandbox: Sandbox, header: str) -> str:
    token = bearer_token(header)
    grant = sandbox.oauth.access_grant(token) if token else None
    if grant is None or grant.cloud_id != sandbox.site.cloud_id:
        raise gateway_unauthorized()
    person = sandbox.site.users.get(grant.account_id)
    if person is None or not person.active:
        raise gateway_unauthorized()
    return person.account_id


def render_error(error: ApiError, extra_headers: dict[str, str] | None = None) -> Response:
    headers = {**(extra_headers or {}), **error.headers}
    if isinstance(error.body, str):
        return PlainTextResponse(error.body, status_code=error.status, headers=headers, media_type=error.media_type)
    return JSONResponse(error.body, status_code=error.status, headers=headers, media_type=error.media_type)


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    @functools.wraps(handler)
    async def wrapper(request: Request) -> Response:
        sandbox: Sandbox = request.app.state.sandbox
        sandbox.requests += 1
        gateway = bool(request.scope.get("jira.gateway"))
        try:
            viewer = authenticate(sandbox, request.headers.get("authorization", "").strip(), gateway=gateway)
        except ApiError as exc:
            return render_error(exc)
        client = request.client.host if request.client else "unknown"
        grant_id = request.scope.get("jira.oauth_grant_id") if gateway else None
        allowed, headers = sandbox.limiter.hit(f"oauth:{grant_id}" if grant_id else viewer or f"anonymous:{client}")
        if not allowed:
            return render_error(error_collection(429, "Rate limit exceeded."), headers)
        try:
            body = await handler(sandbox, request, viewer)
        except ApiError as exc:
            return render_error(exc, headers)
        if isinstance(body, Response):
            body.headers.update(headers)
            return body
        return JSONResponse(body, headers=headers)

    return wrapper


def int_param(request: Request, name: str, default: int) -> int:
    """Bad numbers are a problem+json 400 (§3.1), not an ErrorCollection."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise problem(400, "Bad Request", f"Failed to convert '{name}' with value: '{raw}'", request.url.path) from None


def offset_page(
    request: Request,
    items: list[Any],
    default: int,
    cap: int,
    *,
    container: str = "values",
    links: bool = True,
    is_last: bool = True,
) -> dict[str, Any]:
    """A PageBean (§3.1): ``maxResults`` silently capped, ``nextPage`` absent on the last page.

    Agile pages have no ``self``/``nextPage`` (``links=False``); comment pages no ``isLast`` either.
    """
    start = max(0, int_param(request, "startAt", 0))
    size = int_param(request, "maxResults", default)
    size = cap if size <= 0 or size > cap else size
    chunk = items[start : start + size]
    last = start + len(chunk) >= len(items)
    body: dict[str, Any] = {}
    if links:
        body["self"] = str(request.url)
        if not last:
            body["nextPage"] = str(request.url.include_query_params(startAt=start + len(chunk), maxResults=size))
    body |= {"maxResults": size, "startAt": start, "total": len(items)}
    if is_last:
        body["isLast"] = last
    body[container] = chunk
    return body
