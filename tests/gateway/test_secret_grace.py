"""A regenerated secret at the edge: during the grace period the gateway verifies with the new
secret and with each old one the server still lists (``previous_secrets``), cached like the secret
itself; once the server stops listing an old one (its answer's TTL ends with the grace), deliveries
signed with it are refused. Against a scripted server, so the grace is the test's to end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.gateway import scripted_server as scripted
from tests.gateway.support import GatewayServer, sign, task_body
from tests.support import wait_until
from webhook_gateway.config import GatewayConfig

WEBHOOK = "wh-grace"
OLD, NEW = "old-secret", "new-secret"


@dataclass
class GraceService(scripted.ScriptedService):
    """The scripted server, answering also the secrets still accepted per webhook."""

    previous: dict[str, list[str]] = field(default_factory=dict)

    async def GetWebhookSecret(
        self, request: scripted.pb.GetWebhookSecretRequest, context: Any
    ) -> scripted.pb.GetWebhookSecretResponse:
        answer = await super().GetWebhookSecret(request, context)
        answer.previous_secrets.extend(self.previous.get(request.webhook_id, []))
        return answer

    def regenerate(self, ttl_seconds: int) -> None:
        """What RegenerateWebhookSecret leaves: NEW current, OLD accepted, answers cached until the grace ends."""
        self.secrets[WEBHOOK], self.previous[WEBHOOK] = NEW, [OLD]
        self.secret_ttl_seconds = ttl_seconds

    def end_grace(self) -> None:
        self.previous[WEBHOOK] = []
        self.secret_ttl_seconds = 300


@pytest.fixture
async def service() -> AsyncIterator[tuple[GraceService, str]]:
    grace_service = GraceService(secrets={WEBHOOK: OLD})
    server, target = await scripted.start(grace_service)
    yield grace_service, target
    await server.stop(None)


async def post(url: str, secret: str, path: str = "/webhooks/clickup", header: str = "X-Signature") -> httpx.Response:
    body = task_body(WEBHOOK)
    signature = sign(secret, body)
    if header != "X-Signature":
        signature = f"sha256={signature}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post(path, content=body, headers={"Content-Type": "application/json", header: signature})


async def statuses(url: str, secrets: list[str]) -> list[tuple[int, str]]:
    answers = await asyncio.gather(*(post(url, secret) for secret in secrets))
    return [(a.status_code, a.json().get("reason", "")) for a in answers]


ACCEPTED = (200, "")
REFUSED = (401, "bad_signature")


async def test_the_old_secret_is_accepted_during_the_grace_and_refused_after_it(
    service: tuple[GraceService, str], tmp_path: Path
) -> None:
    grace_service, target = service
    config = GatewayConfig(server_target=target, server_token="t", spool_path=tmp_path / "spool.db")
    with GatewayServer(config) as server:
        assert await statuses(server.url, [OLD]) == [ACCEPTED]  # the gateway caches OLD (for 300 s)
        grace_service.regenerate(ttl_seconds=3)

        # The first delivery signed with NEW misses the cache and asks again; OLD then still verifies.
        assert await statuses(server.url, [NEW]) == [ACCEPTED]
        assert await statuses(server.url, [OLD, NEW, OLD, NEW]) == [ACCEPTED] * 4
        assert await statuses(server.url, ["forger"]) == [REFUSED], "the grace admits OLD, not anything"
        assert len(grace_service.secret_calls) == 2, "OLD and NEW both answered from one cached lookup"

        grace_service.end_grace()

        def asked_again() -> bool:  # NEW stays good throughout; the answer is re-asked once its TTL is over
            response = httpx.post(
                f"{server.url}/webhooks/clickup",
                content=(body := task_body(WEBHOOK)),
                headers={"Content-Type": "application/json", "X-Signature": sign(NEW, body)},
            )
            assert response.status_code == 200, response.text
            return len(grace_service.secret_calls) >= 3

        await asyncio.to_thread(wait_until, asked_again, 15, "the grace-limited answer to expire")
        assert await statuses(server.url, [OLD, OLD]) == [REFUSED] * 2
        assert await statuses(server.url, [NEW]) == [ACCEPTED]
        spooled = server.gateway.spool.depth() + len(grace_service.kept)
    assert spooled >= 7, "every accepted delivery was kept"


async def test_a_gateway_that_first_asks_during_the_grace_takes_both_secrets_from_one_answer(
    service: tuple[GraceService, str], tmp_path: Path
) -> None:
    grace_service, target = service
    grace_service.regenerate(ttl_seconds=300)
    config = GatewayConfig(server_target=target, server_token="t", spool_path=tmp_path / "spool.db")
    with GatewayServer(config) as server:
        assert await statuses(server.url, [OLD]) == [ACCEPTED]
        assert await statuses(server.url, [NEW, OLD, NEW]) == [ACCEPTED] * 3
        assert grace_service.secret_calls == [WEBHOOK], "one lookup, no recheck"


async def test_route_keyed_schemes_accept_the_old_secret_during_the_grace_too(
    service: tuple[GraceService, str], tmp_path: Path
) -> None:
    grace_service, target = service
    config = GatewayConfig(
        server_target=target,
        server_token="t",
        spool_path=tmp_path / "spool.db",
        schemes={"relay": "hub-sha256-route"},
    )
    path = f"/webhooks/relay/{WEBHOOK}"
    with GatewayServer(config) as server:
        assert (await post(server.url, OLD, path, "X-Hub-Signature-256")).status_code == 200
        grace_service.regenerate(ttl_seconds=300)
        assert (await post(server.url, NEW, path, "X-Hub-Signature-256")).status_code == 200
        assert (await post(server.url, OLD, path, "X-Hub-Signature-256")).status_code == 200
        forged = await post(server.url, "forger", path, "X-Hub-Signature-256")
        assert (forged.status_code, forged.json()["reason"]) == REFUSED
