"""Issue 9's acceptance test for item 1: a signed delivery whose text cannot be stored, followed by 100
valid ones, through the real gateway, server (worker on), Neo4j and ClickUp sandbox. Before the fix the
poison failed every batch it was in, so none of the 100 was ever stored."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import neo4j
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.generator import GeneratorConfig
from tests.conftest import Tokens, bearer
from tests.integration.importing import enable
from tests.integration.live_helpers import LiveStack, live_stack
from tests.support import free_port, wait_until

TOKEN = "pk_5550001_POISONSANDBOX0000000000000000000"
SECRET = "POISON0TEST0SECRET0000000000000000000000000000000000000000000000"


@pytest.fixture
async def stack(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path
) -> AsyncIterator[LiveStack]:
    config = GeneratorConfig(seed=23, spaces=1, tasks_per_list=10, subtask_ratio=0.0)
    metrics = {"METRICS_ADDRESS": f"127.0.0.1:{free_port()}"}
    async with live_stack(config, TOKEN, neo4j_connection, tokens, encryption_keys, tmp_path, metrics) as running:
        yield running


def signed(body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
    }


def states(driver: neo4j.Driver, tenant: tuple[str, str]) -> dict[str, int]:
    records, _, _ = driver.execute_query(
        "MATCH (e:WebhookEvent {orgId: $o, projectId: $p}) RETURN e.state AS state, count(e) AS n",
        o=tenant[0],
        p=tenant[1],
    )
    return {r["state"]: r["n"] for r in records}


def sample(url: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(httpx.get(url).text):
        for item in family.samples:
            if item.name == name and item.labels == labels:
                return float(item.value)
    return 0.0


async def test_a_poison_delivery_is_dead_lettered_and_the_100_behind_it_are_applied(
    stack: LiveStack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    await enable(stack.hub, TOKEN, tokens.admin, tenant)
    team_id = next(iter(stack.sandbox.world.teams))
    hook = f"poison-{uuid.uuid4().hex[:12]}"
    await stack.hub.server.webhooks.register("clickup", hook, tenant[0], tenant[1], team_id, SECRET)
    task_ids = sorted(stack.sandbox.world.tasks)
    # json.dumps escapes the lone surrogate as ClickUp's JSON would: "\ud800" in the bytes.
    poison = json.dumps({"event": "taskUpdated\ud800", "task_id": task_ids[0], "webhook_id": hook}).encode()
    valid = [
        json.dumps(
            {
                "event": "taskUpdated",
                "history_items": [{"id": f"h-{uuid.uuid4().hex}"}],
                "task_id": task_ids[n % len(task_ids)],
                "webhook_id": hook,
            },
            separators=(",", ":"),
        ).encode()
        for n in range(100)
    ]
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10) as client:
        first = await client.post("/webhooks/clickup", content=poison, headers=signed(poison))
        assert first.status_code == 200, first.text
        for body in valid:
            response = await client.post("/webhooks/clickup", content=body, headers=signed(body))
            assert response.status_code == 200, response.text

    def all_applied() -> bool:
        return states(neo4j_driver, tenant) == {"APPLIED": 100, "DEAD_LETTERED": 1}

    # Polled from a thread: the server under test runs on this event loop and must keep running.
    await asyncio.to_thread(wait_until, all_applied, 60, "the 100 valid deliveries to be applied")

    listed = await stack.hub.stub.ListWebhookEvents(
        pb.ListWebhookEventsRequest(org_id=tenant[0], project_id=tenant[1], state=pb.WEBHOOK_EVENT_STATE_DEAD_LETTERED),
        metadata=bearer(tokens.admin),
    )
    assert [(e.event, e.object_id) for e in listed.events] == [("taskUpdated\ufffd", "")]
    assert "lone surrogate" in listed.events[0].last_error
    await asyncio.to_thread(
        wait_until,
        lambda: (
            sample(
                f"http://{stack.hub.server.config.metrics_address}/metrics",
                "integrations_webhook_inbox",
                state="DEAD_LETTERED",
            )
            >= 1
        ),
        30,
        "the server's inbox gauge to count the dead letter",
    )
    forwarded = await asyncio.to_thread(
        sample, f"{stack.gateway_url}/metrics", "gateway_deliveries_forwarded_total", result="dead_lettered"
    )
    assert forwarded == 1
