"""Gap repair (of a re-activated webhook) never skips a workspace silently: without a watermark it starts
from the last import's start, and a workspace no import has covered is reported (a WARNING and the sync
state's last error)."""

from __future__ import annotations

import logging

import httpx
import neo4j
import pytest

from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.generator import GeneratorConfig
from server.live_sync import LiveSync
from tests.conftest import Tokens, bearer
from tests.integration.importing import enable_request, run_import
from tests.integration.live_helpers import LiveStack, StackFactory, task_name

EMPTY = GeneratorConfig(seed=41, spaces=1, folders_per_space=1, lists_per_folder=1, tasks_per_list=0)


async def state(stack: LiveStack, admin: str, tenant: tuple[str, str]) -> pb.Integration:
    found: pb.Integration = await stack.hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(admin)
    )
    return found


def supervisor(stack: LiveStack) -> LiveSync:
    live = stack.hub.server.live_sync
    assert live is not None
    return live


async def test_a_workspace_imported_without_tasks_is_repaired_from_the_import_start(
    stacks: StackFactory, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    async with stacks(EMPTY) as stack:
        await stack.hub.stub.UpdateIntegration(enable_request(tenant, stack.token), metadata=bearer(tokens.admin))
        assert (await run_import(stack.hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
        team_id = next(iter(stack.sandbox.world.teams))
        assert dict((await state(stack, tokens.admin, tenant)).sync_state.workspace_watermarks) == {}
        enabled = await stack.hub.stub.UpdateIntegration(
            enable_request(tenant, stack.token, auto_sync=True), metadata=bearer(tokens.admin)
        )
        hook = stack.sandbox.hub.webhooks[enabled.webhooks[0].id]
        hook.status = "suspended"  # ClickUp sends nothing more: only a gap repair can see what follows
        list_id = next(iter(stack.sandbox.world.lists))
        async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as admin:
            created = (await admin.post("/_sandbox/tasks", json={"list_id": list_id, "name": "Made in the gap"})).json()

        await supervisor(stack).check_once()

        assert hook.status == "active"
        assert task_name(neo4j_driver, tenant, created["id"]) == "Made in the gap"
        marks = (await state(stack, tokens.admin, tenant)).sync_state.workspace_watermarks
        assert marks[team_id].ToMilliseconds() >= int(created["date_updated"]), "the repair left a watermark"


async def test_a_workspace_no_import_covered_is_reported_not_skipped(
    stacks: StackFactory, tokens: Tokens, tenant: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    async with stacks(EMPTY) as stack:
        enabled = await stack.hub.stub.UpdateIntegration(
            enable_request(tenant, stack.token, auto_sync=True), metadata=bearer(tokens.admin)
        )
        stack.sandbox.hub.webhooks[enabled.webhooks[0].id].status = "suspended"
        team_id = next(iter(stack.sandbox.world.teams))

        with caplog.at_level(logging.WARNING, logger="server.live_sync"):
            await supervisor(stack).check_once()

        reported = [r.getMessage() for r in caplog.records if r.name == "server.live_sync"]
        assert any(f"gap repair of workspace {team_id} skipped" in line for line in reported), reported
        assert any(team_id in line and "start a full import" in line for line in reported), reported
        # The scheduled sync (an INCREMENTAL import) that follows the checks says the same in the sync
        # state: nothing is synced until a full import has run.
        last_error = (await state(stack, tokens.admin, tenant)).sync_state.last_error
        assert "full import" in last_error.lower(), last_error
