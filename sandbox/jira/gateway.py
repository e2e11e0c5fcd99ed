"""The ``api.atlassian.com`` side: ``/ex/jira/{cloudId}/rest/...`` routing, the scope table, accessible-resources.

OAuth 2.0 (3LO) tokens work only here (§1). ``GatewayMiddleware`` runs before routing:

- ``/ex/jira/{cloudId}`` with a cloudId that is not the sandbox site's — including the extra sites
  added with ``POST /_sandbox/oauth/sites``, which exist only for the consent page's choice and for
  accessible-resources — answers Spring's 404 ``{"timestamp":"…Z","status":404,"error":"Not Found",
  "message":"No message available","path":"/ex/jira/…"}`` (§2.2 item 6).
- A path no route serves (or one outside ``/rest/``) answers ``401 {"code":401,"message":"Unauthorized;
  scope does not match"}``, as does a valid token without a scope the table below requires (§2.3).
- Otherwise the request goes to the site's own handlers with ``root_path`` set to the prefix (routing
  sees ``/rest/...``; ``request.url`` and so ``self``/``nextPage`` links keep the gateway address) and
  the scope marked: ``jira.gateway`` True and, for a live access token, ``jira.oauth_client_id``,
  ``jira.oauth_scopes`` (granted, in order) and ``jira.oauth_grant_id`` (the rate-limit key).

The credential itself is checked by ``endpoint.authenticate``: only ``Bearer <3LO access token>``
passes; none, Basic, unknown, expired or revoked ones answer ``401 {"code":401,"message":
"Unauthorized"}`` (the facts give no body for this; this JSON is the sandbox's pick). A token whose
grant is for another site answers the same 401.

Scopes: one rule table, first match wins; a rule holds alternatives, each a set that must be held in
full, so classic and granular scopes are both accepted where Jira accepts either. Agile paths accept
only the Jira Software granular scopes (whether classic ones suffice is unverified, §11: the sandbox
takes the strict reading so a client that requests too little fails here, not in production).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.jira.times import sprint_time

if TYPE_CHECKING:
    from sandbox.jira.state import Sandbox

PREFIX = "/ex/jira/"
OFFLINE_ACCESS = "offline_access"
SCOPE_MISMATCH = {"code": 401, "message": "Unauthorized; scope does not match"}
UNAUTHORIZED = {"code": 401, "message": "Unauthorized"}
SITE_AVATAR = "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/site.png"

_READ = frozenset({"GET", "HEAD", "OPTIONS"})
_READ_POST = _READ | {"POST"}  # endpoints that read through a POST body (search, bulk fetches)
_WRITE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_API = r"/rest/api/(?:2|3|latest)"
_AGILE = r"/rest/agile/1\.0"


def _either(*alternatives: str) -> tuple[frozenset[str], ...]:
    """Each argument is one acceptable set of scopes, space-separated."""
    return tuple(frozenset(alt.split()) for alt in alternatives)


@dataclass(frozen=True)
class Rule:
    methods: frozenset[str] | None  # None: any method
    pattern: re.Pattern[str]
    scopes: tuple[frozenset[str], ...]  # empty: nothing grants it


def _rule(methods: frozenset[str] | None, pattern: str, *alternatives: str) -> Rule:
    return Rule(methods, re.compile(pattern), _either(*alternatives))


USER = ("read:jira-user", "read:user:jira")
WORK = "read:jira-work"
WORKLOG = "read:issue-worklog:jira"
SCOPE_TABLE: tuple[Rule, ...] = (
    # Users: read:jira-work does not cover /myself (§2.3).
    _rule(None, rf"{_API}/myself", *USER),
    _rule(None, rf"{_API}/(?:user|users|groupuserpicker)(?:/.*)?", *USER),
    # Dynamic webhooks (§6.1); admin webhooks on the gateway: same scope (unverified).
    _rule(_READ, rf"{_API}/webhook(?:/.*)?", "manage:jira-webhook", "read:webhook:jira"),
    _rule(frozenset({"DELETE"}), rf"{_API}/webhook(?:/.*)?", "manage:jira-webhook", "delete:webhook:jira"),
    _rule(None, rf"{_API}/webhook(?:/.*)?", "manage:jira-webhook", "write:webhook:jira"),
    _rule(None, r"/rest/webhooks/1\.0(?:/.*)?", "manage:jira-webhook"),
    _rule(None, rf"{_API}/auditing/.*", "manage:jira-configuration", "read:audit-log:jira"),
    # Platform reads: classic read:jira-work or the granular family scope.
    _rule(_READ_POST, rf"{_API}/search(?:/.*)?", WORK, "read:issue-details:jira read:jql:jira"),
    _rule(_READ, rf"{_API}/issue/[^/]+/comment(?:/.*)?", WORK, "read:comment:jira"),
    _rule(_READ_POST, rf"{_API}/comment/list", WORK, "read:comment:jira"),
    _rule(_READ, rf"{_API}/(?:issue/[^/]+/worklog(?:/.*)?|worklog/(?:updated|deleted))", WORK, WORKLOG),
    _rule(_READ_POST, rf"{_API}/worklog/list", WORK, WORKLOG),
    _rule(_READ_POST, rf"{_API}/(?:issue/bulkfetch|changelog/bulkfetch)", WORK, "read:issue-details:jira"),
    _rule(_READ, rf"{_API}/issue/[^/]+(?:/changelog)?", WORK, "read:issue-details:jira"),
    _rule(_READ, rf"{_API}/project(?:/.*)?", WORK, "read:project:jira"),
    _rule(_READ, rf"{_API}/.*", WORK),
    _rule(_WRITE, rf"{_API}/.*", "write:jira-work", "write:issue:jira"),
    # Agile: Jira Software granular scopes only.
    _rule(_READ, rf"{_AGILE}/board/\d+/configuration", "read:board-scope.admin:jira-software"),
    _rule(
        _READ_POST,
        rf"{_AGILE}/(?:board/\d+/(?:issue|backlog|epic/[^/]+/issue)|sprint/\d+/issue|epic/[^/]+/issue)",
        "read:issue:jira-software",
    ),
    _rule(_READ, rf"{_AGILE}/(?:board/\d+/sprint|sprint/\d+)", "read:sprint:jira-software"),
    _rule(_READ, rf"{_AGILE}/(?:board/\d+/epic|epic/[^/]+)", "read:epic:jira-software"),
    _rule(_READ, rf"{_AGILE}/board(?:/.*)?", "read:board-scope:jira-software"),
    _rule(_WRITE, rf"{_AGILE}/sprint(?:/.*)?", "write:sprint:jira-software"),
    _rule(_WRITE, rf"{_AGILE}/.*", "write:board-scope:jira-software"),
)

# Every scope an authorize request may name: the table's, plus ones no sandbox route needs.
KNOWN_SCOPES: frozenset[str] = frozenset(
    {scope for rule in SCOPE_TABLE for alternative in rule.scopes for scope in alternative}
    | {OFFLINE_ACCESS, "manage:jira-project", "manage:jira-data-provider", "read:me", "read:account"}
    | {"read:issue:jira", "write:comment:jira", "read:field:jira", "read:status:jira", "read:issue-type:jira"}
    | {"read:epic:jira-software", "write:epic:jira-software", "write:issue:jira-software"}
)


def required(method: str, path: str) -> tuple[frozenset[str], ...]:
    """The acceptable scope sets for a request to ``path`` (after the gateway prefix); empty: none."""
    for rule in SCOPE_TABLE:
        if (rule.methods is None or method in rule.methods) and rule.pattern.fullmatch(path):
            return rule.scopes
    return ()


def permits(method: str, path: str, granted: Iterable[str]) -> bool:
    held = frozenset(granted)
    return any(alternative <= held for alternative in required(method, path))


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    return [scope for scope in scopes if scope not in KNOWN_SCOPES]


def _json(body: Any, status: int) -> Response:
    return JSONResponse(body, status_code=status)


def bearer_token(header: str) -> str | None:
    scheme, _, token = header.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class GatewayMiddleware:
    """Routes ``/ex/jira/{cloudId}/rest/...`` to the site's handlers, checking cloudId, path and scopes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        starlette = scope["app"]
        sandbox: Sandbox = starlette.state.sandbox
        cloud_id = path[len(PREFIX) :].partition("/")[0]
        if cloud_id != sandbox.site.cloud_id:
            body = {
                "timestamp": sprint_time(sandbox.now_ms()),
                "status": 404,
                "error": "Not Found",
                "message": "No message available",
                "path": path,
            }
            await _json(body, 404)(scope, receive, send)
            return
        prefix = PREFIX + cloud_id
        inner: Scope = {**scope, "root_path": scope.get("root_path", "") + prefix, "jira.gateway": True}
        route_path = path[len(prefix) :]
        routed = route_path.startswith("/rest/") and any(
            route.matches(inner)[0] is not Match.NONE for route in starlette.router.routes
        )
        if not routed:  # the gateway hides which paths exist behind the scope answer (§2.3)
            await _json(SCOPE_MISMATCH, 401)(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        token = bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
        grant = sandbox.oauth.access_grant(token) if token else None
        if grant is not None and grant.cloud_id == cloud_id:
            inner["jira.oauth_client_id"] = grant.client_id
            inner["jira.oauth_scopes"] = grant.scopes
            inner["jira.oauth_grant_id"] = grant.id
            if not permits(scope["method"], route_path, grant.scopes):
                await _json(SCOPE_MISMATCH, 401)(scope, receive, send)
                return
        await self.app(inner, receive, send)


async def accessible_resources(request: Request) -> Response:
    """``GET https://api.atlassian.com/oauth/token/accessible-resources``: the grant's site (§2.2 item 6).

    ``scopes`` lists the granted API scopes; ``offline_access`` is an authorize-URL-only scope (§2.3)
    and is left out.
    """
    sandbox: Sandbox = request.app.state.sandbox
    token = bearer_token(request.headers.get("authorization", ""))
    grant = sandbox.oauth.access_grant(token) if token else None
    site = None if grant is None else sandbox.oauth.site(grant.cloud_id)
    if grant is None or site is None:
        return _json(UNAUTHORIZED, 401)
    scopes = [s for s in grant.scopes if s != OFFLINE_ACCESS]
    resource = {"id": site.cloud_id, "name": site.name, "url": site.url, "scopes": scopes, "avatarUrl": SITE_AVATAR}
    return _json([resource], 200)


def routes() -> list[Route]:
    return [Route("/oauth/token/accessible-resources", accessible_resources, methods=["GET"])]
