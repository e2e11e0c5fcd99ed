"""Atlassian OAuth 2.0 (3LO) in the sandbox: apps, codes, grants, rotating refresh tokens (§2.2, V8).

A grant is what one consent gives one app: a user, the granted scopes and one site (the consent
page's choice). Tokens belong to a grant; revoking any of its tokens revokes the grant, so every
access and refresh token of it dies at once. All times come from the sandbox clock.

Lifetimes (``PUT /_sandbox/oauth/config`` changes the first two):

    access token        access_token_ttl_seconds (3600), answered as ``expires_in``
    refresh token       rotated on every use; the used one keeps working refresh_leeway_seconds
                        (600) for racing workers, each reuse answering a fresh pair; dies after
                        90 days unused and 365 days after the consent, whatever the rotation
    authorization code  single use, 10 minutes, bound to its client and redirect_uri

Token endpoint errors (``POST /oauth/token``), §2.2 item 5 where the facts give them:

    unreadable body, missing fields   400 invalid_request "Incorrect request parameters"
    grant_type not one of the three   400 invalid_request "grant_type must be one of [...]"
    grant_type client_credentials     403 unauthorized_client (3LO apps have no such grant; sandbox pick)
    unknown client or wrong secret    401 access_denied "Unauthorized" (sandbox pick)
    bad/used/expired code, or one issued to another client or redirect_uri
                                      403 invalid_grant "Invalid authorization code" (sandbox pick)
    dead, rotated or revoked refresh token
                                      403 invalid_grant "Unknown or invalid refresh token."

Redirect URIs match registered ones exactly (string equality): the facts give no looser rule.

Admin routes (errors ``{"error": ...}`` with a 4xx): ``POST /_sandbox/oauth/clients``,
``/sites``, ``/codes``, ``/revoke``; ``GET /_sandbox/oauth/sites``, ``/stats``; ``PUT /config``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.admin_requests import AdminError, json_body
from sandbox.jira.gateway import OFFLINE_ACCESS, unknown_scopes
from sandbox.jira.model import Site

if TYPE_CHECKING:
    from sandbox.jira.state import Sandbox

DAY = 86_400.0
CODE_TTL_SECONDS = 600.0
REFRESH_IDLE_SECONDS = 90 * DAY
REFRESH_ABSOLUTE_SECONDS = 365 * DAY
GRANT_TYPES = "grant_type must be one of [authorization_code|refresh_token|client_credentials]"
INVALID_REFRESH = "Unknown or invalid refresh token."
INVALID_CODE = "Invalid authorization code"


class TokenError(Exception):
    """An OAuth error answer: ``{"error", "error_description"}`` with its status."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def invalid_request(description: str = "Incorrect request parameters") -> TokenError:
    return TokenError(400, "invalid_request", description)


@dataclass(frozen=True)
class OAuthApp:
    client_id: str
    secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]
    name: str

    def allows(self, redirect_uri: str | None) -> bool:
        return bool(redirect_uri) and redirect_uri in self.redirect_uris

    def authenticates(self, secret: str | None) -> bool:
        return bool(secret) and hmac.compare_digest(self.secret.encode(), (secret or "").encode())


@dataclass(frozen=True)
class SiteRef:
    """A site as accessible-resources and the consent page name it."""

    cloud_id: str
    name: str
    url: str


@dataclass
class Grant:
    id: str
    client_id: str
    account_id: str
    scopes: tuple[str, ...]  # as requested, offline_access included
    cloud_id: str
    created_at: float
    revoked: bool = False


@dataclass(frozen=True)
class Code:
    client_id: str
    account_id: str
    scopes: tuple[str, ...]
    cloud_id: str
    redirect_uri: str
    expires_at: float


@dataclass
class AccessToken:
    grant_id: str
    expires_at: float


@dataclass
class RefreshToken:
    grant_id: str
    issued_at: float
    used_at: float | None = None  # the first rotation: the leeway counts from here


@dataclass
class OAuthConfig:
    access_token_ttl_seconds: float = 3600.0
    refresh_leeway_seconds: float = 600.0


@dataclass
class OAuthStats:
    """Counters tests assert on (``GET /_sandbox/oauth/stats``)."""

    codes_issued: int = 0
    exchanges: int = 0
    refreshes: int = 0  # successful refresh_token grants, leeway reuses included
    leeway_reuses: int = 0
    invalid_grants: int = 0
    client_failures: int = 0
    revocations: int = 0


class OAuth:
    """Apps, extra sites, outstanding codes, grants and their tokens."""

    def __init__(self, clock: Callable[[], float], home: Site) -> None:
        self.clock = clock
        self.home = SiteRef(home.cloud_id, home.name, home.url)
        self.apps: dict[str, OAuthApp] = {}
        self.extra_sites: dict[str, SiteRef] = {}
        self.codes: dict[str, Code] = {}
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.config = OAuthConfig()
        self.stats = OAuthStats()
        self._signing_key = secrets.token_bytes(32)

    # ---------------------------------------------------------------- sites

    def sites(self) -> list[SiteRef]:
        """The sandbox site first, then the extra ones: the consent page's choices."""
        return [self.home, *self.extra_sites.values()]

    def site(self, cloud_id: str) -> SiteRef | None:
        return self.home if cloud_id == self.home.cloud_id else self.extra_sites.get(cloud_id)

    def add_site(self, name: str, url: str) -> SiteRef:
        site = SiteRef(str(uuid.uuid4()), name, url)
        self.extra_sites[site.cloud_id] = site
        return site

    # ---------------------------------------------------------------- codes and tokens

    def issue_code(
        self, client_id: str, account_id: str, scopes: Iterable[str], cloud_id: str, redirect_uri: str
    ) -> str:
        """A code as an Accept on the consent page gives one; callers have validated the parts."""
        code = secrets.token_urlsafe(24)
        self.codes[code] = Code(
            client_id, account_id, tuple(scopes), cloud_id, redirect_uri, self.clock() + CODE_TTL_SECONDS
        )
        self.stats.codes_issued += 1
        return code

    def client(self, client_id: str | None, secret: str | None) -> OAuthApp:
        app = self.apps.get(client_id or "")
        if app is None or not app.authenticates(secret):
            self.stats.client_failures += 1
            raise TokenError(401, "access_denied", "Unauthorized")
        return app

    def redeem(self, app: OAuthApp, code: str | None, redirect_uri: str | None) -> dict[str, Any]:
        """Exchange a code; it is spent by any attempt of its own client, good or bad."""
        issued = self.codes.get(code or "")
        if issued is None or issued.client_id != app.client_id:
            raise self._invalid_grant(INVALID_CODE)
        del self.codes[code or ""]
        if self.clock() >= issued.expires_at or issued.redirect_uri != redirect_uri:
            raise self._invalid_grant(INVALID_CODE)
        grant = Grant(uuid.uuid4().hex, app.client_id, issued.account_id, issued.scopes, issued.cloud_id, self.clock())
        self.grants[grant.id] = grant
        self.stats.exchanges += 1
        return self._token_set(grant)

    def refresh(self, app: OAuthApp, token: str | None) -> dict[str, Any]:
        """Rotate: a new pair; the used token stays good for the leeway, then answers invalid_grant (V8)."""
        now = self.clock()
        held = self.refresh_tokens.get(token or "")
        grant = None if held is None else self.grants.get(held.grant_id)
        if held is None or grant is None or grant.client_id != app.client_id or not self._alive(held, grant, now):
            raise self._invalid_grant(INVALID_REFRESH)
        if held.used_at is None:
            held.used_at = now
        else:
            self.stats.leeway_reuses += 1
        self.stats.refreshes += 1
        return self._token_set(grant)

    def access_grant(self, token: str) -> Grant | None:
        """The live grant behind an access token; None when unknown, expired or revoked."""
        held = self.access_tokens.get(token)
        grant = None if held is None else self.grants.get(held.grant_id)
        if held is None or grant is None or grant.revoked or self.clock() >= held.expires_at:
            return None
        return grant

    def revoke(self, token: str) -> Grant | None:
        """Revoke the grant behind an access or refresh token; None when it is neither."""
        held = self.access_tokens.get(token) or self.refresh_tokens.get(token)
        grant = None if held is None else self.grants.get(held.grant_id)
        if grant is not None and not grant.revoked:
            grant.revoked = True
            self.stats.revocations += 1
        return grant

    def configure(self, values: dict[str, Any]) -> None:
        allowed = {"access_token_ttl_seconds", "refresh_leeway_seconds"}
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number of seconds")
        if values.get("access_token_ttl_seconds", 1) <= 0:
            raise ValueError("access_token_ttl_seconds must be positive")
        if values.get("refresh_leeway_seconds", 0) < 0:
            raise ValueError("refresh_leeway_seconds must be zero or positive")
        for name, value in values.items():
            setattr(self.config, name, float(value))

    def _alive(self, held: RefreshToken, grant: Grant, now: float) -> bool:
        return (
            not grant.revoked
            and now < grant.created_at + REFRESH_ABSOLUTE_SECONDS
            and now < held.issued_at + REFRESH_IDLE_SECONDS
            and (held.used_at is None or now < held.used_at + self.config.refresh_leeway_seconds)
        )

    def _invalid_grant(self, description: str) -> TokenError:
        self.stats.invalid_grants += 1
        return TokenError(403, "invalid_grant", description)

    def _token_set(self, grant: Grant) -> dict[str, Any]:
        now, ttl = self.clock(), self.config.access_token_ttl_seconds
        access = self._jwt({"sub": grant.account_id, "exp": int(now + ttl), "scope": " ".join(grant.scopes)}, grant)
        self.access_tokens[access] = AccessToken(grant.id, now + ttl)
        body: dict[str, Any] = {"access_token": access, "expires_in": int(ttl), "token_type": "Bearer"}
        if OFFLINE_ACCESS in grant.scopes:
            refresh = self._jwt({"sub": grant.account_id}, grant)
            self.refresh_tokens[refresh] = RefreshToken(grant.id, now)
            body["refresh_token"] = refresh
        body["scope"] = " ".join(grant.scopes)
        return body

    def _jwt(self, claims: dict[str, Any], grant: Grant) -> str:
        """JWT-shaped (``eyJ…``) like Atlassian's; opaque to clients, who must not parse them."""

        def part(value: dict[str, Any]) -> bytes:
            return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=")

        payload = {
            "jti": str(uuid.uuid4()),
            "iss": "https://auth.atlassian.com",
            "aud": "api.atlassian.com",
            "iat": int(self.clock()),
            "client_id": grant.client_id,
            **claims,
        }
        signing_input = part({"kid": "sandbox", "typ": "JWT", "alg": "HS256"}) + b"." + part(payload)
        signature = hmac.new(self._signing_key, signing_input, hashlib.sha256).digest()
        return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def register(sandbox: Sandbox, app: OAuthApp) -> None:
    """Add an app (or replace one with its id); dynamic webhooks sign their JWTs with its secret (§6.2)."""
    sandbox.oauth.apps[app.client_id] = app
    sandbox.app_secrets[app.client_id] = app.secret


def signable_accounts(sandbox: Sandbox) -> list[str]:
    """Who may sign in on the consent page: active human accounts, the main generated user first."""
    site = sandbox.site
    main = next(iter(site.api_tokens.values()), None)
    people = [u.account_id for u in site.users.values() if u.active and u.account_type == "atlassian"]
    return sorted(people, key=lambda account_id: account_id != main)


def parse_scopes(raw: str | Iterable[str]) -> tuple[str, ...]:
    """Space-separated (or a list), duplicates dropped, order kept."""
    items = raw.split() if isinstance(raw, str) else [str(s) for s in raw]
    return tuple(dict.fromkeys(items))


# ---------------------------------------------------------------- admin routes


def _text(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value:
        raise AdminError(400, f"{name} must be a non-empty string")
    return value


async def register_client(request: Request) -> Response:
    """``{"client_id", "client_secret", "redirect_uris": [...], "name"?}`` -> 201; replaces the same id."""
    sandbox, body = request.app.state.sandbox, await json_body(request)
    client_id, secret = _text(body, "client_id"), _text(body, "client_secret")
    uris = body.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) and u for u in uris):
        raise AdminError(400, "redirect_uris must be a non-empty list of URLs")
    name = _text(body, "name", client_id)
    register(sandbox, OAuthApp(client_id, secret, tuple(uris), name))
    return JSONResponse({"client_id": client_id, "name": name, "redirect_uris": uris}, status_code=201)


async def add_site(request: Request) -> Response:
    """``{"name", "url"}`` -> 201 ``{"id", "name", "url"}``: for the consent choice only (the gateway 404s it)."""
    sandbox, body = request.app.state.sandbox, await json_body(request)
    site = sandbox.oauth.add_site(_text(body, "name"), _text(body, "url"))
    return JSONResponse({"id": site.cloud_id, "name": site.name, "url": site.url}, status_code=201)


async def list_sites(request: Request) -> Response:
    oauth: OAuth = request.app.state.sandbox.oauth
    return JSONResponse(
        [{"id": s.cloud_id, "name": s.name, "url": s.url, "gateway": s is oauth.home} for s in oauth.sites()]
    )


async def issue_code(request: Request) -> Response:
    """``{"client_id", "redirect_uri", "scope", "account_id"?, "site"?}`` -> ``{"code", ...}``: an Accept, headless."""
    sandbox, body = request.app.state.sandbox, await json_body(request)
    oauth: OAuth = sandbox.oauth
    app = oauth.apps.get(_text(body, "client_id"))
    if app is None:
        raise AdminError(404, f"no OAuth client {body['client_id']!r}")
    redirect_uri = _text(body, "redirect_uri")
    if not app.allows(redirect_uri):
        raise AdminError(400, f"redirect_uri {redirect_uri!r} is not registered for {app.client_id!r}")
    scope = body.get("scope")
    scopes = parse_scopes(scope) if isinstance(scope, str | list) else ()
    if not scopes or unknown_scopes(scopes):
        raise AdminError(400, f"scope must name known scopes; unknown: {', '.join(unknown_scopes(scopes)) or '-'}")
    accounts = signable_accounts(sandbox)
    account_id = _text(body, "account_id", accounts[0] if accounts else "")
    if account_id not in accounts:
        raise AdminError(400, f"account_id {account_id!r} is not an active user of the site")
    cloud_id = _text(body, "site", oauth.home.cloud_id)
    if oauth.site(cloud_id) is None:
        raise AdminError(400, f"no site with id {cloud_id!r}")
    code = oauth.issue_code(app.client_id, account_id, scopes, cloud_id, redirect_uri)
    return JSONResponse(
        {
            "code": code,
            "client_id": app.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "account_id": account_id,
            "site": cloud_id,
            "expires_in": int(CODE_TTL_SECONDS),
        }
    )


async def revoke(request: Request) -> Response:
    """``{"token"}`` (access or refresh) -> ``{"revoked": true, ...}``; 404 for a token that is neither."""
    sandbox, body = request.app.state.sandbox, await json_body(request)
    grant = sandbox.oauth.revoke(_text(body, "token"))
    if grant is None:
        raise AdminError(404, "not an OAuth access or refresh token")
    return JSONResponse(
        {"revoked": True, "grant": grant.id, "client_id": grant.client_id, "account_id": grant.account_id}
    )


async def configure(request: Request) -> Response:
    """``{"access_token_ttl_seconds"?, "refresh_leeway_seconds"?}`` -> the settings now in force."""
    oauth: OAuth = request.app.state.sandbox.oauth
    try:
        oauth.configure(await json_body(request))
    except ValueError as exc:
        raise AdminError(400, str(exc)) from None
    return JSONResponse(asdict(oauth.config))


async def stats(request: Request) -> Response:
    oauth: OAuth = request.app.state.sandbox.oauth
    live = sum(1 for g in oauth.grants.values() if not g.revoked)
    return JSONResponse(asdict(oauth.stats) | {"grants": len(oauth.grants), "live_grants": live})


def routes() -> list[Route]:
    def guard(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def wrapped(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except AdminError as exc:
                return JSONResponse({"error": exc.message}, status_code=exc.status)
            return response

        return wrapped

    table = [
        ("/_sandbox/oauth/clients", register_client, ["POST"]),
        ("/_sandbox/oauth/sites", add_site, ["POST"]),
        ("/_sandbox/oauth/sites", list_sites, ["GET"]),
        ("/_sandbox/oauth/codes", issue_code, ["POST"]),
        ("/_sandbox/oauth/revoke", revoke, ["POST"]),
        ("/_sandbox/oauth/config", configure, ["PUT"]),
        ("/_sandbox/oauth/stats", stats, ["GET"]),
    ]
    return [Route(path, guard(handler), methods=methods) for path, handler, methods in table]
