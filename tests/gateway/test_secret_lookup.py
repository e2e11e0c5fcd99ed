"""Item 3: strangers' deliveries cost the server (almost) nothing, and permanent refusals are 4xx.

Against the real server: how many GetWebhookSecret calls unsigned, garbled and unknown deliveries
cause. Against a scripted one: what each way a lookup can fail means for the sender.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import httpx
import pytest

from tests.conftest import RunningHub, Tokens
from tests.gateway import scripted_server as scripted
from tests.gateway.support import GatewayServer, sign, task_body
from tests.support import wait_until
from webhook_gateway.config import GatewayConfig


def lookups(hub: RunningHub) -> float:
    """GetWebhookSecret calls the real server has answered so far, whatever the outcome."""
    total = 0.0
    for family in hub.server.metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "integrations_rpc_total" and sample.labels.get("method") == "GetWebhookSecret":
                total += sample.value
    return total


@pytest.fixture
def gateway_url(hub: RunningHub, tokens: Tokens, tmp_path: Path) -> Iterator[str]:
    config = GatewayConfig(server_target=hub.target, server_token=tokens.gateway, spool_path=tmp_path / "spool.db")
    with GatewayServer(config) as server:
        yield server.url


async def post_all(url: str, deliveries: list[tuple[bytes, str | None]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def one(body: bytes, signature: str | None) -> httpx.Response:
            headers = {"Content-Type": "application/json"}
            if signature is not None:
                headers["X-Signature"] = signature
            return await client.post("/webhooks/clickup", content=body, headers=headers)

        return list(await asyncio.gather(*(one(body, signature) for body, signature in deliveries)))


def random_ids(count: int) -> list[str]:
    return [f"stranger-{uuid.uuid4().hex}" for _ in range(count)]


async def test_unsigned_and_garbled_deliveries_cost_no_lookup(hub: RunningHub, gateway_url: str) -> None:
    before = lookups(hub)
    unsigned: list[tuple[bytes, str | None]] = [(task_body(webhook_id), None) for webhook_id in random_ids(50)]
    garbled: list[tuple[bytes, str | None]] = [(task_body(w), "not-a-signature") for w in random_ids(50)]
    answers = await post_all(gateway_url, unsigned + garbled)
    assert [(r.status_code, r.json()["reason"]) for r in answers] == [(401, "missing_signature")] * 50 + [
        (401, "bad_signature")
    ] * 50
    assert lookups(hub) == before


async def test_unknown_webhooks_are_looked_up_once_each(hub: RunningHub, gateway_url: str) -> None:
    ids = random_ids(50)
    before = lookups(hub)
    for _ in range(3):
        answers = await post_all(gateway_url, [(task_body(webhook_id), "0" * 64) for webhook_id in ids])
        assert {(r.status_code, r.json()["reason"]) for r in answers} == {(401, "unknown_webhook")}
    assert lookups(hub) - before == 50, "one call per distinct id, the repeats answered from the negative cache"


async def test_concurrent_deliveries_of_one_webhook_share_one_lookup(hub: RunningHub, gateway_url: str) -> None:
    (webhook_id,) = random_ids(1)
    before = lookups(hub)
    answers = await post_all(gateway_url, [(task_body(webhook_id), "0" * 64) for _ in range(20)])
    assert {r.status_code for r in answers} == {401}
    assert lookups(hub) - before == 1


# ---------------------------------------------------------------- what each failure means

WEBHOOK = "wh-lookup"
SECRET = "lookup-secret"


@pytest.fixture
async def service() -> AsyncIterator[tuple[scripted.ScriptedService, str]]:
    scripted_service = scripted.ScriptedService(secrets={WEBHOOK: SECRET})
    server, target = await scripted.start(scripted_service)
    yield scripted_service, target
    await server.stop(None)


FAILURES = [
    # (code, ErrorInfo reason) -> the sender's status and reason, and whether a repeat asks again
    (grpc.StatusCode.NOT_FOUND, "UNKNOWN_WEBHOOK", 401, "unknown_webhook", False),
    (grpc.StatusCode.PERMISSION_DENIED, "WRONG_TENANT", 401, "unknown_webhook", False),
    (grpc.StatusCode.INVALID_ARGUMENT, "BAD_WEBHOOK_ID", 400, "bad_webhook_id", False),
    (grpc.StatusCode.UNAVAILABLE, "", 503, "secret_unavailable", True),
    (grpc.StatusCode.DEADLINE_EXCEEDED, "", 503, "secret_unavailable", True),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, "", 503, "secret_unavailable", True),
    (grpc.StatusCode.INTERNAL, "INTERNAL", 503, "secret_unavailable", True),
    (grpc.StatusCode.PERMISSION_DENIED, "MISSING_SCOPE", 503, "secret_unavailable", True),
    (grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN", 503, "secret_unavailable", True),
    (grpc.StatusCode.FAILED_PRECONDITION, "SECRET_UNREADABLE", 503, "secret_unavailable", True),
]


@pytest.mark.parametrize(
    ("code", "reason", "status", "refusal", "asks_again"), FAILURES, ids=[f"{f[0].name}-{f[1]}" for f in FAILURES]
)
async def test_each_lookup_failure_has_one_meaning(
    service: tuple[scripted.ScriptedService, str],
    tmp_path: Path,
    code: grpc.StatusCode,
    reason: str,
    status: int,
    refusal: str,
    asks_again: bool,
) -> None:
    scripted_service, target = service
    scripted_service.secret_failure = (code, reason)
    config = GatewayConfig(server_target=target, server_token="t", spool_path=tmp_path / "spool.db")
    body = task_body(WEBHOOK)
    with GatewayServer(config) as server:
        first, second = [await post_all(server.url, [(body, sign(SECRET, body))]) for _ in range(2)]
    assert [(r.status_code, r.json()["reason"]) for r in first + second] == [(status, refusal)] * 2
    assert len(scripted_service.secret_calls) == (2 if asks_again else 1)


async def test_a_known_secret_outlives_a_server_outage(
    service: tuple[scripted.ScriptedService, str], tmp_path: Path
) -> None:
    """Expired but recently known: used while the server is away, so deliveries keep being spooled."""
    scripted_service, target = service
    scripted_service.secret_ttl_seconds = 1
    config = GatewayConfig(server_target=target, server_token="t", spool_path=tmp_path / "spool.db")
    with GatewayServer(config) as server:
        body = task_body(WEBHOOK)
        assert (await post_all(server.url, [(body, sign(SECRET, body))]))[0].status_code == 200
        scripted_service.secret_failure = (grpc.StatusCode.UNAVAILABLE, "")
        answers: list[int] = []

        def asked_again() -> bool:
            # Each POST is answered from the cache until the 1 s TTL runs out; then the gateway asks.
            body = task_body(WEBHOOK)
            response = httpx.post(
                f"{server.url}/webhooks/clickup",
                content=body,
                headers={"Content-Type": "application/json", "X-Signature": sign(SECRET, body)},
            )
            answers.append(response.status_code)
            return len(scripted_service.secret_calls) >= 2

        await asyncio.to_thread(wait_until, asked_again, 10, "the cached secret to expire")
    assert set(answers) == {200}, "accepted throughout, with the stale secret once the server was away"


async def test_a_secret_changed_on_the_server_is_asked_for_again_once(
    service: tuple[scripted.ScriptedService, str], tmp_path: Path
) -> None:
    """A webhook re-armed with a new secret: its deliveries are signed with it at once, while the
    gateway still holds the old one (cached for minutes). A mismatch asks the server once more, and
    forgeries that follow cost no further lookup within ``RECHECK_SECONDS``."""
    scripted_service, target = service
    config = GatewayConfig(server_target=target, server_token="t", spool_path=tmp_path / "spool.db")
    with GatewayServer(config) as server:
        body = task_body(WEBHOOK)
        assert (await post_all(server.url, [(body, sign(SECRET, body))]))[0].status_code == 200
        scripted_service.secrets[WEBHOOK] = "re-armed-secret"
        renewed = task_body(WEBHOOK)
        assert (await post_all(server.url, [(renewed, sign("re-armed-secret", renewed))]))[0].status_code == 200
        assert len(scripted_service.secret_calls) == 2, "one more lookup, on the mismatch"
        forged: list[tuple[bytes, str | None]] = [(task_body(WEBHOOK), sign("forger", body)) for _ in range(20)]
        answers = await post_all(server.url, forged)
        assert {(r.status_code, r.json()["reason"]) for r in answers} == {(401, "bad_signature")}
        assert len(scripted_service.secret_calls) == 2, "forgeries within the period: no lookup at all"
        later = task_body(WEBHOOK)
        assert (await post_all(server.url, [(later, sign("re-armed-secret", later))]))[0].status_code == 200
        assert len(scripted_service.secret_calls) == 2, "the new secret is the cached one now"
