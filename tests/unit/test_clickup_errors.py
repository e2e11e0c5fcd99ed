"""ClickUp's refusals, typed and described with the method that was really sent (table-like)."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from graph.integration_store import IntegrationKey
from server.integrations.clickup.client import ClickUpClient
from server.integrations.clickup.errors import (
    ClickUpAuthError,
    ClickUpError,
    ClickUpHTTPError,
    ClickUpNotAuthorized,
    ClickUpNotFound,
    ClickUpResponseError,
    ClickUpServerError,
    ClickUpWebhookExists,
)
from server.integrations.clickup.rate_limit import RateLimiter
from server.live_sync import project_endpoint
from tests.unit.test_rate_limiter import FakeClock

TOKEN = "pk_4242_SECRETSECRETSECRET"
EXISTS = {"err": "Webhook configuration already exists", "ECODE": "WEBHOOK_003"}


def client_for(response: httpx.Response) -> ClickUpClient:
    clock = FakeClock()
    return ClickUpClient(
        TOKEN,
        base_url="http://clickup.test/api/v2",
        transport=httpx.MockTransport(lambda request: response),
        clock=clock,
        limiter=RateLimiter(clock=clock),
        rng=random.Random(0),
        max_retries=0,
    )


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "error"),
    [
        ("POST", "/team/1/webhook", 400, EXISTS, ClickUpWebhookExists),
        ("POST", "/team/1/webhook", 400, {"err": "Webhook configuration already exists"}, ClickUpWebhookExists),
        ("POST", "/team/1/webhook", 400, {"err": "Something else", "ECODE": "WEBHOOK_003"}, ClickUpWebhookExists),
        ("POST", "/team/1/webhook", 400, {"err": "endpoint must be an http(s) URL", "ECODE": "WEBHOOK_001"}, None),
        ("POST", "/task/1/tag/x", 400, {"err": "Tag already exists", "ECODE": "TAG_001"}, None),
        ("PUT", "/webhook/abc", 401, {"err": "Team(s) not authorized", "ECODE": "OAUTH_023"}, ClickUpNotAuthorized),
        ("PUT", "/webhook/abc", 500, {"err": "Internal server error", "ECODE": "SHARD_001"}, ClickUpServerError),
        ("DELETE", "/webhook/abc", 404, {"err": "Webhook not found"}, ClickUpNotFound),
        ("DELETE", "/webhook/abc", 401, {"err": "Token invalid", "ECODE": "OAUTH_025"}, ClickUpAuthError),
        ("GET", "/team", 502, {}, ClickUpServerError),
    ],
)
async def test_refusals_are_typed_and_name_the_real_method(
    method: str, path: str, status: int, body: dict[str, Any], error: type[ClickUpHTTPError] | None
) -> None:
    async with client_for(httpx.Response(status, json=body)) as client:
        with pytest.raises(ClickUpHTTPError) as raised:
            await client.request(method, path, body={} if method != "GET" else None)
    assert type(raised.value) is (error or ClickUpHTTPError)
    assert raised.value.method == method
    assert f"for {method} {path}" in str(raised.value)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "GET"])
async def test_a_body_that_is_not_json_names_the_real_method(method: str) -> None:
    async with client_for(httpx.Response(200, content=b"<html>")) as client:
        with pytest.raises(ClickUpResponseError) as raised:
            await client.request(method, "/webhook/abc")
    assert f"answered {method} /webhook/abc" in str(raised.value)
    assert isinstance(raised.value, ClickUpError)


KEY_A = IntegrationKey("org-a", "proj-a", "clickup")
KEY_B = IntegrationKey("org-a", "proj-b", "clickup")


@pytest.mark.parametrize(
    ("public_url", "prefix"),
    [
        ("https://hooks.example.com/webhooks/clickup", "https://hooks.example.com/webhooks/clickup?route="),
        ("http://127.0.0.1:8080/webhooks/clickup", "http://127.0.0.1:8080/webhooks/clickup?route="),
        (
            "https://hooks.example.com/webhooks/clickup?env=prod",
            "https://hooks.example.com/webhooks/clickup?env=prod&route=",
        ),
        (
            "https://hooks.example.com/webhooks/clickup?route=forged",
            "https://hooks.example.com/webhooks/clickup?route=",
        ),
    ],
)
def test_each_project_gets_its_own_stable_endpoint(public_url: str, prefix: str) -> None:
    a, b = project_endpoint(public_url, KEY_A), project_endpoint(public_url, KEY_B)
    assert a.startswith(prefix)
    assert b.startswith(prefix)
    assert a != b, "two projects of one ClickUp account must not share an endpoint (WEBHOOK_003)"
    assert project_endpoint(public_url, KEY_A) == a, "stable: a retry finds (adopts) the same webhook"
    assert all(word not in a for word in ("forged", "org-a", "proj-a")), "opaque, and not chosen by the caller"
