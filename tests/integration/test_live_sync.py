"""Webhooks to the graph: mutations in ClickUp, delivered signed, duplicated and shuffled, applied once."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import neo4j
import pytest

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from tests.conftest import RunningHub, Tokens, bearer, server_env, start_hub
from tests.integration.importing import enable, export, run_import
from tests.support import UvicornThread, wait_until
from webhook_gateway.app import create_app as create_gateway
from webhook_gateway.config import GatewayConfig

TOKEN = "pk_5550001_LIVESYNCSANDBOX00000000000000000"
VOLATILE_FOR_LIVE = ("taskCount",)  # ClickUp sends no list event when a list's task count changes


@dataclass
class Stack:
    sandbox: Sandbox
    sandbox_url: str
    hub: RunningHub
    gateway_url: str


@pytest.fixture
async def stack(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path
) -> AsyncIterator[Stack]:
    world = generate(GeneratorConfig(seed=17, spaces=2, tasks_per_list=6, subtask_ratio=0.3))
    world.tokens[TOKEN] = min(world.users)
    sandbox = Sandbox(world)
    sandbox.limiter.limit = None
    with UvicornThread(create_app(sandbox)) as clickup:
        env = server_env(neo4j_connection, tokens, f"{clickup.url}/api/v2", encryption_keys) | {"WEBHOOK_WORKER": "on"}
        hub = await start_hub(env)
        config = GatewayConfig(server_target=hub.target, server_token=tokens.gateway, spool_path=tmp_path / "s.db")
        try:
            with UvicornThread(create_gateway(config)) as gateway:
                yield Stack(sandbox, clickup.url, hub, gateway.url)
        finally:
            await hub.channel.close(None)
            await hub.server.stop(grace=1)


def clean(lines: list[str]) -> list[str]:
    """The export without the properties live sync cannot know (see VOLATILE_FOR_LIVE)."""
    out = []
    for line in lines:
        for prop in VOLATILE_FOR_LIVE:
            marker = f"('{prop}', "
            if marker in line:
                start = line.index(marker)
                line = line[:start] + line[line.index(")", start) + 3 :]
        out.append(line)
    return sorted(out)


async def mutate(client: httpx.AsyncClient, sandbox: Sandbox, count: int, seed: int) -> int:
    rng = random.Random(seed)
    done = 0
    while done < count:
        world = sandbox.world
        tasks = [t for t in world.tasks.values() if not t.archived]
        lists = [x for x in world.lists.values() if not x.archived]
        action = rng.choice(["rename", "status", "move", "delete", "create", "subtask", "assign", "list"])
        task = rng.choice(tasks)
        if action == "rename":
            response = await client.patch(f"/_sandbox/tasks/{task.id}", json={"name": f"Renamed {done}"})
        elif action == "status":
            statuses = [s.status for s in world.space_of_list(task.list_id).statuses]
            response = await client.patch(f"/_sandbox/tasks/{task.id}", json={"status": rng.choice(statuses)})
        elif action == "move" and task.parent is None:
            target = rng.choice([x for x in lists if x.id != task.list_id])
            response = await client.post(f"/_sandbox/tasks/{task.id}/move", json={"list_id": target.id})
        elif action == "delete" and len(tasks) > 20:
            response = await client.delete(f"/_sandbox/tasks/{task.id}")
        elif action == "create":
            response = await client.post(
                "/_sandbox/tasks", json={"list_id": rng.choice(lists).id, "name": f"New {done}"}
            )
        elif action == "subtask":
            response = await client.post(
                "/_sandbox/tasks", json={"list_id": task.list_id, "parent": task.id, "name": f"Sub {done}"}
            )
        elif action == "assign":
            response = await client.patch(
                f"/_sandbox/tasks/{task.id}", json={"assignees": rng.sample(sorted(world.users), 2)}
            )
        elif action == "list":
            response = await client.patch(f"/_sandbox/lists/{rng.choice(lists).id}", json={"name": f"List {done}"})
        else:
            continue
        assert response.status_code < 300, response.text
        done += 1
    return done


def settled(driver: neo4j.Driver, tenant: tuple[str, str]) -> bool:
    records, _, _ = driver.execute_query(
        "MATCH (e:WebhookEvent {orgId: $o, projectId: $p}) WHERE e.state <> 'APPLIED' RETURN count(e) AS c",
        o=tenant[0],
        p=tenant[1],
    )
    return bool(records[0]["c"] == 0)


async def test_mutations_delivered_three_times_shuffled_end_equal_to_a_fresh_import(
    stack: Stack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    await enable(stack.hub, TOKEN, tokens.admin, tenant)
    assert (await run_import(stack.hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    team_id = next(iter(stack.sandbox.world.teams))
    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=60) as client:
        created = await client.post(
            f"/api/v2/team/{team_id}/webhook",
            headers={"Authorization": TOKEN},
            json={"endpoint": f"{stack.gateway_url}/webhooks/clickup", "events": "*"},
        )
        hook = created.json()["webhook"]
        await stack.hub.server.webhooks.register("clickup", hook["id"], tenant[0], tenant[1], team_id, hook["secret"])
        await client.put("/_sandbox/config", json={"hold_deliveries": True})
        mutations = await mutate(client, stack.sandbox, 200, seed=4)
        flushed = await client.post(
            "/_sandbox/webhooks/flush", json={"duplicate": 3, "shuffle": True, "seed": 9, "timeout": 120}
        )
        assert flushed.json()["flushed"] >= 3 * mutations
        deliveries = (await client.get("/_sandbox/deliveries")).json()["deliveries"]
    assert all(d["delivered"] for d in deliveries), "the gateway answered 2xx to every delivery"

    # Polled from a thread: the server under test runs on this event loop and must keep running.
    await asyncio.to_thread(wait_until, lambda: settled(neo4j_driver, tenant), 120, "every event applied")
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (e:WebhookEvent {orgId: $o, projectId: $p}) "
        "RETURN count(e) AS events, collect(DISTINCT e.deliveries) AS deliveries, sum(e.attempts) AS attempts",
        o=tenant[0],
        p=tenant[1],
    )
    assert records[0]["events"] * 3 == len(deliveries), "each distinct event is stored once"
    assert records[0]["deliveries"] == [3], "every event was delivered three times and counted"
    assert records[0]["attempts"] == records[0]["events"], "and applied exactly once"

    listed = await stack.hub.stub.ListWebhookEvents(
        pb.ListWebhookEventsRequest(
            org_id=tenant[0], project_id=tenant[1], state=pb.WEBHOOK_EVENT_STATE_APPLIED, page_size=5
        ),
        metadata=bearer(tokens.admin),
    )
    assert len(listed.events) == 5
    assert listed.next_page_token
    replayed = await stack.hub.stub.ReplayWebhookEvents(
        pb.ReplayWebhookEventsRequest(org_id=tenant[0], project_id=tenant[1], event_ids=[e.id for e in listed.events]),
        metadata=bearer(tokens.admin),
    )
    assert replayed.replayed == 5
    await asyncio.to_thread(wait_until, lambda: settled(neo4j_driver, tenant), 60, "the replay to be applied")

    fresh = (tenant[0], tenant[1] + "-fresh")
    await enable(stack.hub, TOKEN, tokens.admin, fresh)
    assert (await run_import(stack.hub, tokens.admin, fresh))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    live, reference = clean(export(neo4j_driver, tenant[1])), clean(export(neo4j_driver, fresh[1]))
    missing = sorted(set(reference) - set(live))[:5]
    extra = sorted(set(live) - set(reference))[:5]
    assert live == reference, f"missing {missing}\nextra {extra}"
