"""Tracker's sign-in and token refresh: Atlassian-style 3LO (``../shared/jira-api.md`` §2.2).

The consent page and the token endpoint take what Atlassian's do; Tracker also accepts a PKCE
(S256) challenge, so the provider sends one. Access tokens expire (an hour) and refresh tokens
rotate: ``refresh`` spends one and returns the new set, which the server seals before anyone uses
it. ``invalid_grant`` means the grant is gone (``GrantRevoked``); any other refusal is a
``TrackerOAuthError`` whose message holds no code, token or secret.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard
from urllib.parse import urlencode

import httpx

from server.integrations.credentials import OAuthTokens
from server.integrations.oauth import GrantRevoked, OAuthApp, OAuthFlowError, OAuthProvider
from tests.tracker.client import TrackerError

# offline_access: without it the token endpoint gives no refresh token (as Atlassian's).
SCOPES = ("read:tracker", "write:tracker", "offline_access")
_MAX_TOKEN = 4096


class TrackerOAuthError(TrackerError):
    """The token endpoint refused a refresh for a reason other than a dead grant, or was unreachable."""


class TrackerOAuth(OAuthProvider):
    pkce = True

    def __init__(self, app: OAuthApp, *, authorize_url: str, token_url: str, timeout_seconds: float = 10.0) -> None:
        self._app = app
        self._authorize_url = authorize_url
        self._token_url = token_url
        self._timeout = timeout_seconds

    def __repr__(self) -> str:
        return f"TrackerOAuth(client_id={self._app.client_id!r})"

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str | None) -> str:
        query = {
            "client_id": self._app.client_id,
            "scope": " ".join(SCOPES),
            "redirect_uri": redirect_uri,
            "state": state,
            "response_type": "code",
            "prompt": "consent",
        }
        if code_challenge is not None:
            query |= {"code_challenge": code_challenge, "code_challenge_method": "S256"}
        return f"{self._authorize_url}?{urlencode(query)}"

    async def _post(self, body: dict[str, str]) -> httpx.Response:
        body = {"client_id": self._app.client_id, "client_secret": self._app.client_secret, **body}
        async with httpx.AsyncClient(timeout=self._timeout) as http:
            return await http.post(self._token_url, json=body)

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None) -> OAuthTokens:
        body = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier is not None:
            body["code_verifier"] = code_verifier
        try:
            response = await self._post(body)
        except httpx.HTTPError as exc:
            raise OAuthFlowError(
                "code", f"could not reach Tracker's token endpoint: {type(exc).__name__}", "PROVIDER_UNAVAILABLE"
            ) from None
        answer = _json(response)
        if response.is_success:
            tokens = _tokens(answer)
            if tokens is None:
                raise OAuthFlowError("code", "Tracker's token endpoint answered without a usable token set")
            return tokens
        error = _error_code(answer)
        if response.status_code == 401:
            raise OAuthFlowError(
                "client_id",
                f"Tracker does not know this OAuth app ({error or 401}): check TRACKER_OAUTH_CLIENT_ID and its secret",
                "OAUTH_EXCHANGE_FAILED",
            )
        message = f"Tracker did not accept the authorization code ({error or response.status_code}); sign in again"
        raise OAuthFlowError("code", message, "OAUTH_EXCHANGE_FAILED")

    async def refresh(self, tokens: OAuthTokens) -> OAuthTokens:
        """The next token set; the refresh token spent here is retired (reusable only briefly)."""
        if not tokens.refresh_token:
            raise GrantRevoked("the Tracker grant has no refresh token; sign in again")
        try:
            response = await self._post({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
        except httpx.HTTPError as exc:
            raise TrackerOAuthError(f"could not reach Tracker's token endpoint: {type(exc).__name__}") from None
        answer = _json(response)
        error = _error_code(answer)
        if error == "invalid_grant":
            raise GrantRevoked("Tracker says the OAuth grant is gone (invalid_grant); sign in again")
        if not response.is_success:
            raise TrackerOAuthError(f"Tracker refused to refresh the tokens (HTTP {response.status_code}, {error})")
        fresh = _tokens(answer)
        if fresh is None:
            raise TrackerOAuthError("Tracker's token endpoint answered a refresh without a usable token set")
        return fresh


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _error_code(answer: Any) -> str:
    """The OAuth ``error`` word, bounded and printable (never a description, which may echo input)."""
    error = answer.get("error") if isinstance(answer, dict) else None
    return error[:64] if isinstance(error, str) and error.isprintable() else "no error code"


def _usable(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= _MAX_TOKEN and value.isprintable() and " " not in value


def _tokens(answer: Any) -> OAuthTokens | None:
    if not isinstance(answer, dict) or not _usable(answer.get("access_token")):
        return None
    refresh = answer.get("refresh_token")
    expires_in = answer.get("expires_in")
    scope = answer.get("scope")
    return OAuthTokens(
        answer["access_token"],
        refresh if _usable(refresh) else "",
        datetime.now(UTC) + timedelta(seconds=expires_in)
        if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0
        else None,
        tuple(scope.split()) if isinstance(scope, str) else (),
    )
