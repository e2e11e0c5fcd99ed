"""Credential strategies as httpx auth flows: API tokens as given, OAuth token sets that refresh."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from server.integrations.credentials import (
    ApiToken,
    CredentialsUnreadable,
    HeaderAuth,
    OAuthAuth,
    OAuthTokens,
    credentials_from_dict,
)

SOON = datetime.now(UTC) + timedelta(seconds=10)
LATER = datetime.now(UTC) + timedelta(hours=1)


class Api:
    """A stand-in API that accepts exactly the access tokens it was told are valid."""

    def __init__(self, valid: set[str]) -> None:
        self.valid = valid
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        header = request.headers.get("authorization", "")
        self.seen.append(header)
        return httpx.Response(200 if header.removeprefix("Bearer ") in self.valid else 401)


class Refresher:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.calls = 0
        self.grants = True  # False: the new token is refused as well

    async def __call__(self, stale: OAuthTokens) -> OAuthTokens:
        self.calls += 1
        await asyncio.sleep(0)  # let concurrent requests pile up behind the refresh
        fresh = f"access-{self.calls}"
        if self.grants:
            self.api.valid = {fresh}
        return OAuthTokens(fresh, "", LATER, stale.scopes, stale.account_id, stale.site_id)


async def get(auth: httpx.Auth, api: Api) -> int:
    async with httpx.AsyncClient(transport=httpx.MockTransport(api), auth=auth) as client:
        return (await client.get("https://api.test/x")).status_code


async def test_an_api_token_is_sent_as_the_plugin_says() -> None:
    api = Api({"pk_1"})
    assert await get(HeaderAuth("pk_1"), api) == 200
    assert api.seen == ["pk_1"]


async def test_an_expiring_token_is_refreshed_before_it_is_sent() -> None:
    api = Api({"old"})
    refresher = Refresher(api)
    auth = OAuthAuth(OAuthTokens("old", "refresh-1", SOON, ("read",), "acct"), refresher)
    assert await get(auth, api) == 200
    assert api.seen == ["Bearer access-1"]
    assert refresher.calls == 1
    assert auth.tokens.refresh_token == "refresh-1", "a provider that does not rotate it keeps the old one"
    assert auth.tokens.account_id == "acct"


async def test_a_401_refreshes_once_and_retries_once() -> None:
    api = Api(set())  # the stored token was revoked early
    refresher = Refresher(api)
    auth = OAuthAuth(OAuthTokens("revoked", "refresh-1", LATER), refresher)
    assert await get(auth, api) == 200
    assert api.seen == ["Bearer revoked", "Bearer access-1"]

    api.valid, refresher.grants = set(), False  # refused again after a refresh: no loop, the 401 comes back
    assert await get(auth, api) == 401
    assert api.seen[2:] == ["Bearer access-1", "Bearer access-2"]
    assert refresher.calls == 2


async def test_concurrent_requests_share_one_refresh() -> None:
    api = Api(set())
    refresher = Refresher(api)
    auth = OAuthAuth(OAuthTokens("old", "refresh-1", SOON), refresher)
    codes = await asyncio.gather(*(get(auth, api) for _ in range(5)))
    assert codes == [200] * 5
    assert refresher.calls == 1


async def test_without_a_refresh_token_nothing_is_refreshed() -> None:
    api = Api(set())
    refresher = Refresher(api)
    assert await get(OAuthAuth(OAuthTokens("old", "", SOON), refresher), api) == 401
    assert refresher.calls == 0


def test_no_secret_shows_in_a_repr() -> None:
    shown = repr(OAuthTokens("access-secret", "refresh-secret", None, ("s",), "acct")) + repr(ApiToken("pk_secret"))
    assert "secret" not in shown
    assert "acct" in shown


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {"kind": "password", "token": "x"},
        {"kind": "oauth"},
        {"kind": "oauth", "access_token": "a", "expires_at": "soon"},
    ],
)
def test_stored_credentials_of_an_unknown_shape_are_refused(raw: object) -> None:
    with pytest.raises(CredentialsUnreadable):
        credentials_from_dict(raw)


def test_credentials_round_trip_through_plain_data() -> None:
    for credentials in (ApiToken("pk_1"), OAuthTokens("a", "r", LATER, ("x", "y"), "acct", "site")):
        assert credentials_from_dict(credentials.to_dict()) == credentials
