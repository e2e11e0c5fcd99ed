"""The Tracker HTTP API as the plugin needs it: signed requests, paged lists, typed errors.

The client takes an ``httpx.Auth`` (an API token as ``Bearer``, or an OAuth token set that
refreshes itself): it never knows which credential it holds.

Errors::

    TrackerError                 anything that stops a call
     +-- TrackerAuthError        401: the token is wrong or revoked
     +-- TrackerNotFound         404: the object is gone
     +-- TrackerTransportError   the API could not be reached
     +-- TrackerOAuthError       a refresh was refused (not for a dead grant) (``oauth.py``)

A dead grant is not a ``TrackerError``: the refresh raises ``GrantRevoked``, which the server
answers by pausing the integration until a new sign-in.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any

import httpx

PER_PAGE = 50


class TrackerError(Exception):
    pass


class TrackerAuthError(TrackerError):
    pass


class TrackerNotFound(TrackerError):
    pass


class TrackerTransportError(TrackerError):
    pass


class TrackerClient:
    def __init__(self, base_url: str, auth: httpx.Auth, timeout: float = 10.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), auth=auth, timeout=timeout)
        self.api_calls = 0

    async def __aenter__(self) -> TrackerClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self._http.aclose()

    async def request(self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
        self.api_calls += 1
        try:
            response = await self._http.request(method, f"/api{path}", params=params, json=body)
        except httpx.HTTPError as exc:
            raise TrackerTransportError(f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code == 401:
            raise TrackerAuthError(f"{method} {path}: the token was refused")
        if response.status_code == 404:
            raise TrackerNotFound(f"{method} {path}: not found")
        if response.status_code >= 400:
            raise TrackerError(f"{method} {path}: HTTP {response.status_code}")
        return response.json() if response.content else None

    async def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.request("GET", path, params)
        if not isinstance(body, dict):
            raise TrackerError(f"GET {path}: the answer is not an object")
        return body

    async def pages(self, path: str, key: str, params: dict[str, Any] | None = None) -> AsyncIterator[list[Any]]:
        """Each page of a list, in order; a page that does not advance is an error, not a loop."""
        page: Any = 0
        while page is not None:
            body = await self.get(path, {**(params or {}), "page": page, "per_page": PER_PAGE})
            items = body.get(key)
            if not isinstance(items, list):
                raise TrackerError(f"GET {path}: the answer has no '{key}' list")
            yield [item for item in items if isinstance(item, dict)]
            following = body.get("next_page")
            if following is not None and (not isinstance(following, int) or following <= page):
                raise TrackerError(f"GET {path}: paging did not advance")
            page = following

    async def all(self, path: str, key: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return [item async for page in self.pages(path, key, params) for item in page]
