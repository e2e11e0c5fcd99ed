"""Auto-sync's webhook lifecycle: registered on enable, healthy in GetIntegration, revived after a
suspension with the gap repaired from the watermark, deleted on disable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import neo4j
import pytest

from devtools.neo4j_local import Connection
from graph.integration_store import IntegrationKey
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.generator import GeneratorConfig
from server.live_sync import project_endpoint
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer
from tests.integration.importing import enable, enable_request, export, run_import
from tests.integration.live_helpers import LiveStack, live_stack, task_name
from tests.integration.rpc import failure
from tests.integration.test_live_sync import clean
from tests.support import wait_until

TOKEN = "pk_5550001_LIFECYCLESANDBOX000000000000000"


def auto_sync(tenant: tuple[str, str], on: bool, token: str = TOKEN) -> pb.UpdateIntegrationRequest:
    return enable_request(tenant, token, auto_sync=on)


@pytest.fixture
async def stack(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path
) -> AsyncIterator[LiveStack]:
    config = GeneratorConfig(seed=29, spaces=1, tasks_per_list=6)
    async with live_stack(config, TOKEN, neo4j_connection, tokens, encryption_keys, tmp_path) as running:
        yield running


async def test_suspended_webhook_is_revived_and_the_gap_repaired(
    stack: LiveStack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    world = stack.sandbox.world
    await enable(stack.hub, TOKEN, tokens.admin, tenant)
    assert (await run_import(stack.hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    enabled = await stack.hub.stub.UpdateIntegration(auto_sync(tenant, True), metadata=bearer(tokens.admin))
    assert [(w.workspace_id, w.status) for w in enabled.webhooks] == [(next(iter(world.teams)), "active")]
    hook = stack.sandbox.hub.webhooks[enabled.webhooks[0].id]
    assert hook.endpoint == project_endpoint(
        f"{stack.gateway_url}/webhooks/clickup", IntegrationKey(*tenant, "clickup")
    )

    tasks = sorted((t for t in world.tasks.values() if t.parent is None), key=lambda t: t.id)
    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as admin:
        await admin.patch(f"/_sandbox/tasks/{tasks[0].id}", json={"name": "Live while healthy"})
        await asyncio.to_thread(
            wait_until,
            lambda: task_name(neo4j_driver, tenant, tasks[0].id) == "Live while healthy",
            30,
            "the webhook to apply",
        )

        hook.status = "suspended"  # as after one 410 or 100 failures: ClickUp sends nothing more
        await admin.patch(f"/_sandbox/tasks/{tasks[1].id}", json={"name": "Changed while suspended"})
        created = (
            await admin.post("/_sandbox/tasks", json={"list_id": tasks[2].list_id, "name": "Created while suspended"})
        ).json()
    assert task_name(neo4j_driver, tenant, tasks[1].id) != "Changed while suspended"

    await stack.hub.server.live_sync.check_once()  # type: ignore[union-attr]
    assert hook.status == "active", "the supervisor re-activated the webhook"
    assert task_name(neo4j_driver, tenant, tasks[1].id) == "Changed while suspended"
    assert task_name(neo4j_driver, tenant, created["id"]) == "Created while suspended"
    health = await stack.hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    assert [(w.status, w.fail_count) for w in health.webhooks] == [("active", 0)]
    assert health.sync_state.workspace_watermarks[next(iter(world.teams))].ToMilliseconds() >= int(
        created["date_updated"]
    )

    fresh = (tenant[0], tenant[1] + "-fresh")
    await enable(stack.hub, TOKEN, tokens.admin, fresh)
    assert (await run_import(stack.hub, tokens.admin, fresh))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    assert clean(export(neo4j_driver, tenant[1])) == clean(export(neo4j_driver, fresh[1]))

    disabled = await stack.hub.stub.UpdateIntegration(auto_sync(tenant, False), metadata=bearer(tokens.admin))
    assert list(disabled.webhooks) == []
    assert hook.id not in stack.sandbox.hub.webhooks, "disabling deletes the webhook in ClickUp"


async def test_auto_sync_without_a_public_url_is_refused_clearly(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], clickup_sandbox: RunningSandbox
) -> None:
    request = auto_sync(tenant, True, clickup_sandbox.token)
    refused = await failure(hub.stub.UpdateIntegration(request, metadata=bearer(tokens.admin)))
    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.reason == "NO_PUBLIC_URL"
    stored = await hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    assert stored.enabled, "the rest of the update was saved"
    assert not stored.settings.sync_settings.auto_sync, "but not a live sync that cannot exist"
    assert "WEBHOOK_PUBLIC_URL" in stored.sync_state.last_error


async def test_the_supervisor_heals_a_saved_state_its_webhooks_do_not_match(
    stack: LiveStack, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    """A server that dies between saving an update and (un)registering its webhooks leaves the two
    apart (issue 9, item 16: never a saved state that claims a live sync that does not exist). The
    supervisor's reconcile pass brings them together again."""
    hub = stack.hub.server
    assert hub.live_sync is not None
    team_id = next(iter(stack.sandbox.world.teams))
    saved_on = auto_sync(tenant, True)
    # What UpdateIntegration saves before it reconciles: saved, then "crashed" (no reconcile).
    await hub.gallery.update(tenant[0], tenant[1], saved_on.integration, saved_on.update_mask, "")
    assert await hub.live_sync.health(tenant[0], tenant[1], "clickup") == []
    await hub.live_sync.reconcile_all()
    (hook,) = await hub.live_sync.health(tenant[0], tenant[1], "clickup")
    assert hook.workspace_id == team_id
    assert hook.webhook_id in stack.sandbox.hub.webhooks

    saved_off = auto_sync(tenant, False)
    await hub.gallery.update(tenant[0], tenant[1], saved_off.integration, saved_off.update_mask, "")
    await hub.live_sync.reconcile_all()
    assert await hub.live_sync.health(tenant[0], tenant[1], "clickup") == []
    assert hook.webhook_id not in stack.sandbox.hub.webhooks, "deleted in ClickUp too"
