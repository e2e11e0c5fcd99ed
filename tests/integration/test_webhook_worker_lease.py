"""An event that takes longer to apply than its lease is applied once, whatever the number of
replicas: its worker keeps the lease of what it holds alive while it works (the re-read may wait on
the provider, its rate limit included)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import neo4j
import pytest

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from tests.conftest import RunningHub, Tokens, bearer, server_env, start_hub
from tests.integration.importing import enable_request
from tests.support import UvicornThread

SLOW_SECONDS = 3.0  # the re-read of the task: three leases long


@pytest.fixture
async def two_workers(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, token: str
) -> AsyncIterator[tuple[Sandbox, str, list[RunningHub]]]:
    world = generate(GeneratorConfig(seed=23, spaces=1, tasks_per_list=2))
    world.tokens[token] = min(world.users)
    sandbox = Sandbox(world)
    with UvicornThread(create_app(sandbox)) as clickup:
        env = server_env(neo4j_connection, tokens, f"{clickup.url}/api/v2", encryption_keys) | {
            "WEBHOOK_WORKER": "on",
            "IMPORT_LEASE_SECONDS": "1",
        }
        hubs = [await start_hub(env), await start_hub(env)]
        try:
            yield sandbox, clickup.url, hubs
        finally:
            for hub in hubs:
                await hub.channel.close(None)
                await hub.server.stop(grace=1)


def event_row(driver: neo4j.Driver, body: str) -> tuple[str, int] | None:
    records, _, _ = driver.execute_query(
        "MATCH (e:WebhookEvent {body: $body}) RETURN e.state AS state, e.attempts AS attempts", body=body
    )
    return (records[0]["state"], int(records[0]["attempts"] or 0)) if records else None


async def test_an_event_slower_than_its_lease_is_applied_once(
    two_workers: tuple[Sandbox, str, list[RunningHub]],
    tokens: Tokens,
    tenant: tuple[str, str],
    token: str,
    neo4j_driver: neo4j.Driver,
) -> None:
    sandbox, url, hubs = two_workers
    await hubs[0].stub.UpdateIntegration(enable_request(tenant, token), metadata=bearer(tokens.admin))
    webhook_id = f"w-{uuid.uuid4().hex[:12]}"
    team = next(iter(sandbox.world.teams))
    await hubs[0].server.webhooks.register("clickup", webhook_id, tenant[0], tenant[1], team, "secret")
    task = sorted(sandbox.world.tasks)[0]
    async with httpx.AsyncClient(base_url=url) as admin:
        slow = {"path": f"/task/{task}$", "delay_seconds": SLOW_SECONDS, "times": -1}
        await admin.post("/_sandbox/faults", json={"faults": [slow]})
    body = json.dumps({"event": "taskUpdated", "task_id": task, "webhook_id": webhook_id,
                       "history_items": [{"id": uuid.uuid4().hex}]})  # fmt: skip
    delivered = await hubs[1].stub.DeliverWebhookEvents(
        pb.DeliverWebhookEventsRequest(
            events=[
                pb.DeliverWebhookEventRequest(integration="clickup", raw_body=body.encode(), signature_verified=True)
            ]
        ),
        metadata=bearer(tokens.gateway),
    )
    assert delivered.results[0].code == 0

    deadline = time.monotonic() + 60
    while (row := event_row(neo4j_driver, body)) is None or row[0] != "APPLIED":
        assert time.monotonic() < deadline, f"not applied: {row}"
        await asyncio.sleep(0.2)
    # Counted as requests arrive (a second worker's re-read would have started two leases ago):
    assert sandbox.faults[0].hits == 1, "ClickUp was asked once: no other replica took the event meanwhile"
    assert row == ("APPLIED", 1)
