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

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import httpx

from server.integrations.credentials import OAuthTokens
from server.integrations.jira.errors import (
    JiraError,
    JiraOAuthAppRejected,
    JiraOAuthUnavailable,
    JiraResponseError,
    JiraSiteNotGranted,
    http_error,
)
from server.integrations.jira.token_answers import (
    BadAnswer,
    JiraSite,
    Refusal,
    read_json,
    refusal,
    site_list,
    token_answer,
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

# The token endpoint's words for "this app (client id, secret) is not accepted".
_APP_ERRORS = frozenset({"invalid_client", "unauthorized_client", "access_denied", "unsupported_grant_type"})
_SETTINGS = "check JIRA_OAUTH_CLIENT_ID and JIRA_OAUTH_CLIENT_SECRET"


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
                raise _exchange_refused(refusal(response, hidden))
            try:
                answer = token_answer(response)
            except BadAnswer as exc:
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
            raise _refresh_refused(refusal(response, hidden))
        try:
            answer = token_answer(response)
        except BadAnswer as exc:
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
            refused = refusal(response, (access_token, self._app.client_secret))
            if response.status_code == 429 or response.status_code >= 500:
                raise JiraOAuthUnavailable(f"Atlassian answered {refused.said()} for GET {RESOURCES_PATH}")
            said = tuple(part for part in (refused.error, refused.description) if part)
            raise http_error(response.status_code, said, "GET", RESOURCES_PATH)
        try:
            return site_list(read_json(response))
        except BadAnswer as exc:
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


def _exchange_refused(refused: Refusal) -> OAuthFlowError:
    """Which request field to fix, and how, for a refused code exchange."""
    if refused.status == 429 or refused.status >= 500:
        return OAuthFlowError(
            "code",
            f"Atlassian's token endpoint failed ({refused.said()}); sign in again later",
            "PROVIDER_UNAVAILABLE",
        )
    if refused.status == 401 or refused.error in _APP_ERRORS:
        return OAuthFlowError(
            "client_id",
            f"Atlassian does not accept this server's OAuth app ({refused.said()}): {_SETTINGS}",
            "OAUTH_EXCHANGE_FAILED",
        )
    if "redirect" in refused.description.lower():
        return OAuthFlowError(
            "redirect_uri",
            f"Atlassian did not accept the redirect URI ({refused.said()}): it must be the app's callback URL",
            "OAUTH_EXCHANGE_FAILED",
        )
    if refused.error == "invalid_grant":
        return OAuthFlowError(
            "code",
            f"Atlassian did not accept the authorization code ({refused.said()}): it expired or was used "
            "already; sign in again",
            "OAUTH_EXCHANGE_FAILED",
        )
    return OAuthFlowError(
        "code", f"Atlassian refused the code exchange ({refused.said()}); sign in again", "OAUTH_EXCHANGE_FAILED"
    )


def _refresh_refused(refused: Refusal) -> Exception:
    """invalid_grant (Atlassian's 403 for a dead, rotated-away or revoked refresh token) means only a
    new sign-in helps; a server-side failure is worth a retry; anything else is this app's fault."""
    if refused.status == 429 or refused.status >= 500:
        return JiraOAuthUnavailable(
            f"Atlassian's token endpoint failed refreshing the Jira token ({refused.said()}); retry"
        )
    if refused.error == "invalid_grant" or (refused.status == 403 and refused.error not in _APP_ERRORS):
        return GrantRevoked(
            f"Atlassian no longer accepts the Jira grant ({refused.said()}): it was revoked, or unused for 90 "
            "days, or its refresh token was replaced; sign in to Jira again"
        )
    if 400 <= refused.status < 500:
        return JiraOAuthAppRejected(
            f"Atlassian refused this server's OAuth app refreshing the Jira token ({refused.said()}): {_SETTINGS}"
        )
    return JiraResponseError(f"Atlassian's token endpoint answered a Jira refresh with {refused.status}")


__all__ = ["SCOPES", "JiraOAuth", "JiraSite", "site_for"]
