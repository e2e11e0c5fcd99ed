from __future__ import annotations

import random

import httpx
import pytest

from server.integrations.clickup.client import ClickUpClient
from server.integrations.clickup.errors import (
    ClickUpAuthError,
    ClickUpHTTPError,
    ClickUpNotAuthorized,
    ClickUpNotFound,
    ClickUpResponseError,
    ClickUpServerError,
    ClickUpTransportError,
)
from server.integrations.clickup.live_sync import reactivate_webhook
from server.integrations.clickup.rate_limit import RateLimiter
from server.integrations.credentials import ApiToken, OAuthTokens
from tests.unit.test_rate_limiter import FakeClock

TOKEN = "pk_4242_SECRETSECRETSECRET"


def client_for(handler: object, clock: FakeClock, *, oauth: bool = False) -> ClickUpClient:
    return ClickUpClient(
        OAuthTokens(TOKEN) if oauth else ApiToken(TOKEN),
        base_url="http://clickup.test/api/v2",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        clock=clock,
        limiter=RateLimiter(clock=clock),
        rng=random.Random(0),
    )


@pytest.mark.parametrize(("oauth", "expected"), [(False, TOKEN), (True, f"Bearer {TOKEN}")])
async def test_authorization_header_is_raw_for_personal_tokens_and_bearer_for_oauth(oauth: bool, expected: str) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"user": {"id": 1, "username": "a", "email": "a@x"}})

    async with client_for(handler, FakeClock(), oauth=oauth) as client:
        user = await client.get_user()
    assert seen == [expected]
    assert user.id == 1


async def test_query_flags_are_sent_as_clickup_expects() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"tasks": []})

    async with client_for(handler, FakeClock()) as client:
        await client.get(
            "/team/1/task",
            {
                "subtasks": True,
                "include_closed": False,
                "page": 0,
                "statuses[]": ["to do", "in progress"],
                "date_updated_gt": 1718000000000,
            },
        )
    params = seen[0].params
    assert params["subtasks"] == "true"
    assert params["include_closed"] == "false"
    assert params.get_list("statuses[]") == ["to do", "in progress"]
    assert params["date_updated_gt"] == "1718000000000"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"err": "Token invalid", "ECODE": "OAUTH_025"}, ClickUpAuthError),
        (401, {"err": "Authorization header required", "ECODE": "OAUTH_017"}, ClickUpAuthError),
        (401, {"err": "Team(s) not authorized", "ECODE": "OAUTH_023"}, ClickUpNotAuthorized),
        (401, {"err": "Team not authorized", "ECODE": "OAUTH_027"}, ClickUpNotAuthorized),
        (404, {"err": "Task not found", "ECODE": "ITEM_015"}, ClickUpNotFound),
        (400, {"err": "Parent not child of list", "ECODE": "ITEM_137"}, ClickUpHTTPError),
    ],
)
async def test_4xx_are_typed_and_never_retried(status: int, body: dict[str, str], error: type[Exception]) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, json=body)

    async with client_for(handler, FakeClock()) as client:
        with pytest.raises(error) as info:
            await client.get("/task/abc")
    assert calls == 1
    assert TOKEN not in str(info.value)
    assert body["ECODE"] in str(info.value)


async def test_5xx_is_retried_with_backoff_then_succeeds() -> None:
    clock = FakeClock()
    answers = [502, 500, 200]

    def handler(request: httpx.Request) -> httpx.Response:
        status = answers.pop(0)
        return httpx.Response(status, json={"ok": True} if status == 200 else {"err": "boom", "ECODE": "X"})

    async with client_for(handler, clock) as client:
        assert await client.get("/team") == {"ok": True}
    assert client.stats.retries == 2
    assert len(clock.sleeps) == 2
    assert clock.sleeps[1] > clock.sleeps[0]


async def test_5xx_that_persists_fails_after_bounded_retries() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, json={"err": "down"})

    async with client_for(handler, FakeClock()) as client:
        with pytest.raises(ClickUpServerError):
            await client.get("/team")
    assert calls == 5  # first try + 4 retries


async def test_timeouts_are_retried_then_reported_as_transport_errors() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadTimeout("slow", request=request)

    async with client_for(handler, FakeClock()) as client:
        with pytest.raises(ClickUpTransportError, match="did not answer"):
            await client.get("/team")
    assert calls == 5


async def test_non_json_success_body_is_a_response_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<html>maintenance</html>")

    async with client_for(handler, FakeClock()) as client:
        with pytest.raises(ClickUpResponseError):
            await client.get("/team")


async def test_unexpected_shapes_are_rejected_clearly() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"teams": "nope"} if request.url.path.endswith("/team") else {"user": None})

    async with client_for(handler, FakeClock()) as client:
        with pytest.raises(ClickUpResponseError, match="no teams list"):
            await client.get_teams()
        with pytest.raises(ClickUpResponseError, match="no user object"):
            await client.get_user()


def test_repr_hides_the_token() -> None:
    client = ClickUpClient(TOKEN, base_url="http://clickup.test/api/v2")
    assert TOKEN not in repr(client)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"id": "w1", "webhook": {"id": "w1", "health": {"status": "active"}, "secret": "NEWSECRET"}}, "NEWSECRET"),
        ({"id": "w1", "webhook": {"id": "w1", "health": {"status": "active"}}}, None),
        ({"id": "w1", "webhook": {"id": "w1", "secret": ""}}, None),
        ({"id": "w1", "webhook": "not an object"}, None),
        ([], None),
    ],
)
async def test_reactivating_a_webhook_returns_the_secret_clickup_answers_with(
    answer: object, expected: str | None
) -> None:
    """The update's answer is the create envelope: a secret in it is the one deliveries carry from now."""
    sent: list[tuple[str, str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((request.method, request.url.path, request.content))
        return httpx.Response(200, json=answer)

    async with client_for(handler, FakeClock()) as client:
        assert await reactivate_webhook(client, "w1") == expected
    assert sent == [("PUT", "/api/v2/webhook/w1", b'{"status":"active"}')]
