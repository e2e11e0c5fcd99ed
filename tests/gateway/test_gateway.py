"""The webhook gateway (uvicorn on loopback, served as in production) in front of the real server and Neo4j."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import neo4j
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devtools.neo4j_local import Connection
from tests.conftest import RunningHub, Tokens, server_env, start_hub
from tests.gateway.support import GatewayServer, sign
from tests.sandbox import vectors as tv
from tests.support import free_port, wait_until
from webhook_gateway.config import GatewayConfig


def inbox_size(driver: neo4j.Driver) -> int:
    records, _, _ = driver.execute_query("MATCH (e:WebhookEvent) RETURN count(e) AS c")
    return int(records[0]["c"])


def stored_copies(driver: neo4j.Driver, body: bytes) -> int:
    records, _, _ = driver.execute_query(
        "MATCH (e:WebhookEvent {body: $body}) RETURN count(e) AS c", body=body.decode()
    )
    return int(records[0]["c"])


def metric(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """A sample of the gateway's /metrics, read synchronously (called from a thread)."""
    text = httpx.get(client.base_url.join("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


async def drained(client: httpx.AsyncClient) -> None:
    """Waits until the gateway has handed every spooled delivery to the server."""

    def empty() -> bool:
        return bool(httpx.get(client.base_url.join("/readyz")).json()["spool_depth"] == 0)

    # In a thread: the server that takes the deliveries runs on this test's event loop.
    await asyncio.to_thread(wait_until, empty, 30, "the gateway spool to drain")


@pytest.fixture(scope="module")
async def registered(hub: RunningHub) -> None:
    desk = hub.server.webhooks
    await desk.register("clickup", tv.TV_WEBHOOK_ID, "gw-org", "gw-project", "90120000", tv.TV_SECRET)
    await desk.register("clickup", tv.TV11_WEBHOOK_ID, "gw-org", "gw-project", "90120000", "secret")


@pytest.fixture
async def gateway(
    hub: RunningHub, tokens: Tokens, tmp_path: Path, registered: None
) -> AsyncIterator[httpx.AsyncClient]:
    # Async on purpose: the in-process gRPC server runs on the test loop, which must keep running.
    config = GatewayConfig(server_target=hub.target, server_token=tokens.gateway, spool_path=tmp_path / "spool.db")
    with GatewayServer(config) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            yield client


async def post(
    client: httpx.AsyncClient,
    body: bytes,
    signature: str | bytes | None,
    content_type: str = "application/json",
) -> httpx.Response:
    headers: dict[bytes, bytes] = {b"Content-Type": content_type.encode()}
    if signature is not None:
        headers[b"X-Signature"] = signature if isinstance(signature, bytes) else signature.encode()
    return await client.post("/webhooks/clickup", content=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "signature"),
    [(tv.TV9_BODY, tv.TV9_SIGNATURE), (tv.TV10_BODY, tv.TV10_SIGNATURE), (tv.TV11_BODY, tv.TV11_SIGNATURE)],
    ids=["TV9", "TV10", "TV11"],
)
async def test_reference_deliveries_verify_and_are_stored(
    gateway: httpx.AsyncClient, neo4j_driver: neo4j.Driver, body: bytes, signature: str
) -> None:
    response = await post(gateway, body, signature)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"
    await drained(gateway)
    assert stored_copies(neo4j_driver, body) == 1, "the exact bytes are kept, once"


async def test_the_same_body_reserialised_with_spaces_is_rejected(
    gateway: httpx.AsyncClient, neo4j_driver: neo4j.Driver
) -> None:
    before = inbox_size(neo4j_driver)
    response = await post(gateway, tv.TV10_SPACED, tv.TV10_SIGNATURE)
    assert response.status_code == 401
    assert response.json()["reason"] == "bad_signature"
    assert await asyncio.to_thread(metric, gateway, "gateway_deliveries_spooled_total") == 0
    assert inbox_size(neo4j_driver) == before


def unique_body(**extra: object) -> bytes:
    return json.dumps(
        {
            "event": "taskUpdated",
            "history_items": [{"id": uuid.uuid4().hex}],
            "task_id": "86x",
            "webhook_id": tv.TV_WEBHOOK_ID,
            **extra,
        },
        separators=(",", ":"),
    ).encode()


def signed(body: bytes) -> tuple[bytes, str, str]:
    return body, sign(tv.TV_SECRET, body), "application/json"


def registered_body(**fields: object) -> bytes:
    """A body of the registered webhook with exactly these fields besides webhook_id."""
    return json.dumps({"webhook_id": tv.TV_WEBHOOK_ID, **fields}, separators=(",", ":")).encode()


DEEP = b'{"webhook_id":"' + tv.TV_WEBHOOK_ID.encode() + b'","event":"taskUpdated","x":' + b"[" * 100_000
DEEP += b"]" * 100_000 + b"}"

# One row per bad delivery: what the sender gets, and that nothing is kept. The envelope rules
# themselves are tabled in test_envelope.py; these rows show each refusal over real HTTP, in order.
BAD = [
    ("missing signature", lambda: (unique_body(), None, "application/json"), 401, "missing_signature"),
    ("empty signature", lambda: (unique_body(), "", "application/json"), 401, "missing_signature"),
    ("signature not hex", lambda: (unique_body(), "z" * 64, "application/json"), 401, "bad_signature"),
    ("signature too short", lambda: (unique_body(), "ab" * 16, "application/json"), 401, "bad_signature"),
    ("signature not ASCII", lambda: (unique_body(), b"\xe9" * 64, "application/json"), 401, "bad_signature"),
    ("wrong signature", lambda: (unique_body(), "0" * 64, "application/json"), 401, "bad_signature"),
    (
        "signature of another body",
        lambda: (unique_body(), sign(tv.TV_SECRET, unique_body()), "application/json"),
        401,
        "bad_signature",
    ),
    (
        "unknown webhook_id",
        lambda: (b'{"event":"taskCreated","task_id":"1","webhook_id":"nope"}', sign("x", b"x"), "application/json"),
        401,
        "unknown_webhook",
    ),
    (
        "not JSON",
        lambda: (b"event=taskCreated", sign(tv.TV_SECRET, b"event=taskCreated"), "application/json"),
        400,
        "not_json",
    ),
    ("not UTF-8", lambda: signed(b'{"event":"\xff","webhook_id":"w"}'), 400, "not_json"),
    ("a 5000-digit number", lambda: signed(b'{"n":' + b"1" * 5000 + b"}"), 400, "not_json"),
    ("JSON array", lambda: (b"[1,2]", sign(tv.TV_SECRET, b"[1,2]"), "application/json"), 400, "not_an_object"),
    ("100k levels, unsigned", lambda: (DEEP, "0" * 64, "application/json"), 400, "too_deep"),
    ("100k levels, signed", lambda: signed(DEEP), 400, "too_deep"),
    ("65 levels", lambda: signed(b'{"x":' + b"[" * 64 + b"]" * 64 + b"}"), 400, "too_deep"),
    ("no webhook_id", lambda: signed(b'{"event":"taskCreated"}'), 400, "missing_webhook_id"),
    ("webhook_id a lone surrogate", lambda: signed(b'{"event":"e","webhook_id":"\\ud800"}'), 400, "bad_webhook_id"),
    (
        "webhook_id with a trailing newline",
        lambda: signed(json.dumps({"event": "e", "webhook_id": tv.TV_WEBHOOK_ID + "\n"}).encode()),
        400,
        "bad_webhook_id",
    ),
    (
        "webhook_id of 10,000 characters",
        lambda: signed(registered_body(webhook_id="a" * 10_000)),
        400,
        "bad_webhook_id",
    ),
    ("webhook_id a number", lambda: signed(b'{"event":"e","webhook_id":5}'), 400, "bad_webhook_id"),
    ("missing event", lambda: signed(registered_body(task_id="1")), 400, "missing_event"),
    ("blank event", lambda: signed(registered_body(event="  ")), 400, "missing_event"),
    ("event of 201 characters", lambda: signed(registered_body(event="e" * 201)), 400, "bad_event"),
    ("history_items an object", lambda: signed(registered_body(event="e", history_items={})), 400, "bad_history"),
    ("task_id an object", lambda: signed(registered_body(event="e", task_id={"a": 1})), 400, "bad_object_id"),
    ("list_id a boolean", lambda: signed(registered_body(event="e", list_id=True)), 400, "bad_object_id"),
    ("2 MiB body", lambda: (b"{" + b" " * (2 * 1024 * 1024) + b"}", "0" * 64, "application/json"), 413, "too_large"),
    ("wrong content type", lambda: (unique_body(), "0" * 64, "text/plain"), 415, "content_type"),
]


@pytest.mark.parametrize(("case", "build", "status", "reason"), BAD, ids=[b[0] for b in BAD])
async def test_bad_deliveries_get_their_status_and_store_nothing(
    gateway: httpx.AsyncClient, neo4j_driver: neo4j.Driver, case: str, build: object, status: int, reason: str
) -> None:
    before = inbox_size(neo4j_driver)
    body, signature, content_type = build()  # type: ignore[operator]
    response = await post(gateway, body, signature, content_type)
    assert response.status_code == status, f"{case}: {response.text}"
    assert response.json()["reason"] == reason
    assert await asyncio.to_thread(metric, gateway, "gateway_deliveries_spooled_total") == 0, f"{case} was spooled"
    assert inbox_size(neo4j_driver) == before, f"{case} stored something"


async def test_wrong_method_is_405_with_a_json_body(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/webhooks/clickup")
    assert response.status_code == 405
    assert response.json()["reason"] == "method"


async def test_a_redelivery_is_acknowledged_and_stored_once(
    gateway: httpx.AsyncClient, neo4j_driver: neo4j.Driver
) -> None:
    body = unique_body()
    first = await post(gateway, body, sign(tv.TV_SECRET, body))
    await drained(gateway)
    second = await post(gateway, body, sign(tv.TV_SECRET, body))
    assert (first.status_code, second.status_code) == (200, 200)
    await drained(gateway)
    assert stored_copies(neo4j_driver, body) == 1
    assert await asyncio.to_thread(metric, gateway, "gateway_deliveries_forwarded_total", result="stored") == 1
    assert await asyncio.to_thread(metric, gateway, "gateway_deliveries_forwarded_total", result="duplicate") == 1


async def test_health_readiness_and_metrics(gateway: httpx.AsyncClient) -> None:
    body = unique_body()
    await post(gateway, body, sign(tv.TV_SECRET, body))
    await post(gateway, body, "bad")
    assert (await gateway.get("/healthz")).json() == {"status": "ok"}
    ready = (await gateway.get("/readyz")).json()
    assert ready["spool_writable"] is True
    metrics = (await gateway.get("/metrics")).text
    assert "gateway_deliveries_verified_total 1.0" in metrics
    assert 'gateway_deliveries_rejected_total{reason="bad_signature"} 1.0' in metrics


@pytest.fixture
async def restartable_hub(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str
) -> AsyncIterator[tuple[dict[str, str], list[RunningHub]]]:
    env = server_env(neo4j_connection, tokens, "http://127.0.0.1:9/api/v2", encryption_keys)
    env["INTEGRATIONS_GRPC_ADDRESS"] = f"127.0.0.1:{free_port()}"
    running = [await start_hub(env)]
    yield env, running
    for hub in running:
        await hub.channel.close(None)
        await hub.server.stop(grace=0)


async def test_server_down_spools_durably_and_drains_in_order(
    restartable_hub: tuple[dict[str, str], list[RunningHub]],
    tokens: Tokens,
    tmp_path: Path,
    neo4j_driver: neo4j.Driver,
) -> None:
    """Static-secret mode here: the webhook is still looked up (and cached), so once it is known the
    gateway keeps accepting its deliveries while the server is away."""
    env, running = restartable_hub
    secret = "single-tenant-secret"
    webhook_id = f"static-{uuid.uuid4().hex}"
    await running[0].server.webhooks.register("clickup", webhook_id, "gw-org", "gw-project", "90120000", "unused")
    config = GatewayConfig(
        server_target=env["INTEGRATIONS_GRPC_ADDRESS"],
        server_token=tokens.gateway,
        spool_path=tmp_path / "spool.db",
        static_secrets={"clickup": secret},
        forward_timeout_seconds=0.5,
    )
    bodies = [unique_body(seq=i, webhook_id=webhook_id) for i in range(5)]
    with GatewayServer(config) as server:
        gateway = server.gateway
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            first = await post(client, bodies[0], sign(secret, bodies[0]))
            assert first.status_code == 200, first.text
            await drained(client)
            await running[0].channel.close(None)
            await running[0].server.stop(grace=0)
            running.clear()
            for body in bodies[1:]:
                response = await post(client, body, sign(secret, body))
                assert response.status_code == 200, response.text
                assert response.json()["status"] == "accepted"

            def waiting() -> bool:
                ready = httpx.get(f"{server.url}/readyz").json()
                return bool(ready["spool_depth"] == 4 and not ready["server_reachable"])

            await asyncio.to_thread(wait_until, waiting, 30, "four deliveries spooled with the server away")
            running.append(await start_hub(env))
            await asyncio.to_thread(wait_until, lambda: gateway.spool.depth() == 0, 30, "the spool to drain")
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (e:WebhookEvent) WHERE e.body IN $bodies RETURN e.body AS body ORDER BY e.receivedAt, e.storedAt",
        bodies=[b.decode() for b in bodies],
    )
    assert [r["body"].encode() for r in records] == bodies, "every spooled event arrived once, in order"


@pytest.fixture
async def static_gateway(
    hub: RunningHub, tokens: Tokens, tmp_path: Path, registered: None
) -> AsyncIterator[httpx.AsyncClient]:
    config = GatewayConfig(
        server_target=hub.target,
        server_token=tokens.gateway,
        spool_path=tmp_path / "s.db",
        static_secrets={"clickup": "static"},
    )
    with GatewayServer(config) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            yield client


async def test_static_secret_mode_refuses_webhooks_the_server_does_not_know(
    static_gateway: httpx.AsyncClient, neo4j_driver: neo4j.Driver
) -> None:
    """Item 5: the static secret verifies, but only registered webhooks are kept (with their project)."""
    stranger = unique_body(webhook_id=f"unregistered-{uuid.uuid4().hex}")
    refused = await post(static_gateway, stranger, sign("static", stranger))
    assert (refused.status_code, refused.json()["reason"]) == (401, "unknown_webhook")
    known = unique_body()
    accepted = await post(static_gateway, known, sign("static", known))
    assert accepted.status_code == 200, accepted.text
    await drained(static_gateway)
    assert stored_copies(neo4j_driver, stranger) == 0
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (e:WebhookEvent {body: $b}) RETURN e.orgId AS org, e.projectId AS project", b=known.decode()
    )
    assert [(r["org"], r["project"]) for r in records] == [("gw-org", "gw-project")]
