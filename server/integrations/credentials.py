"""Credential strategies: what a project stored to reach a third party, and how a request is signed with it.

A plugin's client takes an ``httpx.Auth`` (httpx's auth-flow model), so the client never knows which
kind of credential it holds:

- ``ApiToken``: a long-lived token, sent as the plugin says (ClickUp sends it raw in
  ``Authorization``; another API may want ``Bearer`` or Basic);
- ``OAuthTokens``: an OAuth 2.0 token set (access token, refresh token, expiry, scopes, the account
  and site it belongs to). ``OAuthAuth`` refreshes it before it expires, and once on a 401, through
  the refresher the server gives it (single-flight across replicas, sealed before use).

Both are plain data, sealed with the rest of the settings; ``repr`` never shows a secret.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import httpx

# Refresh this long before the stated expiry: a token that expires in flight fails the request.
REFRESH_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class ApiToken:
    token: str = field(repr=False)

    kind = "api_token"

    @property
    def secret(self) -> str:
        """The one secret the wire shows masked (and accepts back masked to mean "keep it")."""
        return self.token

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "token": self.token}


@dataclass(frozen=True)
class OAuthTokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(default="", repr=False)
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    account_id: str = ""
    site_id: str = ""

    kind = "oauth"

    @property
    def secret(self) -> str:
        return self.access_token

    def expired(self, now: datetime | None = None) -> bool:
        if self.expires_at is None:
            return False
        return (now or datetime.now(UTC)) >= self.expires_at - REFRESH_MARGIN

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "scopes": list(self.scopes),
            "account_id": self.account_id,
            "site_id": self.site_id,
        }


Credentials = ApiToken | OAuthTokens


class AuthMethod(Enum):
    """How a project may authenticate to a third party (a plugin lists the ones it accepts)."""

    API_TOKEN = ApiToken.kind
    OAUTH = OAuthTokens.kind


def method_of(credentials: Credentials) -> AuthMethod:
    return AuthMethod(credentials.kind)


class CredentialsUnreadable(ValueError):
    """Stored credentials of an unknown kind or shape (never shows their values)."""


def credentials_from_dict(raw: Any) -> Credentials:
    if not isinstance(raw, dict):
        raise CredentialsUnreadable("credentials must be an object")
    kind = raw.get("kind")
    if kind == ApiToken.kind and isinstance(raw.get("token"), str):
        return ApiToken(raw["token"])
    if kind == OAuthTokens.kind and isinstance(raw.get("access_token"), str):
        expires = raw.get("expires_at")
        scopes = raw.get("scopes") or []
        if not (expires is None or isinstance(expires, str)) or not isinstance(scopes, list):
            raise CredentialsUnreadable("oauth credentials have a bad expiry or scopes")
        try:
            expires_at = datetime.fromisoformat(expires) if expires else None
        except ValueError:
            raise CredentialsUnreadable("oauth credentials have a bad expiry") from None
        return OAuthTokens(
            raw["access_token"],
            str(raw.get("refresh_token") or ""),
            expires_at,
            tuple(str(scope) for scope in scopes),
            str(raw.get("account_id") or ""),
            str(raw.get("site_id") or ""),
        )
    raise CredentialsUnreadable(f"unknown credential kind {str(kind)[:40]!r}")


def rate_key(credentials: Credentials) -> str:
    """A stable, non-secret name for "whoever these credentials act as" (rate limiters are per token)."""
    return hashlib.sha256(credentials.secret.encode()).hexdigest()[:24]


class HeaderAuth(httpx.Auth):
    """A fixed ``Authorization`` value: an API token, raw or with the scheme the API wants."""

    def __init__(self, value: str) -> None:
        self._value = value

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = self._value
        yield request


# A stale token set in, a fresh one out: already persisted when it returns (the refresh token may
# be single use, so a set that is used before it is sealed could be lost with the process).
Refresher = Callable[[OAuthTokens], Awaitable[OAuthTokens]]


class OAuthAuth(httpx.Auth):
    """``Bearer`` with an OAuth token set that refreshes itself.

    Refreshes before sending when the token is (about to be) expired, and once more when the API
    answers 401 anyway (revoked early, clock skew). One refresh at a time per set: concurrent
    requests wait for it rather than spend the single-use refresh token twice.
    """

    def __init__(self, tokens: OAuthTokens, refresher: Refresher | None = None) -> None:
        self.tokens = tokens
        self._refresher = refresher
        self._lock = asyncio.Lock()

    def _can_refresh(self) -> bool:
        return self._refresher is not None and bool(self.tokens.refresh_token)

    async def _refresh(self, stale: OAuthTokens) -> None:
        async with self._lock:
            if self.tokens is not stale:  # another request refreshed it meanwhile
                return
            assert self._refresher is not None
            fresh = await self._refresher(stale)
            if not fresh.refresh_token:  # providers that do not rotate it keep the old one valid
                fresh = replace(fresh, refresh_token=stale.refresh_token)
            self.tokens = fresh

    def _sign(self, request: httpx.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.tokens.access_token}"

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self.tokens.expired() and self._can_refresh():
            await self._refresh(self.tokens)
        used = self.tokens
        self._sign(request)
        response = yield request
        if response.status_code == 401 and self._can_refresh():
            await self._refresh(used)
            if self.tokens is not used:
                self._sign(request)
                yield request

    def sync_auth_flow(self, request: httpx.Request) -> Any:
        raise RuntimeError("OAuthAuth is for async clients")
