"""Jira: the admin webhook's secret regenerated while deliveries stream through the real gateway.

The webhook is re-armed in place (its whole registration PUT with the new secret, which the server
accepted before Jira had it). Deliveries signed with the old secret before the regeneration and sent
after it (held back, as Jira's retries would be) and deliveries signed with the new one all pass;
the graph applies every event. Once the grace is over, the old secret is refused at the edge.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import neo4j
import pytest
from google.protobuf import duration_pb2

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.jira.delivery import sign
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig
from tests.conftest import Tokens, bearer
from tests.integration.test_jira_live_sync import Stack, jira_stack, jira_update
from tests.integration.test_live_sync import settled
from tests.support import wait_until

GRACE_SECONDS = 30


@pytest.fixture
async def stack(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path
) -> AsyncIterator[Stack]:
    config = GeneratorConfig(seed=23, projects=1, issues_per_project=12)
    async with jira_stack(neo4j_connection, tokens, encryption_keys, tmp_path, config) as running:
        yield running


async def test_regenerating_while_deliveries_stream_refuses_none(
    stack: Stack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    hub, admin = stack.hub, tokens.admin
    enabled = await hub.stub.UpdateIntegration(jira_update(tenant, stack.url, auto_sync=True), metadata=bearer(admin))
    (route_key,) = [w.id for w in enabled.webhooks]
    (hook,) = [h for h in stack.sandbox.hub.webhooks.values() if h.kind == "admin"]
    old_secret = hook.secret
    assert old_secret
    seeds = iter(range(1000, 100_000))
    log = stack.sandbox.hub.log

    async with httpx.AsyncClient(base_url=stack.url, timeout=120, auth=(MAIN_EMAIL, MAIN_TOKEN)) as jira:

        async def mutate(count: int = 1) -> None:
            response = await jira.post("/_sandbox/mutate", json={"count": count, "seed": next(seeds)})
            assert response.status_code == 200, response.text

        await mutate(2)  # the gateway now caches the old secret
        await jira.post("/_sandbox/webhooks/flush", json={"timeout": 60})
        assert log
        assert all(d.delivered for d in log)

        await jira.put("/_sandbox/config", json={"hold_deliveries": True})
        while len(stack.sandbox.hub.held) < 3:  # signed with the old secret, sent after the regeneration
            await mutate()
        in_flight = len(stack.sandbox.hub.held)
        await jira.put("/_sandbox/config", json={"hold_deliveries": False})

        stop = asyncio.Event()
        mutations = 0

        async def stream() -> None:
            nonlocal mutations
            while not stop.is_set():
                await mutate()
                mutations += 1

        streaming = asyncio.create_task(stream())
        try:
            await asyncio.to_thread(wait_until, lambda: mutations >= 8, 60, "mutations before the regeneration")
            done = await hub.stub.RegenerateWebhookSecret(
                pb.RegenerateWebhookSecretRequest(
                    org_id=tenant[0],
                    project_id=tenant[1],
                    name="jira",
                    grace=duration_pb2.Duration(seconds=GRACE_SECONDS),
                ),
                metadata=bearer(admin),
            )
            regenerated_at, before = len(log), mutations
            await asyncio.to_thread(wait_until, lambda: mutations >= before + 12, 60, "mutations after it")
        finally:
            stop.set()
            await streaming
        flushed = await jira.post("/_sandbox/webhooks/flush", json={"timeout": 60})
        assert flushed.json()["flushed"] == in_flight
        await jira.get("/_sandbox/deliveries", params={"wait": "true"})

    expires = done.old_secret_expire_time.ToDatetime(UTC)
    new_secret = hook.secret
    assert new_secret
    assert new_secret != old_secret, "re-armed in Jira with a new secret"
    assert [w.id for w in done.integration.webhooks] == [route_key], "in place: the same webhook"
    refused = [(d.event, d.status) for d in log if not d.delivered]
    assert refused == [], "no delivery was refused, whichever secret signed it"
    after = log[regenerated_at:]
    assert len([d for d in after if d.secret == old_secret]) >= in_flight, "old-secret deliveries after it"
    assert [d for d in after if d.secret == new_secret], "and new-secret ones"
    assert datetime.now(UTC) < expires, "all of it within the grace period (a longer GRACE_SECONDS if not)"
    answer = await hub.stub.GetWebhookSecret(
        pb.GetWebhookSecretRequest(integration="jira", webhook_id=route_key), metadata=bearer(tokens.gateway)
    )
    assert (answer.secret, list(answer.previous_secrets)) == (new_secret, [old_secret])
    assert 0 < answer.ttl.seconds <= GRACE_SECONDS

    sample = log[-1]

    async def post(secret: str) -> int:
        async with httpx.AsyncClient(timeout=30) as edge:
            response = await edge.post(
                sample.url,
                content=sample.body,
                headers={"Content-Type": "application/json", "X-Hub-Signature": sign(secret, sample.body)},
            )
        return response.status_code

    assert (await post(old_secret), await post(new_secret)) == (200, 200)
    await asyncio.to_thread(wait_until, lambda: settled(neo4j_driver, tenant), 120, "every event applied")
    await asyncio.to_thread(wait_until, lambda: datetime.now(UTC) > expires, 60, "the grace end")
    gone = await hub.stub.GetWebhookSecret(
        pb.GetWebhookSecretRequest(integration="jira", webhook_id=route_key), metadata=bearer(tokens.gateway)
    )
    assert list(gone.previous_secrets) == []

    def refused_at_the_edge() -> bool:  # the gateway's answer from the grace ran out with it
        return asyncio.run(post(old_secret)) == 401

    await asyncio.to_thread(wait_until, refused_at_the_edge, 15, "the old secret refused")
    assert await post(new_secret) == 200
