"""Async client for the ClickUp API v2 over httpx.

Retry rules: a 429 waits for ``X-RateLimit-Reset`` (+ jitter) and retries GETs; 5xx and
timeouts retry GETs with exponential backoff; any other 4xx is final. Every request first
takes a slot from the token's rate limiter.
"""

from __future__ import annotations

import functools
import json
import random
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import certifi
import httpx

from server.integrations.clickup.errors import (
    GRANT_GONE_CODES,
    ClickUpAuthError,
    ClickUpError,
    ClickUpHTTPError,
    ClickUpRateLimited,
    ClickUpResponseError,
    ClickUpServerError,
    ClickUpTransportError,
    http_error,
)
from server.integrations.clickup.models import Team, User, parse_teams, parse_user
from server.integrations.clickup.rate_limit import AnyRateLimiter, RateLimiter, RateLimitSnapshot
from server.integrations.clock import Clock, SystemClock
from server.integrations.credentials import ApiToken, Credentials, HeaderAuth, OAuthAuth, OAuthTokens
from server.integrations.json_body import json_body
from server.integrations.oauth import GrantRevoked

DEFAULT_BASE_URL = "https://api.clickup.com/api/v2"
Params = Mapping[str, str | int | bool | list[str]]


@dataclass
class ClientStats:
    api_calls: int = 0
    retries: int = 0
    rate_limited: int = 0


def clickup_auth(credentials: Credentials) -> httpx.Auth:
    """Personal tokens go raw in ``Authorization`` (``pk_...``); OAuth access tokens as ``Bearer``
    (ClickUp's OAuth tokens do not expire, so there is nothing to refresh)."""
    if isinstance(credentials, OAuthTokens):
        return OAuthAuth(credentials)
    return HeaderAuth(credentials.token)


def _encode(params: Params | None) -> dict[str, str | list[str]]:
    encoded: dict[str, str | list[str]] = {}
    for key, value in (params or {}).items():
        if isinstance(value, bool):
            encoded[key] = "true" if value else "false"
        elif isinstance(value, list):
            encoded[key] = [str(v) for v in value]
        else:
            encoded[key] = str(value)
    return encoded


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verified TLS context for every client: building one loads the CA bundle (~17 ms), which
    a client made per webhook event would otherwise pay each time."""
    return ssl.create_default_context(cafile=certifi.where())


class ClickUpClient:
    def __init__(
        self,
        credentials: Credentials | str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 30.0,
        limiter: AnyRateLimiter | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        max_retries: int = 4,
        max_rate_limit_retries: int = 6,
        backoff_base: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock or SystemClock()
        self._oauth = isinstance(credentials, OAuthTokens)
        self._limiter = limiter or RateLimiter(clock=self._clock)
        self._max_retries = max_retries
        self._max_rate_limit_retries = max_rate_limit_retries
        self._backoff_base = backoff_base
        self._rng = rng or random.Random()
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Accept": "application/json"},
            auth=clickup_auth(ApiToken(credentials) if isinstance(credentials, str) else credentials),
            transport=transport,
            verify=tls_context(),
        )
        self.stats = ClientStats()

    def __repr__(self) -> str:
        return f"ClickUpClient(base_url={str(self._http.base_url)!r}, token='***')"

    @property
    def limiter(self) -> AnyRateLimiter:
        return self._limiter

    @property
    def rate_limit(self) -> RateLimitSnapshot | None:
        return self._limiter.last

    async def __aenter__(self) -> ClickUpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _backoff(self, attempt: int) -> None:
        delay = self._backoff_base * (2**attempt)
        await self._clock.sleep(delay + self._rng.uniform(0, delay / 2))

    async def get(self, path: str, params: Params | None = None) -> Any:
        """GET ``path`` and return the decoded JSON body, retrying what is safe to retry."""
        return await self.request("GET", path, params)

    async def request(self, method: str, path: str, params: Params | None = None, body: Any = None) -> Any:
        """One call. A 429 was not processed, so it is retried for any method after the reset;
        5xx and timeouts are retried only for GET (a write may have taken effect)."""
        failures = 0
        rate_limited = 0
        while True:
            await self._limiter.acquire()
            self.stats.api_calls += 1
            try:
                response = await self._http.request(method, path, params=_encode(params), json=body)
            except httpx.TimeoutException:
                self._limiter.release()
                error: ClickUpError = ClickUpTransportError(f"ClickUp did not answer {method} {path} in time")
            except httpx.TransportError as exc:
                self._limiter.release()
                error = ClickUpTransportError(f"could not reach ClickUp for {method} {path}: {type(exc).__name__}")
            else:
                if response.status_code == 429:
                    self._limiter.exhausted(response.headers)
                    self.stats.rate_limited += 1
                    rate_limited += 1
                    if rate_limited > self._max_rate_limit_retries:
                        raise self._error(response, method, path)
                    continue  # acquire() now waits for the reset
                self._limiter.observe(response.headers)
                if response.is_success:
                    return self._json(response, method, path)
                error = self._error(response, method, path)
                if self._oauth and isinstance(error, ClickUpAuthError) and error.ecode in GRANT_GONE_CODES:
                    raise GrantRevoked(
                        f"ClickUp says the OAuth grant is gone ({error.ecode}); sign in again"
                    ) from error
                if not isinstance(error, ClickUpServerError):
                    raise error
            if method != "GET":
                raise error
            failures += 1
            if failures > self._max_retries:
                raise error
            self.stats.retries += 1
            await self._backoff(failures - 1)

    @staticmethod
    def _json(response: httpx.Response, method: str, path: str) -> Any:
        try:
            return json_body(response)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ClickUpResponseError(f"ClickUp answered {method} {path} with a body that is not JSON") from None

    @staticmethod
    def _error(response: httpx.Response, method: str, path: str) -> ClickUpHTTPError:
        ecode, err = "", ""
        try:
            body = json_body(response)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict):
            ecode = str(body.get("ECODE") or "")[:64]
            err = str(body.get("err") or body.get("error") or "")[:300]
        error = http_error(response.status_code, ecode, err, method, path)
        if isinstance(error, ClickUpRateLimited):
            error.err = error.err or "Rate limit reached"
        return error

    async def get_user(self) -> User:
        return parse_user(await self.get("/user"))

    async def get_teams(self) -> list[Team]:
        return parse_teams(await self.get("/team"))


def items_of(body: Any, key: str, path: str) -> list[dict[str, Any]]:
    """The objects of a listing's ``key`` (hierarchy listings are not paged); a body without the list
    is ClickUp answering something else, not an empty listing."""
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ClickUpResponseError(f"ClickUp's answer to GET {path} has no '{key}' list")
    return [item for item in items if isinstance(item, dict)]


__all__ = ["DEFAULT_BASE_URL", "ClickUpClient", "ClickUpHTTPError", "clickup_auth", "items_of"]
