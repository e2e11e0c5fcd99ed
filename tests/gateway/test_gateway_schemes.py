"""The gateway's routes by integration and scheme, served as in production in front of the real
server and Neo4j: a delivery through each scheme is stored, an integration without a scheme is a
JSON 404, and single-tenant secrets belong to one integration each.

Today's server takes deliveries for ``clickup`` only, so the route-keyed scheme is proven by
configuring ``clickup`` to use it here, with a webhook registered under the route key."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
import neo4j
import pytest

from devtools.neo4j_local import Connection
from server.integrations.base import Delivery, ParsedDelivery
from tests.conftest import RunningHub, RunningSandbox, Tokens, hub_with, server_env
from tests.gateway.support import GatewayServer, sign, task_body
from tests.gateway.test_gateway import drained, inbox_size, metric, stored_copies
from tests.plugins.dummy import DummyIntegration
from tests.sandbox import vectors as tv
from webhook_gateway.config import GatewayConfig
from webhook_gateway.schemes.defaults import DEFAULT_SCHEMES

ROUTE_SECRET = "route-keyed-secret"


@pytest.fixture(scope="module")
async def route_key(hub: RunningHub) -> str:
    """A webhook whose id is the route key (the bodies below carry it too, for today's server)."""
    key = f"route-{uuid.uuid4().hex[:12]}"
    await hub.server.webhooks.register("clickup", key, "gw-org", "gw-routed", "90120000", ROUTE_SECRET)
    await hub.server.webhooks.register("clickup", tv.TV_WEBHOOK_ID, "gw-org", "gw-project", "90120000", tv.TV_SECRET)
    return key


async def serve(
    hub: RunningHub, tokens: Tokens, tmp_path: Path, schemes: Mapping[str, str], secrets: Mapping[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    config = GatewayConfig(
        server_target=hub.target,
        server_token=tokens.gateway,
        spool_path=tmp_path / "spool.db",
        schemes=schemes,
        static_secrets=secrets,
    )
    with GatewayServer(config) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            yield client


@pytest.fixture
async def routed_gateway(
    hub: RunningHub, tokens: Tokens, tmp_path: Path, route_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in serve(hub, tokens, tmp_path, {"clickup": "hub-sha256-route"}, {}):
        yield client


@pytest.fixture
async def default_gateway(
    hub: RunningHub, tokens: Tokens, tmp_path: Path, route_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in serve(hub, tokens, tmp_path, {"clickup": "hex-hmac-body-id", "jira": "hub-sha256-route"}, {}):
        yield client


def hub_headers(name: str, secret: str, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", name: "sha256=" + sign(secret, body)}


@pytest.mark.parametrize("header", ["X-Hub-Signature-256", "X-Hub-Signature"])
async def test_a_route_keyed_delivery_is_verified_and_stored(
    routed_gateway: httpx.AsyncClient, neo4j_driver: neo4j.Driver, route_key: str, header: str
) -> None:
    body = task_body(route_key)
    response = await routed_gateway.post(
        f"/webhooks/clickup/{route_key}", content=body, headers=hub_headers(header, ROUTE_SECRET, body)
    )
    assert response.status_code == 200, response.text
    await drained(routed_gateway)
    assert stored_copies(neo4j_driver, body) == 1
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (e:WebhookEvent {body: $b}) RETURN e.projectId AS project, e.headers AS headers", b=body.decode()
    )
    assert records[0]["project"] == "gw-routed"
    stored = json.loads(records[0]["headers"])
    assert stored["x-gateway-route-key"] == route_key, "the server is told which key verified the delivery"
    assert stored[header.lower()] == "sha256=" + sign(ROUTE_SECRET, body)


ROUTED_REFUSALS = [
    ("no signature", lambda key, body: {"Content-Type": "application/json"}, "{key}", 401, "missing_signature"),
    (
        "X-Signature instead",
        lambda key, body: {"Content-Type": "application/json", "X-Signature": sign(ROUTE_SECRET, body)},
        "{key}",
        401,
        "missing_signature",
    ),
    (
        "a SHA-1 digest",
        lambda key, body: {"Content-Type": "application/json", "X-Hub-Signature": "sha1=" + "0" * 40},
        "{key}",
        401,
        "bad_signature",
    ),
    (
        "another secret",
        lambda key, body: hub_headers("X-Hub-Signature-256", "nope", body),
        "{key}",
        401,
        "bad_signature",
    ),
    (
        "an unknown route key",
        lambda key, body: hub_headers("X-Hub-Signature-256", ROUTE_SECRET, body),
        "stranger-{key}",
        401,
        "unknown_webhook",
    ),
    (
        "a route key with a space",
        lambda key, body: hub_headers("X-Hub-Signature-256", ROUTE_SECRET, body),
        "a%20b",
        400,
        "bad_webhook_id",
    ),
]


@pytest.mark.parametrize(
    ("case", "headers", "path_key", "status", "reason"), ROUTED_REFUSALS, ids=[row[0] for row in ROUTED_REFUSALS]
)
async def test_route_keyed_refusals_store_nothing(
    routed_gateway: httpx.AsyncClient,
    neo4j_driver: neo4j.Driver,
    route_key: str,
    case: str,
    headers: object,
    path_key: str,
    status: int,
    reason: str,
) -> None:
    before = inbox_size(neo4j_driver)
    body = task_body(route_key)
    key = path_key.format(key=route_key)
    response = await routed_gateway.post(f"/webhooks/clickup/{key}", content=body, headers=headers(key, body))  # type: ignore[operator]
    assert (response.status_code, response.json()["reason"]) == (status, reason), case
    assert await asyncio.to_thread(metric, routed_gateway, "gateway_deliveries_spooled_total") == 0
    assert inbox_size(neo4j_driver) == before


ROUTES = [
    ("an integration without a scheme", "/webhooks/planner", 404, "unknown_integration"),
    ("a name in capitals", "/webhooks/ClickUp", 404, "unknown_integration"),
    ("a key for a body-keyed scheme", "/webhooks/clickup/abc", 404, "not_found"),
    ("no key for a route-keyed scheme", "/webhooks/jira", 404, "not_found"),
    ("too deep a path", "/webhooks/jira/a/b", 404, "not_found"),
]


@pytest.mark.parametrize(("case", "path", "status", "reason"), ROUTES, ids=[row[0] for row in ROUTES])
async def test_routes_without_a_matching_scheme_are_json_404s(
    default_gateway: httpx.AsyncClient, neo4j_driver: neo4j.Driver, case: str, path: str, status: int, reason: str
) -> None:
    before = inbox_size(neo4j_driver)
    body = task_body(tv.TV_WEBHOOK_ID)
    headers = {"Content-Type": "application/json", "X-Signature": sign(tv.TV_SECRET, body)}
    response = await default_gateway.post(path, content=body, headers=headers)
    assert (response.status_code, response.json()["reason"]) == (status, reason), case
    assert inbox_size(neo4j_driver) == before


async def test_the_clickup_path_keeps_working(default_gateway: httpx.AsyncClient, neo4j_driver: neo4j.Driver) -> None:
    body = task_body(tv.TV_WEBHOOK_ID)
    headers = {"Content-Type": "application/json", "X-Signature": sign(tv.TV_SECRET, body)}
    response = await default_gateway.post("/webhooks/clickup", content=body, headers=headers)
    assert response.status_code == 200, response.text
    await drained(default_gateway)
    assert stored_copies(neo4j_driver, body) == 1


@pytest.fixture
async def other_static_gateway(
    hub: RunningHub, tokens: Tokens, tmp_path: Path, route_key: str
) -> AsyncIterator[httpx.AsyncClient]:
    schemes = {"clickup": "hex-hmac-body-id", "jira": "hub-sha256-route"}
    async for client in serve(hub, tokens, tmp_path, schemes, {"jira": "jira-static"}):
        yield client


async def test_a_static_secret_belongs_to_its_integration_only(
    other_static_gateway: httpx.AsyncClient, neo4j_driver: neo4j.Driver
) -> None:
    """Another integration's static secret neither verifies nor blocks ClickUp's deliveries."""
    forged = task_body(tv.TV_WEBHOOK_ID)
    refused = await other_static_gateway.post(
        "/webhooks/clickup",
        content=forged,
        headers={"Content-Type": "application/json", "X-Signature": sign("jira-static", forged)},
    )
    assert (refused.status_code, refused.json()["reason"]) == (401, "bad_signature")
    genuine = task_body(tv.TV_WEBHOOK_ID)
    accepted = await other_static_gateway.post(
        "/webhooks/clickup",
        content=genuine,
        headers={"Content-Type": "application/json", "X-Signature": sign(tv.TV_SECRET, genuine)},
    )
    assert accepted.status_code == 200, accepted.text
    await drained(other_static_gateway)
    assert stored_copies(neo4j_driver, genuine) == 1
    assert stored_copies(neo4j_driver, forged) == 0


class Relay(DummyIntegration):
    """A plugin that receives webhooks through a scheme no gateway configuration names."""

    name = "relay"
    display_name = "Relay"
    webhook_scheme = "hub-sha256-route"

    def parse_delivery(self, delivery: Delivery) -> ParsedDelivery:
        key = delivery.headers["x-gateway-route-key"]
        return ParsedDelivery(key, "ping", "", f"relay|{key}|{hashlib.sha256(delivery.raw_body).hexdigest()}")


@pytest.fixture
async def relay_hub(
    neo4j_connection: Connection, tokens: Tokens, clickup_sandbox: RunningSandbox, encryption_keys: str
) -> AsyncIterator[RunningHub]:
    async with hub_with(server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys), Relay()) as hub:
        yield hub


async def test_a_scheme_the_gateway_is_not_configured_with_comes_from_the_server(
    relay_hub: RunningHub, tokens: Tokens, tmp_path: Path, neo4j_driver: neo4j.Driver
) -> None:
    key = f"relay-{uuid.uuid4().hex[:12]}"
    await relay_hub.server.webhooks.register("relay", key, "gw-org", "gw-relay", "c1", ROUTE_SECRET)
    body = json.dumps({"ping": key}).encode()
    headers = hub_headers("X-Hub-Signature-256", ROUTE_SECRET, body)
    async for client in serve(relay_hub, tokens, tmp_path, dict(DEFAULT_SCHEMES), {}):
        response = await client.post(f"/webhooks/relay/{key}", content=body, headers=headers)
        assert response.status_code == 200, response.text
        await drained(client)
        assert stored_copies(neo4j_driver, body) == 1
        forged = await client.post(
            f"/webhooks/relay/{key}", content=body, headers=hub_headers("X-Hub-Signature-256", "x", body)
        )
        assert (forged.status_code, forged.json()["reason"]) == (401, "bad_signature")


async def test_an_integration_configured_off_stays_off_whatever_the_server_says(
    relay_hub: RunningHub, tokens: Tokens, tmp_path: Path
) -> None:
    config = GatewayConfig(
        server_target=relay_hub.target,
        server_token=tokens.gateway,
        spool_path=tmp_path / "spool.db",
        disabled=frozenset({"relay"}),
    )
    body = b"{}"
    with GatewayServer(config) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            response = await client.post(
                "/webhooks/relay/k1", content=body, headers=hub_headers("X-Hub-Signature-256", ROUTE_SECRET, body)
            )
    assert (response.status_code, response.json()["reason"]) == (404, "unknown_integration")
