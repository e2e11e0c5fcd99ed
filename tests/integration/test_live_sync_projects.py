"""Auto-sync for several projects fed by one ClickUp account, and what a failed set-up leaves behind.

ClickUp keeps one webhook per (user, workspace, endpoint) and refuses a second with 400 WEBHOOK_003,
so each project gets an endpoint of its own; a webhook already there for a project's endpoint is
adopted; and a set-up that fails leaves auto-sync off, nothing registered and nothing in ClickUp.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import httpx
import neo4j

from graph.integration_store import IntegrationKey
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.generator import GeneratorConfig
from sandbox.clickup.state import Fault
from server.live_sync import project_endpoint
from tests.conftest import Tokens, bearer
from tests.integration.importing import enable_request, run_import
from tests.integration.live_helpers import LiveStack, StackFactory, task_name
from tests.integration.rpc import failure
from tests.support import wait_until


def auto_sync(stack: LiveStack, tenant: tuple[str, str], on: bool) -> pb.UpdateIntegrationRequest:
    return enable_request(tenant, stack.token, auto_sync=on)


async def integration(stack: LiveStack, admin: str, tenant: tuple[str, str]) -> pb.Integration:
    result: pb.Integration = await stack.hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(admin)
    )
    return result


def renamed(driver: neo4j.Driver, tenant: tuple[str, str], task_id: str) -> Callable[[], bool]:
    return lambda: task_name(driver, tenant, task_id) == "Seen by both"


SMALL = GeneratorConfig(seed=31, spaces=1, folders_per_space=1, lists_per_folder=1, tasks_per_list=4)


async def test_two_projects_of_one_clickup_account_each_get_live_sync(
    stacks: StackFactory,
    tokens: Tokens,
    tenant: tuple[str, str],
    neo4j_driver: neo4j.Driver,
) -> None:
    first, second = tenant, (tenant[0], tenant[1] + "-second")
    async with stacks(SMALL) as stack:
        team_id = next(iter(stack.sandbox.world.teams))
        views = {}
        for project in (first, second):
            await stack.hub.stub.UpdateIntegration(auto_sync(stack, project, False), metadata=bearer(tokens.admin))
            assert (await run_import(stack.hub, tokens.admin, project))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
            views[project] = await stack.hub.stub.UpdateIntegration(
                auto_sync(stack, project, True), metadata=bearer(tokens.admin)
            )
        assert [(w.workspace_id, w.status) for w in views[first].webhooks] == [(team_id, "active")]
        assert [(w.workspace_id, w.status) for w in views[second].webhooks] == [(team_id, "active")]
        first_id, second_id = views[first].webhooks[0].id, views[second].webhooks[0].id
        assert first_id != second_id, "one ClickUp webhook per project"
        hooks = stack.sandbox.hub.webhooks
        assert set(hooks) == {first_id, second_id}
        public = f"{stack.gateway_url}/webhooks/clickup"
        assert hooks[first_id].endpoint == project_endpoint(public, IntegrationKey(*first, "clickup"))
        assert hooks[second_id].endpoint == project_endpoint(public, IntegrationKey(*second, "clickup"))

        task = min((t for t in stack.sandbox.world.tasks.values() if t.parent is None), key=lambda t: t.id)
        async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as admin:
            assert (await admin.patch(f"/_sandbox/tasks/{task.id}", json={"name": "Seen by both"})).status_code < 300
        for project in (first, second):  # each webhook, through the real gateway, feeds its own project
            await asyncio.to_thread(wait_until, renamed(neo4j_driver, project, task.id), 30, f"the change in {project}")

        off = await stack.hub.stub.UpdateIntegration(auto_sync(stack, first, False), metadata=bearer(tokens.admin))
        assert list(off.webhooks) == []
        assert set(stack.sandbox.hub.webhooks) == {second_id}, "turning one project off leaves the other's webhook"


async def test_a_webhook_left_for_the_projects_endpoint_is_adopted(
    stacks: StackFactory, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    async with stacks(SMALL) as stack:
        team_id = next(iter(stack.sandbox.world.teams))
        endpoint = project_endpoint(f"{stack.gateway_url}/webhooks/clickup", IntegrationKey(*tenant, "clickup"))
        async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as client:
            left = (  # as after a crash between ClickUp's answer and our registration
                await client.post(
                    f"/api/v2/team/{team_id}/webhook",
                    headers={"Authorization": stack.token},
                    json={"endpoint": endpoint, "events": ["taskCreated"]},
                )
            ).json()["webhook"]
        stack.sandbox.hub.webhooks[left["id"]].status = "suspended"

        enabled = await stack.hub.stub.UpdateIntegration(auto_sync(stack, tenant, True), metadata=bearer(tokens.admin))

        assert [w.id for w in enabled.webhooks] == [left["id"]], "the existing webhook is adopted, not duplicated"
        assert list(stack.sandbox.hub.webhooks) == [left["id"]]
        hook = stack.sandbox.hub.webhooks[left["id"]]
        assert (hook.events, hook.status) == (["*"], "active"), "adopted webhooks send every event again"
        answer = await stack.hub.stub.GetWebhookSecret(
            pb.GetWebhookSecretRequest(integration="clickup", webhook_id=left["id"]), metadata=bearer(tokens.gateway)
        )
        assert answer.secret == left["secret"], "deliveries of the adopted webhook verify"


async def test_a_failed_set_up_leaves_auto_sync_off_and_nothing_behind(
    stacks: StackFactory, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    config = GeneratorConfig(seed=37, workspaces=2, spaces=1, folders_per_space=1, lists_per_folder=1, tasks_per_list=2)
    async with stacks(config) as stack:
        first_team, second_team = sorted(stack.sandbox.world.teams)
        stack.sandbox.faults.append(Fault(path=rf"/team/{second_team}/webhook$", status=500))

        refused = await failure(
            stack.hub.stub.UpdateIntegration(auto_sync(stack, tenant, True), metadata=bearer(tokens.admin))
        )

        assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
        assert refused.reason == "LIVE_SYNC_FAILED"
        assert f"POST /team/{second_team}/webhook" in refused.message, "the error names the method really sent"
        assert "GET /team/" not in refused.message
        stored = await integration(stack, tokens.admin, tenant)
        assert stored.enabled, "the rest of the update was saved"
        assert not stored.settings.sync_settings.auto_sync, "no saved state claims a live sync that does not exist"
        assert list(stored.webhooks) == []
        assert "live sync" in stored.sync_state.last_error
        assert stack.sandbox.hub.webhooks == {}, f"the webhook made for workspace {first_team} was deleted again"

        retried = await stack.hub.stub.UpdateIntegration(auto_sync(stack, tenant, True), metadata=bearer(tokens.admin))
        assert sorted(w.workspace_id for w in retried.webhooks) == [first_team, second_team]
        assert retried.settings.sync_settings.auto_sync


async def test_a_webhook_deleted_in_clickup_is_replaced_and_the_gap_repaired(
    stacks: StackFactory, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    async with stacks(SMALL) as stack:
        await stack.hub.stub.UpdateIntegration(auto_sync(stack, tenant, False), metadata=bearer(tokens.admin))
        assert (await run_import(stack.hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
        enabled = await stack.hub.stub.UpdateIntegration(auto_sync(stack, tenant, True), metadata=bearer(tokens.admin))
        gone = enabled.webhooks[0].id
        del stack.sandbox.hub.webhooks[gone]  # deleted in ClickUp: nothing is delivered any more
        task = min((t for t in stack.sandbox.world.tasks.values() if t.parent is None), key=lambda t: t.id)
        async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as admin:
            assert (await admin.patch(f"/_sandbox/tasks/{task.id}", json={"name": "Seen by both"})).status_code < 300
        live = stack.hub.server.live_sync
        assert live is not None

        await live.check_once()

        now = await integration(stack, tokens.admin, tenant)
        assert [(w.status, w.id != gone) for w in now.webhooks] == [("active", True)]
        assert list(stack.sandbox.hub.webhooks) == [now.webhooks[0].id], "a new webhook replaced the deleted one"
        assert renamed(neo4j_driver, tenant, task.id)(), "and the gap it left was repaired"
