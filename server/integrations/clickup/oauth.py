"""ClickUp's sign-in: the consent page, and the code exchanged for a token.

ClickUp's OAuth (``../shared/clickup-api.md`` §1.2) has no scopes, no PKCE, no refresh token and
no expiry: the consent page lets the user pick the workspaces the grant covers, and the token is
then used as ``Bearer``. The spec puts ``client_id``, ``client_secret`` and ``code`` in the query
of ``POST /oauth/token``; that is what we send. The secret never leaves this module's requests.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import httpx

from server.integrations.credentials import OAuthTokens
from server.integrations.oauth import OAuthApp, OAuthFlowError, OAuthProvider

DEFAULT_AUTHORIZE_URL = "https://app.clickup.com/api"

# What each documented flow error means for the caller, by the request field to fix.
_FLOW_ERRORS = {
    "OAUTH_010": (
        "client_id",
        "ClickUp does not know this OAuth app (OAUTH_010): check CLICKUP_OAUTH_CLIENT_ID and its secret",
    ),
    "OAUTH_017": ("redirect_uri", "ClickUp needs a redirect URI (OAUTH_017)"),
    "OAUTH_007": ("redirect_uri", "the redirect URI is not registered for the ClickUp OAuth app (OAUTH_007)"),
}


class ClickUpOAuth(OAuthProvider):
    pkce = False  # ClickUp documents none: the client secret stays on the server instead

    def __init__(
        self,
        app: OAuthApp,
        *,
        authorize_url: str = DEFAULT_AUTHORIZE_URL,
        api_base_url: str,
        timeout_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._app = app
        self._authorize_url = authorize_url
        self._token_url = api_base_url.rstrip("/") + "/oauth/token"
        self._timeout = timeout_seconds
        self._transport = transport

    def __repr__(self) -> str:
        return f"ClickUpOAuth(client_id={self._app.client_id!r})"

    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str | None) -> str:
        query = urlencode({"client_id": self._app.client_id, "redirect_uri": redirect_uri, "state": state})
        return f"{self._authorize_url}?{query}"

    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None) -> OAuthTokens:
        params = {"client_id": self._app.client_id, "client_secret": self._app.client_secret, "code": code}
        async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as http:
            try:
                response = await http.post(self._token_url, params=params)
            except httpx.HTTPError as exc:
                raise OAuthFlowError(
                    "code", f"could not reach ClickUp's token endpoint: {type(exc).__name__}", "PROVIDER_UNAVAILABLE"
                ) from None
        body = _json(response)
        if response.is_success:
            token = body.get("access_token") if isinstance(body, dict) else None
            if not isinstance(token, str) or not token or not token.isprintable() or len(token) > 4096:
                raise OAuthFlowError("code", "ClickUp's token endpoint answered without a usable access_token")
            return OAuthTokens(token)
        ecode = str(body.get("ECODE") or "")[:64] if isinstance(body, dict) else ""
        field, message = _FLOW_ERRORS.get(
            ecode,
            ("code", f"ClickUp did not accept the authorization code ({ecode or response.status_code}); sign in again"),
        )
        raise OAuthFlowError(field, message, "OAUTH_EXCHANGE_FAILED")


def _json(response: httpx.Response) -> object:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
