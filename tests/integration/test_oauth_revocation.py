"""A grant revoked in ClickUp: the integration waits for a new sign-in (imports refused, live sync
paused, webhook events kept), and a new sign-in resumes it and applies what was kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import neo4j
import pytest
from google.protobuf import field_mask_pb2

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.generator import GeneratorConfig
from tests.conftest import Tokens, bearer
from tests.integration.importing import run_import, watch
from tests.integration.live_helpers import LiveStack, live_stack, task_name
from tests.integration.oauth_helpers import complete, consent, start
from tests.integration.rpc import failure
from tests.support import wait_for, wait_until

TOKEN = "pk_5550001_REVOKESANDBOX0000000000000000"


@pytest.fixture
async def stack(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path
) -> AsyncIterator[LiveStack]:
    config = GeneratorConfig(seed=41, spaces=1, tasks_per_list=4)
    async with live_stack(config, TOKEN, neo4j_connection, tokens, encryption_keys, tmp_path) as running:
        yield running


async def sign_in(stack: LiveStack, admin: str, tenant: tuple[str, str]) -> pb.CompleteAuthorizationResponse:
    started = await start(stack.hub, admin, tenant)
    redirect = await consent(started.authorization_url)
    return await complete(stack.hub, admin, tenant, started.state, code=redirect["code"])


async def status(stack: LiveStack, admin: str, tenant: tuple[str, str]) -> pb.Integration:
    request = pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup")
    found: pb.Integration = await stack.hub.stub.GetIntegration(request, metadata=bearer(admin))
    return found


async def events(
    stack: LiveStack, admin: str, tenant: tuple[str, str], state: pb.WebhookEventState.ValueType
) -> list[str]:
    listed = await stack.hub.stub.ListWebhookEvents(
        pb.ListWebhookEventsRequest(org_id=tenant[0], project_id=tenant[1], state=state, page_size=100),
        metadata=bearer(admin),
    )
    return [event.object_id for event in listed.events]


async def test_a_revoked_grant_pauses_the_integration_and_a_new_sign_in_resumes_it(
    stack: LiveStack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    admin = tokens.admin
    connected = await sign_in(stack, admin, tenant)
    assert connected.integration.settings.auth_method == pb.AUTH_METHOD_OAUTH
    assert (await run_import(stack.hub, admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    settings = pb.IntegrationSettings()
    settings.sync_settings.auto_sync = True
    live = await stack.hub.stub.UpdateIntegration(
        pb.UpdateIntegrationRequest(
            org_id=tenant[0],
            project_id=tenant[1],
            integration=pb.Integration(name="clickup", settings=settings),
            update_mask=field_mask_pb2.FieldMask(paths=["settings.sync_settings.auto_sync"]),
        ),
        metadata=bearer(admin),
    )
    assert [w.status for w in live.webhooks] == ["active"]

    granted = [token for token in stack.sandbox.world.tokens if not token.startswith("pk_")]
    assert len(granted) == 1, "one OAuth token, issued by the sign-in"
    task = sorted((t for t in stack.sandbox.world.tasks.values() if t.parent is None), key=lambda t: t.id)[0]
    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as admin_api:
        revoked = await admin_api.post("/_sandbox/oauth/revoke", json={"token": granted[0]})
        assert revoked.status_code == 200, revoked.text
        changed = await admin_api.patch(f"/_sandbox/tasks/{task.id}", json={"name": "Renamed while revoked"})
        assert changed.status_code == 200, changed.text

    async def held() -> bool:
        return task.id in await events(stack, admin, tenant, pb.WEBHOOK_EVENT_STATE_HELD)

    await wait_for(held, 30, "the event of a revoked grant to be held")
    paused = await status(stack, admin, tenant)
    assert paused.connection_status == pb.CONNECTION_STATUS_NEEDS_REAUTHORIZATION
    assert "OAUTH_0" in paused.last_error
    assert task_name(neo4j_driver, tenant, task.id) != "Renamed while revoked"
    refused = await failure(
        stack.hub.stub.StartImport(
            pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(admin)
        )
    )
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NEEDS_REAUTHORIZATION")

    again = await sign_in(stack, admin, tenant)
    assert again.integration.connection_status == pb.CONNECTION_STATUS_CONNECTED
    assert again.integration.settings.sync_settings.auto_sync, "a reconnect keeps the project's settings"
    await asyncio.to_thread(
        wait_until,
        lambda: task_name(neo4j_driver, tenant, task.id) == "Renamed while revoked",
        30,
        "the kept event to be applied after the new sign-in",
    )

    async def applied() -> bool:  # the graph changes first, then the event is marked: wait for both
        return task.id in await events(stack, admin, tenant, pb.WEBHOOK_EVENT_STATE_APPLIED)

    await wait_for(applied, 30, "the kept event to be marked applied")
    assert (await run_import(stack.hub, admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED


async def test_an_import_that_meets_a_revoked_grant_pauses_and_a_new_sign_in_resumes_it(
    stack: LiveStack, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    admin = tokens.admin
    await sign_in(stack, admin, tenant)
    granted = [token for token in stack.sandbox.world.tokens if not token.startswith("pk_")]
    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as admin_api:
        assert (await admin_api.post("/_sandbox/oauth/revoke", json={"token": granted[0]})).status_code == 200

    paused = (await run_import(stack.hub, admin, tenant))[-1]  # ClickUp says so only once asked
    assert paused.state == pb.IMPORT_JOB_STATE_FAILED
    assert paused.error.startswith("paused until a new sign-in"), paused.error
    assert (await status(stack, admin, tenant)).connection_status == pb.CONNECTION_STATUS_NEEDS_REAUTHORIZATION

    await sign_in(stack, admin, tenant)
    jobs = await stack.hub.stub.ListImportJobs(
        pb.ListImportJobsRequest(org_id=tenant[0], project_id=tenant[1], page_size=10), metadata=bearer(admin)
    )
    resumed = jobs.jobs[0]
    assert resumed.id != paused.id, "the sign-in started the paused import again"
    final = await watch(stack.hub, admin, tenant, resumed.id)
    assert final[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED, final[-1].error


async def test_an_incremental_import_paused_by_a_revoked_grant_resumes_incremental(
    stack: LiveStack, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    """The sign-in starts the paused job's kind of import again, not a full one in its place."""
    admin = tokens.admin
    await sign_in(stack, admin, tenant)
    assert (await run_import(stack.hub, admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    granted = [token for token in stack.sandbox.world.tokens if not token.startswith("pk_")]
    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as admin_api:
        assert (await admin_api.post("/_sandbox/oauth/revoke", json={"token": granted[0]})).status_code == 200

    paused = (await run_import(stack.hub, admin, tenant, pb.IMPORT_MODE_INCREMENTAL))[-1]
    assert paused.state == pb.IMPORT_JOB_STATE_FAILED
    assert paused.error.startswith("paused until a new sign-in"), paused.error

    await sign_in(stack, admin, tenant)
    jobs = await stack.hub.stub.ListImportJobs(
        pb.ListImportJobsRequest(org_id=tenant[0], project_id=tenant[1], page_size=10), metadata=bearer(admin)
    )
    resumed = jobs.jobs[0]
    assert resumed.id != paused.id, "the sign-in started the paused import again"
    assert resumed.mode == pb.IMPORT_MODE_INCREMENTAL
    final = await watch(stack.hub, admin, tenant, resumed.id)
    assert final[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED, final[-1].error
    assert final[-1].mode == pb.IMPORT_MODE_INCREMENTAL
