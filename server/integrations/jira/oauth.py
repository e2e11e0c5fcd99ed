"""Jira's sign-in, OAuth 2.0 (3LO) (``../shared/jira-api.md`` §2.2): the consent page, the code
exchange, the refresh, and the sites a grant covers.

Atlassian's app is a confidential client: ``client_secret`` goes in the JSON body of
``POST /oauth/token`` and no PKCE is sent (undocumented there, §2.2.7). ``offline_access`` is
requested because access tokens live an hour: an exchange that brings no refresh token fails
rather than save a connection that dies by itself. Refresh tokens rotate (V8), so ``refresh``
returns the new one; the caller (the gallery) seals it before the access token is used.

A grant covers sites, not one site: ``accessible_resources`` lists them (unordered, match on
``url``), and each site's ``id`` is the cloud id the gateway client needs.

Failures, by step:
- ``exchange_code``: ``OAuthFlowError`` (the generic flow's), ``PROVIDER_UNAVAILABLE`` when
  Atlassian failed or could not be reached;
- ``refresh``: ``GrantRevoked`` (invalid_grant: a new sign-in is the only way), ``JiraOAuthUnavailable``
  (5xx, 429, network: retry), ``JiraOAuthAppRejected`` (another 4xx: the app credentials),
  ``JiraResponseError`` (an answer we cannot use);
- ``accessible_resources``: the client's errors (401: ``JiraAuthError``), ``JiraOAuthUnavailable``.

Every provider value is checked before use, and no message holds a code, token or secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from server.integrations.credentials import OAuthTokens
from server.integrations.jira.client import CLOUD_ID
from server.integrations.jira.errors import (
    JiraError,
    JiraOAuthAppRejected,
    JiraOAuthUnavailable,
    JiraResponseError,
    JiraSiteNotGranted,
    http_error,
)
from server.integrations.oauth import GrantRevoked, OAuthApp, OAuthFlowError, OAuthProvider

DEFAULT_AUTHORIZE_URL = "https://auth.atlassian.com/authorize"
DEFAULT_TOKEN_URL = "https://auth.atlassian.com/oauth/token"
DEFAULT_API_URL = "https://api.atlassian.com"
AUDIENCE = "api.atlassian.com"
RESOURCES_PATH = "/oauth/token/accessible-resources"

# Classic scopes for the platform API and webhooks, offline_access for a refresh token, and the
# Jira Software granular scopes: the Agile endpoints declare only those (§2.3).
SCOPES = (
    "read:jira-work",
    "read:jira-user",
    "manage:jira-webhook",
    "offline_access",
    "read:board-scope:jira-software",
    "read:board-scope.admin:jira-software",
    "read:sprint:jira-software",
    "read:epic:jira-software",
    "read:issue:jira-software",
    "read:issue-details:jira",
    "read:jql:jira",
)

MAX_VALUE = 4096
MAX_EXPIRES_IN = 366 * 24 * 3600  # a year: anything longer is not a token lifetime we believe
MAX_SITES = 1000
_ERROR_CODE = re.compile(r"[a-z_]{1,64}")
# The token endpoint's words for "this app (client id, secret) is not accepted".
_APP_ERRORS = frozenset({"invalid_client", "unauthorized_client", "access_denied", "unsupported_grant_type"})
_SETTINGS = "check JIRA_OAUTH_CLIENT_ID and JIRA_OAUTH_CLIENT_SECRET"


@dataclass(frozen=True)
class JiraSite:
    """One site a grant covers: ``id`` is its cloud id, ``url`` has no trailing slash."""

    id: str
    name: str
    url: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class _TokenAnswer:
    access_token: str
    refresh_token: str  # "" when the answer has none
    expires_in: int
    scopes: tuple[str, ...] | None  # None when the answer does not say (RFC 6749: as requested)


@dataclass(frozen=True)
class _Refusal:
    """What a non-2xx OAuth answer said, safe to show: an error code and a scrubbed description."""

    status: int
    error: str
    description: str

    def said(self) -> str:
        words = ": ".join(part for part in (self.error, self.description) if part)
        return f"{self.status} {words}" if words else str(self.status)


class _BadAnswer(Exception):
    """A provider value failed its check; the message names the value, never shows it."""


class JiraOAuth(OAuthProvider):
    pkce = False  # undocumented for Atlassian (§2.2.7): the client secret stays on the server instead

    def __init__(
        self,
        app: OAuthApp,
        *,
        authorize_url: str = DEFAULT_AUTHORIZE_URL,
        token_url: str = DEFAULT_TOKEN_URL,
        api_url: str = DEFAULT_API_URL,
        timeout_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._app = app
        self._authorize_url = authorize_url
        self._token_url = token_url
        self._resources_url = api_url.rstrip("/") + RESOURCES_PATH
        self._timeout = httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 10.0))
        self._transport = transport

    def __repr__(self) -> str:
        return f"JiraOAuth(client_id={self._app.client_id!r}, token_url={self._token_url!r})"

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self._timeout, transport=self._transport, headers={"Accept": "application/json"}
        )

    # ------------------------------------------------------------ sign-in

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str | None) -> str:
        """The consent page; ``prompt=consent`` so the user sees (and can pick) the sites every time."""
        query = {
            "audience": AUDIENCE,
            "client_id": self._app.client_id,
            "scope": " ".join(SCOPES),
            "redirect_uri": redirect_uri,
            "state": state,
            "response_type": "code",
            "prompt": "consent",
        }
        return f"{self._authorize_url}?{urlencode(query, quote_via=quote)}"  # spaces as %20, as documented

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None) -> OAuthTokens:
        """The token set for ``code``, with ``site_id`` set when the grant covers exactly one site."""
        payload = {
            "grant_type": "authorization_code",
            "client_id": self._app.client_id,
            "client_secret": self._app.client_secret,
            "code": code,
            "redirect_uri": redirect_uri,
        }
        hidden = (code, self._app.client_secret)
        issued = datetime.now(UTC)  # before asking: the lifetime counts from Atlassian's clock
        async with self._http() as http:
            try:
                response = await http.post(self._token_url, json=payload)
            except httpx.HTTPError as exc:
                raise OAuthFlowError(
                    "code",
                    f"could not reach Atlassian's token endpoint ({type(exc).__name__}); sign in again later",
                    "PROVIDER_UNAVAILABLE",
                ) from None
            if not response.is_success:
                raise _exchange_refused(_refusal(response, hidden))
            try:
                answer = _token_answer(response)
            except _BadAnswer as exc:
                raise OAuthFlowError("code", f"Atlassian's token endpoint answered {exc}") from None
            if not answer.refresh_token:
                raise OAuthFlowError(
                    "scope",
                    "Atlassian granted no refresh token (offline_access is missing from the grant), so the "
                    "connection would stop within the hour; sign in again and allow offline access",
                    "OAUTH_OFFLINE_ACCESS_MISSING",
                )
            try:
                sites = await self._sites(http, answer.access_token)
            except JiraOAuthUnavailable as exc:
                raise OAuthFlowError("code", f"{exc}; sign in again later", "PROVIDER_UNAVAILABLE") from None
            except JiraError as exc:
                raise OAuthFlowError("code", f"the sites of the new grant could not be read: {exc}") from None
        if not sites:
            raise OAuthFlowError(
                "scope",
                "the grant covers no Jira site; sign in again and pick a site on the consent page",
                "OAUTH_NO_SITE",
            )
        return OAuthTokens(
            answer.access_token,
            answer.refresh_token,
            issued + timedelta(seconds=answer.expires_in),
            answer.scopes if answer.scopes is not None else SCOPES,
            site_id=sites[0].id if len(sites) == 1 else "",
        )

    # ------------------------------------------------------------ keeping it alive

    async def refresh(self, tokens: OAuthTokens) -> OAuthTokens:
        """The next token set (the refresh token rotates: V8); ``site_id`` and ``account_id`` carry over.

        ``GrantRevoked`` when Atlassian says invalid_grant; ``JiraOAuthUnavailable`` (retry) on 5xx,
        429 or a network failure; ``JiraOAuthAppRejected`` on any other 4xx."""
        if not tokens.refresh_token:
            raise GrantRevoked("the Jira grant has no refresh token; sign in to Jira again")
        payload = {
            "grant_type": "refresh_token",
            "client_id": self._app.client_id,
            "client_secret": self._app.client_secret,
            "refresh_token": tokens.refresh_token,
        }
        hidden = (tokens.refresh_token, tokens.access_token, self._app.client_secret)
        issued = datetime.now(UTC)
        async with self._http() as http:
            try:
                response = await http.post(self._token_url, json=payload)
            except httpx.HTTPError as exc:
                raise JiraOAuthUnavailable(
                    f"could not reach Atlassian's token endpoint to refresh the Jira token ({type(exc).__name__}); "
                    "retry"
                ) from None
        if not response.is_success:
            raise _refresh_refused(_refusal(response, hidden))
        try:
            answer = _token_answer(response)
        except _BadAnswer as exc:
            raise JiraResponseError(f"Atlassian's token endpoint answered a Jira refresh {exc}") from None
        return OAuthTokens(
            answer.access_token,
            answer.refresh_token or tokens.refresh_token,  # not rotated: the old one stays valid
            issued + timedelta(seconds=answer.expires_in),
            answer.scopes if answer.scopes is not None else tokens.scopes,
            account_id=tokens.account_id,
            site_id=tokens.site_id,
        )

    # ------------------------------------------------------------ sites

    async def accessible_resources(self, access_token: str) -> list[JiraSite]:
        """The sites this access token reaches (``GET /oauth/token/accessible-resources``), in
        Atlassian's (meaningless) order. A 401 is the client's ``JiraAuthError``: the access token
        is bad or expired, which a refresh fixes, not a new sign-in."""
        async with self._http() as http:
            return await self._sites(http, access_token)

    async def _sites(self, http: httpx.AsyncClient, access_token: str) -> list[JiraSite]:
        try:
            response = await http.get(self._resources_url, headers={"Authorization": f"Bearer {access_token}"})
        except httpx.HTTPError as exc:
            raise JiraOAuthUnavailable(
                f"could not reach Atlassian for GET {RESOURCES_PATH} ({type(exc).__name__})"
            ) from None
        if not response.is_success:
            refusal = _refusal(response, (access_token, self._app.client_secret))
            if response.status_code == 429 or response.status_code >= 500:
                raise JiraOAuthUnavailable(f"Atlassian answered {refusal.said()} for GET {RESOURCES_PATH}")
            said = tuple(part for part in (refusal.error, refusal.description) if part)
            raise http_error(response.status_code, said, "GET", RESOURCES_PATH)
        try:
            return _site_list(_json(response))
        except _BadAnswer as exc:
            raise JiraResponseError(f"Atlassian's GET {RESOURCES_PATH} answer is unusable: {exc}") from None


def site_for(sites: Sequence[JiraSite], site_url: str) -> JiraSite:
    """The granted site at ``site_url`` (scheme and host compared without case, trailing slash
    ignored); with no ``site_url``, the only site. ``JiraSiteNotGranted`` lists what is granted."""
    granted = ", ".join(sorted(site.url for site in sites)) or "none"
    wanted = _normal_url(site_url)
    if not wanted:
        if len(sites) == 1:
            return sites[0]
        raise JiraSiteNotGranted(
            f"the Jira grant covers {len(sites)} sites ({granted}): set the site URL to one of them"
            if sites
            else "the Jira grant covers no site: sign in again and pick a site on the consent page"
        )
    for site in sites:
        if _normal_url(site.url) == wanted:
            return site
    shown = site_url.strip()[:200]
    raise JiraSiteNotGranted(
        f"the Jira grant does not cover {shown!r} (it covers: {granted}); sign in again and pick that site "
        "on the consent page, or change the site URL"
    )


# ------------------------------------------------------------ reading answers


def _normal_url(url: str) -> str:
    return url.strip().rstrip("/").lower()


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _scrub(text: str, hidden: Sequence[str]) -> str:
    for value in hidden:
        if value:
            text = text.replace(value, "***")
    return text


def _refusal(response: httpx.Response, hidden: Sequence[str]) -> _Refusal:
    """The error code and description of an OAuth error answer, safe to show: the code only when it
    looks like one, the description printable, short, and without any of ``hidden``."""
    body = _json(response)
    error = description = ""
    if isinstance(body, dict):
        raw_error = body.get("error")
        if isinstance(raw_error, str) and _ERROR_CODE.fullmatch(raw_error):
            error = raw_error
        raw = body.get("error_description", body.get("message"))
        if isinstance(raw, str):
            description = "".join(c for c in _scrub(raw, hidden) if c.isprintable())[:200]
    return _Refusal(response.status_code, error, description)


def _exchange_refused(refusal: _Refusal) -> OAuthFlowError:
    """Which request field to fix, and how, for a refused code exchange."""
    if refusal.status == 429 or refusal.status >= 500:
        return OAuthFlowError(
            "code",
            f"Atlassian's token endpoint failed ({refusal.said()}); sign in again later",
            "PROVIDER_UNAVAILABLE",
        )
    if refusal.status == 401 or refusal.error in _APP_ERRORS:
        return OAuthFlowError(
            "client_id",
            f"Atlassian does not accept this server's OAuth app ({refusal.said()}): {_SETTINGS}",
            "OAUTH_EXCHANGE_FAILED",
        )
    if "redirect" in refusal.description.lower():
        return OAuthFlowError(
            "redirect_uri",
            f"Atlassian did not accept the redirect URI ({refusal.said()}): it must be the app's callback URL",
            "OAUTH_EXCHANGE_FAILED",
        )
    if refusal.error == "invalid_grant":
        return OAuthFlowError(
            "code",
            f"Atlassian did not accept the authorization code ({refusal.said()}): it expired or was used "
            "already; sign in again",
            "OAUTH_EXCHANGE_FAILED",
        )
    return OAuthFlowError(
        "code", f"Atlassian refused the code exchange ({refusal.said()}); sign in again", "OAUTH_EXCHANGE_FAILED"
    )


def _refresh_refused(refusal: _Refusal) -> Exception:
    """invalid_grant (Atlassian's 403 for a dead, rotated-away or revoked refresh token) means only a
    new sign-in helps; a server-side failure is worth a retry; anything else is this app's fault."""
    if refusal.status == 429 or refusal.status >= 500:
        return JiraOAuthUnavailable(
            f"Atlassian's token endpoint failed refreshing the Jira token ({refusal.said()}); retry"
        )
    if refusal.error == "invalid_grant" or (refusal.status == 403 and refusal.error not in _APP_ERRORS):
        return GrantRevoked(
            f"Atlassian no longer accepts the Jira grant ({refusal.said()}): it was revoked, or unused for 90 "
            "days, or its refresh token was replaced; sign in to Jira again"
        )
    if 400 <= refusal.status < 500:
        return JiraOAuthAppRejected(
            f"Atlassian refused this server's OAuth app refreshing the Jira token ({refusal.said()}): {_SETTINGS}"
        )
    return JiraResponseError(f"Atlassian's token endpoint answered a Jira refresh with {refusal.status}")


def _text(body: dict[str, Any], key: str, *, spaces: bool) -> str | None:
    """``body[key]`` when it is 1-4096 printable characters (no whitespace unless ``spaces``)."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_VALUE or not value.isprintable():
        raise _BadAnswer(f"with a {key} value that is not 1-{MAX_VALUE} printable characters")
    if not spaces and any(c.isspace() for c in value):
        raise _BadAnswer(f"with a {key} value that has spaces in it")
    return value


def _token_answer(response: httpx.Response) -> _TokenAnswer:
    body = _json(response)
    if not isinstance(body, dict):
        raise _BadAnswer("with a body that is not a JSON object")
    access = _text(body, "access_token", spaces=False)
    if access is None:
        raise _BadAnswer("without an access_token")
    refresh = _text(body, "refresh_token", spaces=False) or ""
    token_type = body.get("token_type")
    if token_type is not None and (not isinstance(token_type, str) or token_type.lower() != "bearer"):
        raise _BadAnswer("with a token_type other than Bearer")
    expires_in = body.get("expires_in")
    if not isinstance(expires_in, int) or isinstance(expires_in, bool) or not 0 < expires_in <= MAX_EXPIRES_IN:
        raise _BadAnswer(f"without an expires_in of 1-{MAX_EXPIRES_IN} seconds")
    scope = body.get("scope")
    if scope == "":
        scopes: tuple[str, ...] | None = ()
    else:
        text = _text(body, "scope", spaces=True)
        scopes = tuple(text.split()) if text is not None else None
    return _TokenAnswer(access, refresh, expires_in, scopes)


def _site_list(body: object) -> list[JiraSite]:
    if not isinstance(body, list):
        raise _BadAnswer("not a JSON list")
    if len(body) > MAX_SITES:
        raise _BadAnswer(f"more than {MAX_SITES} sites")
    return [_site(index, item) for index, item in enumerate(body)]


def _site(index: int, item: object) -> JiraSite:
    where = f"site {index}"
    if not isinstance(item, dict):
        raise _BadAnswer(f"{where} is not an object")
    cloud_id = item.get("id")
    if not isinstance(cloud_id, str) or not CLOUD_ID.fullmatch(cloud_id):
        raise _BadAnswer(f"{where} has no id of 1-128 letters, digits or '-'")
    url = item.get("url")
    if not isinstance(url, str) or not 0 < len(url) <= MAX_VALUE or not url.isprintable():
        raise _BadAnswer(f"{where} has no url string")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise _BadAnswer(f"{where} has a url that is not an http(s) site address")
    name = item.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_VALUE or not name.isprintable():
        raise _BadAnswer(f"{where} has a name that is not printable text")
    scopes = item.get("scopes", [])
    if not isinstance(scopes, list) or not all(
        isinstance(s, str) and 0 < len(s) <= MAX_VALUE and s.isprintable() for s in scopes
    ):
        raise _BadAnswer(f"{where} has scopes that are not a list of strings")
    return JiraSite(cloud_id, name, url.strip().rstrip("/"), tuple(scopes))


__all__ = ["SCOPES", "JiraOAuth", "JiraSite", "site_for"]
