"""Async client for Jira Cloud (platform REST v3 and Agile 1.0) over httpx.

Two hosts (§1, §2): the site (``https://{site}.atlassian.net``) with API-token basic auth
``email:api_token``, or the gateway ``https://api.atlassian.com/ex/jira/{cloudId}`` with whatever
``httpx.Auth`` the caller gives (OAuth's ``OAuthAuth``, which refreshes itself, or a Bearer token).
Every path (``/rest/api/3/…``, ``/rest/agile/1.0/…``) is the same on both, so callers do not care
which; only ``/_edge/tenant_info`` is site-only, and a gateway client knows its ``cloud_id`` already.
At the gateway a 401 ``scope does not match`` is a missing scope (``JiraScopeError``) and the
gateway's own 404 is a site outside the grant (``JiraSiteUnreachable``).
Every run starts with ``myself()``: an anonymous caller gets 200s with empty data, so a 200 without
an ``accountId`` is an error, not an empty site.

Retry rules (§5): a 429 was not processed, so it is resent unchanged for any method after
``Retry-After`` (else until ``X-RateLimit-Reset``, else backoff); 5xx, timeouts and connection errors
are retried only for reads (GET, or a read-only POST that says so), with backoff 1, 2, 4 … ≤60 s and
full jitter; any other 4xx is final. ``X-RateLimit-NearLimit`` slows the next request down; at most
``max_concurrency`` requests are in flight per client (the facts advise ≤10 per site).

Paging: ``offset_pages`` advances by the items received (the server caps ``maxResults`` silently,
V6) and stops on ``isLast``, on ``total``, or on an empty page (bare arrays have neither);
``search_pages`` follows ``nextPageToken`` of ``/rest/api/3/search/jql`` with explicit ``fields``
and bounded JQL (the old ``/search`` answers 410); a field list too long for a URL (a site's custom
fields can number hundreds) goes in a POST body of the same names instead.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from server.integrations.clock import Clock, SystemClock
from server.integrations.jira.errors import (
    JiraAnonymous,
    JiraError,
    JiraHTTPError,
    JiraRateLimited,
    JiraResponseError,
    JiraServerError,
    JiraSiteUnreachable,
    JiraTransportError,
    http_error,
)
from server.integrations.jira.times import parse_datetime
from server.integrations.json_body import json_body

GATEWAY_URL = "https://api.atlassian.com"
SEARCH_PATH = "/rest/api/3/search/jql"
SEARCH_MAX_RESULTS = 5000
# A longer ``fields`` list is sent in a POST body (search) or replaced by ``*all`` (one issue's GET):
# URLs of many kilobytes are refused by proxies and front doors before Jira sees them.
MAX_FIELDS_IN_URL = 2000
# A cloud id goes into the URL path: one safe segment (they are UUIDs), never "/", "..", "?" or "%".
CLOUD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,127}")
Params = Mapping[str, str | int | bool | Sequence[str]]


@dataclass
class ClientStats:
    api_calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    near_limit: int = 0
    waited_seconds: float = 0.0


@dataclass(frozen=True)
class RateLimitState:
    """What the last response said about the budget (all optional: Jira sends them selectively)."""

    limit: int | None
    remaining: int | None
    reset: datetime | None
    reason: str | None
    near_limit: bool


@dataclass(frozen=True)
class Myself:
    account_id: str
    display_name: str | None
    email: str | None
    time_zone: str | None
    account_type: str | None


@dataclass(frozen=True)
class OffsetPage:
    values: list[Any]
    start_at: int
    next_start: int  # where the next page starts: ``start_at`` plus the items received
    total: int | None
    is_last: bool


@dataclass(frozen=True)
class SearchPage:
    issues: list[dict[str, Any]]
    page_token: str | None  # the token this page was fetched with (None: the first page)
    next_page_token: str | None  # None on the last page; checkpoint it to resume


def basic_auth(email: str, api_token: str) -> httpx.Auth:
    """``Authorization: Basic base64(email:api_token)`` (V1)."""
    return httpx.BasicAuth(email, api_token)


def gateway_base_url(cloud_id: str, gateway: str = GATEWAY_URL) -> str:
    """``{gateway}/ex/jira/{cloud_id}``; ``ValueError`` for a cloud id that is not one path segment."""
    if not CLOUD_ID.fullmatch(cloud_id):
        raise ValueError("a Jira cloud id must be 1-128 letters, digits or '-' (a UUID)")
    return f"{gateway.rstrip('/')}/ex/jira/{cloud_id}"


def require_bounded(jql: str) -> str:
    """``/search/jql`` rejects JQL without a restriction (``ORDER BY`` alone, or nothing)."""
    text = jql.strip()
    if not text or text.upper().startswith("ORDER BY"):
        raise ValueError(f"JQL must be bounded (e.g. 'project = X ORDER BY id ASC'), got {jql!r}")
    return text


def fields_param(fields: Sequence[str]) -> str:
    """The ``fields`` of one issue's GET: the list, or ``*all`` (the GET's default) when too long."""
    joined = ",".join(fields)
    return joined if len(joined) <= MAX_FIELDS_IN_URL else "*all"


def _encode(params: Params | None) -> dict[str, str | list[str]]:
    encoded: dict[str, str | list[str]] = {}
    for key, value in (params or {}).items():
        if isinstance(value, bool):
            encoded[key] = "true" if value else "false"
        elif isinstance(value, str | int):
            encoded[key] = str(value)
        else:
            encoded[key] = [str(v) for v in value]
    return encoded


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except ValueError:
        return None


def _messages(response: httpx.Response) -> tuple[str, ...]:
    """What Jira said, from any of its error shapes (§8), trimmed."""
    found: list[str] = []
    try:
        body = json_body(response)
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        messages = body.get("errorMessages")
        if isinstance(messages, list):
            found += [m for m in messages if isinstance(m, str)]
        errors = body.get("errors")
        if isinstance(errors, dict):
            found += [f"{k}: {v}" for k, v in errors.items() if isinstance(v, str)]
        for key in ("detail", "message", "error_description", "error", "title"):  # problem+json, gateway
            if not found and isinstance(body.get(key), str):
                found.append(body[key])
    elif body is None:
        text = response.text.strip()
        if text and "<" not in text[:1]:  # plain text (the 401), not an HTML error page
            found.append(text.splitlines()[0])
    return tuple(m[:300] for m in found[:5])


def _gateway_not_found(response: httpx.Response) -> bool:
    """The gateway's own 404 (§2.2.6: Spring's ``{"timestamp","status","error","message","path"}``),
    not Jira's ErrorCollection 404 for an issue or project behind a known cloud id."""
    if response.status_code != 404:
        return False
    try:
        body = json_body(response)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    if not isinstance(body, dict) or "errorMessages" in body or "errors" in body:
        return False
    path = body.get("path")
    return (
        body.get("status") == 404
        and body.get("error") == "Not Found"
        and "timestamp" in body
        and (path is None or (isinstance(path, str) and path.startswith("/ex/jira/")))
    )


class JiraClient:
    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        max_retries: int = 6,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        max_wait: float = 300.0,
        max_concurrency: int = 10,
        near_limit_pause: float = 0.5,
        rng: random.Random | None = None,
        secrets: Sequence[str] = (),
        cloud_id: str | None = None,
    ) -> None:
        self._cloud_id = cloud_id
        self.auth = auth  # callers that ask the provider beside the API (accessible-resources) need its token
        self._clock = clock or SystemClock()
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_wait = max_wait
        self._near_limit_pause = near_limit_pause
        self._rng = rng or random.Random()
        self._slots = asyncio.Semaphore(max_concurrency)
        self._slow_down = False
        self._secrets = tuple(s for s in secrets if s)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"Accept": "application/json"},
            auth=auth,
            transport=transport,
        )
        self.stats = ClientStats()
        self.rate_limit: RateLimitState | None = None

    @classmethod
    def for_site(cls, site_url: str, email: str, api_token: str, **options: Any) -> JiraClient:
        """The site host with an API token (classic, unscoped)."""
        return cls(site_url, basic_auth(email, api_token), secrets=(api_token,), **options)

    @classmethod
    def for_gateway(
        cls, api_url: str, cloud_id: str, auth: httpx.Auth, *, timeout: float, **options: Any
    ) -> JiraClient:
        """The gateway ``{api_url}/ex/jira/{cloud_id}``, for OAuth 2.0 (3LO) tokens (rejected on the
        site host) and scoped or service-account tokens. ``ValueError`` for a malformed cloud id."""
        return cls(gateway_base_url(cloud_id, api_url), auth, timeout=timeout, cloud_id=cloud_id, **options)

    @property
    def cloud_id(self) -> str | None:
        """The site's cloud id when it is known without asking (gateway clients); None on the site
        host, where ``GET /_edge/tenant_info`` says it."""
        return self._cloud_id

    def __repr__(self) -> str:
        return f"JiraClient(base_url={str(self._http.base_url)!r}, auth='***')"

    async def __aenter__(self) -> JiraClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------ requests

    async def get(self, path: str, params: Params | None = None) -> Any:
        return await self.request("GET", path, params)

    async def request(
        self, method: str, path: str, params: Params | None = None, body: Any = None, *, read_only: bool | None = None
    ) -> Any:
        """One call, decoded JSON back. ``read_only`` (default: GET) lets 5xx and timeouts retry."""
        retry_failures = method == "GET" if read_only is None else read_only
        shown = path.split("?", 1)[0]
        attempt = 0
        while True:
            response: httpx.Response | None = None
            async with self._slots:
                if self._slow_down:
                    self._slow_down = False
                    await self._wait(self._near_limit_pause)
                self.stats.api_calls += 1
                try:
                    response = await self._http.request(method, path, params=_encode(params), json=body)
                except httpx.TimeoutException:
                    error: JiraError = JiraTransportError(f"Jira did not answer {method} {shown} in time")
                except httpx.TransportError as exc:
                    error = JiraTransportError(f"could not reach Jira for {method} {shown}: {type(exc).__name__}")
                else:
                    self._observe(response.headers)
                    if response.is_success:
                        return self._json(response, method, shown)
                    error = self._error(response, method, shown)
            if isinstance(error, JiraRateLimited):
                self.stats.rate_limited += 1
            elif not (retry_failures and isinstance(error, JiraServerError | JiraTransportError)):
                raise error
            attempt += 1
            if attempt > self._max_retries:
                raise error
            self.stats.retries += 1
            await self._wait(self._delay(response, attempt))

    async def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.stats.waited_seconds += seconds
        await self._clock.sleep(seconds)

    def _delay(self, response: httpx.Response | None, attempt: int) -> float:
        """``Retry-After`` when sent (seconds or an HTTP date), else the 429's ``X-RateLimit-Reset``,
        else exponential backoff with full jitter; never above ``max_wait``."""
        if response is not None:
            after = response.headers.get("retry-after")
            seconds = _int(after)
            if seconds is None and after:
                try:
                    seconds = int(parsedate_to_datetime(after).timestamp() - self._clock.time())
                except (TypeError, ValueError):
                    seconds = None
            if seconds is not None and seconds >= 0:
                return min(float(seconds) + self._rng.uniform(0, 0.1 * max(seconds, 1)), self._max_wait)
            reset = parse_datetime(response.headers.get("x-ratelimit-reset"))
            if response.status_code == 429 and reset is not None:
                until = reset.timestamp() - self._clock.time()
                if until > 0:
                    return min(until + self._rng.uniform(0, 1.0), self._max_wait)
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)

    def _observe(self, headers: httpx.Headers) -> None:
        near = headers.get("x-ratelimit-nearlimit", "").strip().lower() == "true"
        if near:
            self.stats.near_limit += 1
            self._slow_down = True
        names = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "ratelimit-reason")
        if near or any(name in headers for name in names):
            self.rate_limit = RateLimitState(
                _int(headers.get("x-ratelimit-limit")),
                _int(headers.get("x-ratelimit-remaining")),
                parse_datetime(headers.get("x-ratelimit-reset")),
                headers.get("ratelimit-reason"),
                near,
            )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _error(self, response: httpx.Response, method: str, path: str) -> JiraHTTPError:
        messages = tuple(self._scrub(m) for m in _messages(response))
        if self._cloud_id is not None and _gateway_not_found(response):
            return JiraSiteUnreachable(response.status_code, messages, method, path)
        return http_error(response.status_code, messages, method, path)

    @staticmethod
    def _json(response: httpx.Response, method: str, path: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return json_body(response)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise JiraResponseError(f"Jira answered {method} {path} with a body that is not JSON") from None

    # ------------------------------------------------------------ calls

    async def myself(self) -> Myself:
        """``GET /rest/api/3/myself``, the first call of every run: 200 *with an accountId* or an error."""
        body = await self.get("/rest/api/3/myself")
        account_id = body.get("accountId") if isinstance(body, dict) else None
        if not isinstance(account_id, str) or not account_id:
            raise JiraAnonymous(
                "Jira answered GET /rest/api/3/myself without an accountId: the credentials did not arrive "
                "(check the site URL, or a proxy that drops the Authorization header)"
            )
        assert isinstance(body, dict)

        def text(key: str) -> str | None:
            value = body.get(key)
            return value if isinstance(value, str) and value else None

        return Myself(account_id, text("displayName"), text("emailAddress"), text("timeZone"), text("accountType"))

    async def offset_pages(
        self,
        path: str,
        params: Params | None = None,
        *,
        container: str = "values",
        page_size: int = 50,
        start_at: int = 0,
    ) -> AsyncIterator[OffsetPage]:
        """Pages of a ``startAt``/``maxResults`` list (§3.1): PageBeans (``values``, ``isLast``), comment
        and worklog lists (``total`` only), Agile issue lists (``issues``) and bare arrays."""
        if page_size < 1 or start_at < 0:
            raise ValueError("page_size must be >= 1 and start_at >= 0")
        start = start_at
        while True:
            body = await self.get(path, {**(params or {}), "startAt": start, "maxResults": page_size})
            total: int | None = None
            if isinstance(body, list):  # bare array (users/search): no total, only an empty page ends it
                values: Any = body
                is_last = not body
            elif isinstance(body, dict):
                values = body.get(container)
                raw_total = body.get("total")
                total = raw_total if isinstance(raw_total, int) and not isinstance(raw_total, bool) else None
                if isinstance(body.get("isLast"), bool):
                    is_last = body["isLast"]
                else:
                    is_last = total is not None and start + (len(values) if isinstance(values, list) else 0) >= total
            else:
                values = None
                is_last = True
            if not isinstance(values, list):
                raise JiraResponseError(f"Jira's GET {path.split('?', 1)[0]} answer has no {container!r} list")
            page = OffsetPage(values, start, start + len(values), total, is_last or not values)
            yield page
            if page.is_last:
                return
            start = page.next_start

    async def search_pages(
        self,
        jql: str,
        fields: Sequence[str],
        *,
        page_size: int = 100,
        expand: Sequence[str] = (),
        page_token: str | None = None,
    ) -> AsyncIterator[SearchPage]:
        """Issues by JQL through ``/rest/api/3/search/jql`` (§3.2, V5). ``fields`` must be named (the
        default is ids only); the other parameters are resent unchanged with each ``nextPageToken``.
        There is no ``total``: the last page has ``isLast: true`` and no token. A long field list is
        sent as ``POST`` with a JSON body (``fields`` an array, ``expand`` still a comma string)."""
        bounded = require_bounded(jql)
        if not fields:
            raise ValueError("name the fields to read: /search/jql returns only issue ids by default")
        if not 1 <= page_size <= SEARCH_MAX_RESULTS:
            raise ValueError(f"page_size must be between 1 and {SEARCH_MAX_RESULTS}")
        params: dict[str, str | int] = {"jql": bounded, "fields": ",".join(fields), "maxResults": page_size}
        if expand:
            params["expand"] = ",".join(expand)
        post = len(str(params["fields"])) > MAX_FIELDS_IN_URL
        method = "POST" if post else "GET"
        token = page_token
        while True:
            if post:
                sent: dict[str, Any] = {**params, "fields": list(fields)} | ({"nextPageToken": token} if token else {})
                body = await self.request("POST", SEARCH_PATH, body=sent, read_only=True)
            else:
                body = await self.get(SEARCH_PATH, {**params, "nextPageToken": token} if token else params)
            issues = body.get("issues") if isinstance(body, dict) else None
            if not isinstance(issues, list) or not all(isinstance(i, dict) for i in issues):
                raise JiraResponseError(f"Jira's {method} {SEARCH_PATH} answer has no issues list")
            assert isinstance(body, dict)
            raw_next = body.get("nextPageToken")
            next_token = raw_next if isinstance(raw_next, str) and raw_next else None
            last = body.get("isLast") is True or next_token is None
            if not last and next_token == token:
                raise JiraResponseError(f"Jira's {method} {SEARCH_PATH} answered the same nextPageToken twice")
            yield SearchPage(issues, token, None if last else next_token)
            if last:
                return
            token = next_token

    async def approximate_count(self, jql: str) -> int:
        """``POST /rest/api/3/search/approximate-count`` (POST only; a read, so it may retry)."""
        path = "/rest/api/3/search/approximate-count"
        body = await self.request("POST", path, body={"jql": require_bounded(jql)}, read_only=True)
        count = body.get("count") if isinstance(body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool):
            raise JiraResponseError(f"Jira's POST {path} answer has no count")
        return count


__all__ = [
    "GATEWAY_URL",
    "JiraClient",
    "Myself",
    "OffsetPage",
    "SearchPage",
    "basic_auth",
    "fields_param",
    "gateway_base_url",
]
