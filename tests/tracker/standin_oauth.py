"""The Tracker stand-in's OAuth 2.0 authorization server, shaped like Atlassian's 3LO
(``../shared/jira-api.md`` §2.2), so the single-flight refresh is tested against the hard case.

- ``GET /oauth/authorize`` approves at once (there is no one to click) and redirects with a
  ``code`` and the ``state``; a ``code_challenge`` (S256 only) binds the code to a verifier.
- ``POST /oauth/token`` takes JSON or form bodies: ``authorization_code`` (client, code,
  redirect URI, verifier) and ``refresh_token``. Access tokens live ``expires_in`` seconds; a
  refresh token comes only with ``offline_access``.
- **Rotation**: each refresh answers a new refresh token and retires the one spent; a retired
  token still works for ``reuse_leeway`` seconds (a race's second spender), then it is dead.
- Errors as Atlassian answers them: a dead, retired-beyond-leeway or revoked refresh token (or a
  bad code) -> 403 ``invalid_grant``; a bad ``grant_type`` or an unreadable body -> 400
  ``invalid_request``; a wrong client id or secret -> 401 ``access_denied``.

The test reads the counters (``refreshes``, ``leeway_reuses``, ``invalid_grants``,
``unauthorized``) and drives it through ``/_test/oauth/...``: expire every access token now (and
answer the next N refused calls together), revoke one grant or all. ``issued`` keeps every code, token,
state and verifier it issued or saw, so a test can search logs for them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CODE_TTL = 600.0
GRANT_TYPES = "grant_type must be one of [authorization_code|refresh_token|client_credentials]"
UNREADABLE = "Incorrect request parameters"
DEAD_REFRESH = "Unknown or invalid refresh token."
ACCOUNT_ID = "u1"  # the stand-in's one user (``/api/me``)


@dataclass
class Grant:
    """What one consent allowed: every token issued for it dies with it."""

    id: str
    client_id: str
    scope: str
    revoked: bool = False


@dataclass
class Code:
    grant: Grant
    redirect_uri: str
    challenge: str | None
    expires: float
    used: bool = False


@dataclass
class Refresh:
    grant: Grant
    retired_at: float | None = None  # when a refresh replaced it; usable for the leeway after


@dataclass
class Access:
    grant: Grant
    expires: float


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _back(redirect_uri: str, **query: str) -> RedirectResponse:
    """The browser sent back to the client, as OAuth does: a 302 with the answer in the query."""
    return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", 302)


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status)


@dataclass
class OAuthServer:
    """The authorization server's whole state; times are ``time.monotonic()``."""

    clients: dict[str, str] = field(default_factory=dict)  # client id -> secret
    expires_in: int = 3600
    reuse_leeway: float = 600.0
    # After an expire-all, hold each 401 until this many API calls have been refused (10 s at most)
    # and answer them together: every replica meets the stale token at the same instant, and all
    # reach for the refresh at once (the hard case for single-flight).
    refuse_together: int = 0
    refreshes: int = 0  # successful refresh_token grants, leeway reuses included
    leeway_reuses: int = 0  # of those, refreshes with a retired token inside the leeway
    invalid_grants: int = 0
    unauthorized: int = 0  # API calls refused 401 (set by the API guard)
    unauthorized_since_expiry: int = 0
    issued: list[str] = field(default_factory=list)  # every code, token, state and verifier seen
    codes: dict[str, Code] = field(default_factory=dict)
    refresh_tokens: dict[str, Refresh] = field(default_factory=dict)
    access_tokens: dict[str, Access] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    _refused: asyncio.Event = field(default_factory=asyncio.Event)

    def valid_access(self, token: str) -> bool:
        access = self.access_tokens.get(token)
        return access is not None and not access.grant.revoked and time.monotonic() < access.expires

    async def refused(self) -> None:
        """Count an API call refused 401 (the API guard calls it), and hold it for its companions."""
        self.unauthorized += 1
        self.unauthorized_since_expiry += 1
        self._refused.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while self.unauthorized_since_expiry < self.refuse_together:
                    self._refused.clear()
                    await self._refused.wait()

    def expire_access_tokens(self) -> int:
        """Every access token now answers 401 (as if its hour were up); how many were live."""
        now = time.monotonic()
        live = [a for a in self.access_tokens.values() if a.expires > now]
        for access in live:
            access.expires = now
        self.unauthorized_since_expiry = 0
        return len(live)

    def revoke(self, refresh_token: str | None = None) -> int:
        """Revoke the grant of ``refresh_token``, or every grant (the user removed the app): their
        refresh and access tokens die. How many live grants were revoked."""
        if refresh_token is not None:
            spent = self.refresh_tokens.get(refresh_token)
            chosen = [spent.grant] if spent is not None else []
        else:
            chosen = self.grants
        live = [g for g in chosen if not g.revoked]
        for grant in live:
            grant.revoked = True
        return len(live)

    def _new(self, prefix: str) -> str:
        token = f"{prefix}{secrets.token_urlsafe(32)}"
        self.issued.append(token)
        return token

    def _tokens(self, grant: Grant) -> dict[str, Any]:
        access = self._new("trka_")
        self.access_tokens[access] = Access(grant, time.monotonic() + self.expires_in)
        answer: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
            "scope": grant.scope,
        }
        if "offline_access" in grant.scope.split():
            refresh = self._new("trkr_")
            self.refresh_tokens[refresh] = Refresh(grant)
            answer["refresh_token"] = refresh
        return answer

    def _invalid_grant(self, description: str) -> JSONResponse:
        self.invalid_grants += 1
        return _error(403, "invalid_grant", description)

    # -- the endpoints

    async def authorize(self, request: Request) -> Response:
        query = request.query_params
        client_id, redirect_uri, state = (query.get(k, "") for k in ("client_id", "redirect_uri", "state"))
        challenge, method = query.get("code_challenge"), query.get("code_challenge_method", "plain")
        if client_id not in self.clients or not redirect_uri.startswith(("http://", "https://")):
            return Response("unknown client_id or bad redirect_uri", 400)  # never redirect to an unchecked URI
        self.issued.extend(v for v in (state, challenge) if v)
        if query.get("response_type") != "code":
            return _back(redirect_uri, error="unsupported_response_type", state=state)
        if challenge is not None and method != "S256":
            return _back(redirect_uri, error="invalid_request", state=state)
        grant = Grant(f"g{len(self.grants) + 1}", client_id, query.get("scope", ""))
        self.grants.append(grant)
        code = self._new("trkc_")
        self.codes[code] = Code(grant, redirect_uri, challenge, time.monotonic() + CODE_TTL)
        return _back(redirect_uri, code=code, state=state)

    async def token(self, request: Request) -> Response:
        body = await _body(request)
        if body is None:
            return _error(400, "invalid_request", UNREADABLE)
        grant_type = body.get("grant_type")
        if grant_type not in ("authorization_code", "refresh_token"):
            return _error(400, "invalid_request", GRANT_TYPES)
        client_id, client_secret = body.get("client_id", ""), body.get("client_secret", "")
        self.issued.extend(v for v in (body.get("code"), body.get("code_verifier")) if v)
        known = self.clients.get(client_id)
        if known is None or not hmac.compare_digest(known.encode(), client_secret.encode()):
            return _error(401, "access_denied", "Unauthorized")
        if grant_type == "authorization_code":
            return self._exchange(client_id, body)
        return await self._refresh(client_id, body)

    def _exchange(self, client_id: str, body: dict[str, str]) -> Response:
        code = self.codes.get(body.get("code", ""))
        if code is None or code.used or code.expires < time.monotonic() or code.grant.client_id != client_id:
            return self._invalid_grant("Invalid authorization code")
        if body.get("redirect_uri") != code.redirect_uri:
            return self._invalid_grant("redirect_uri does not match the authorization request")
        if code.challenge is not None and s256(body.get("code_verifier", "")) != code.challenge:
            return self._invalid_grant("code_verifier does not match the code_challenge")
        code.used = True
        return JSONResponse(self._tokens(code.grant))

    async def _refresh(self, client_id: str, body: dict[str, str]) -> Response:
        spent = self.refresh_tokens.get(body.get("refresh_token", ""))
        now = time.monotonic()
        if spent is None or spent.grant.revoked or spent.grant.client_id != client_id:
            return self._invalid_grant(DEAD_REFRESH)
        if spent.retired_at is not None:
            if now - spent.retired_at >= self.reuse_leeway:
                return self._invalid_grant(DEAD_REFRESH)
            self.leeway_reuses += 1
        else:
            spent.retired_at = now
        self.refreshes += 1
        return JSONResponse(self._tokens(spent.grant))

    # -- the test's controls

    async def test_expire(self, request: Request) -> Response:
        body = await request.json() if await request.body() else {}
        self.refuse_together = int(body.get("refuse_together", 0))
        return JSONResponse({"expired": self.expire_access_tokens()})

    async def test_revoke(self, request: Request) -> Response:
        body = await request.json() if await request.body() else {}
        return JSONResponse({"revoked": self.revoke(body.get("refresh_token"))})

    def routes(self) -> list[Route]:
        return [
            Route("/oauth/authorize", self.authorize, methods=["GET"]),
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/_test/oauth/expire", self.test_expire, methods=["POST"]),
            Route("/_test/oauth/revoke", self.test_revoke, methods=["POST"]),
        ]


async def _body(request: Request) -> dict[str, str] | None:
    """The token request's parameters from a JSON or a form body; None when it cannot be read."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if kind == "application/json":
        try:
            parsed = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            return None
        return parsed
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return None
    return None
