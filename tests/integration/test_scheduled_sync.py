"""Issue 15: the supervisor's scheduled sync is an INCREMENTAL import job.

Once per sync interval (one replica, by lease) every integration with auto-sync on that imports
incrementally gets an INCREMENTAL ``ImportJob``: a change no webhook delivered reaches the graph
through it. A second check within the interval starts none; an active job covers the round; a project
never fully imported gets no job, only the reason (a WARNING once per interval, and the sync state's
last error).
"""

from __future__ import annotations

import logging

import httpx
import neo4j
import pytest

from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.generator import GeneratorConfig
from sandbox.clickup.state import Fault
from server.live_sync import LiveSync
from tests.conftest import RunningHub, Tokens, bearer
from tests.integration.importing import enable_request, run_import, watch
from tests.integration.live_helpers import LiveStack, StackFactory, task_name

SMALL = GeneratorConfig(seed=47, spaces=1, folders_per_space=1, lists_per_folder=1, tasks_per_list=4)


def supervisor(stack: LiveStack) -> LiveSync:
    live = stack.hub.server.live_sync
    assert live is not None
    return live


async def jobs_of(hub: RunningHub, admin: str, tenant: tuple[str, str]) -> list[pb.ImportJob]:
    """The tenant's ClickUp jobs, newest first."""
    listed = await hub.stub.ListImportJobs(
        pb.ListImportJobsRequest(org_id=tenant[0], project_id=tenant[1], name="clickup", page_size=100),
        metadata=bearer(admin),
    )
    return list(listed.jobs)


def incremental(jobs: list[pb.ImportJob]) -> list[pb.ImportJob]:
    return [j for j in jobs if j.mode == pb.IMPORT_MODE_INCREMENTAL]


async def last_error(stack: LiveStack, admin: str, tenant: tuple[str, str]) -> str:
    found = await stack.hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(admin)
    )
    return found.sync_state.last_error


def lines_about(caplog: pytest.LogCaptureFixture, tenant: tuple[str, str], level: int) -> list[str]:
    """This tenant's lines of the supervisor (the shared database holds earlier tests' projects too)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "server.live_sync" and r.levelno == level and tenant[1] in r.getMessage()
    ]


async def live_after_full_import(stack: LiveStack, admin: str, tenant: tuple[str, str]) -> pb.Integration:
    await stack.hub.stub.UpdateIntegration(enable_request(tenant, stack.token), metadata=bearer(admin))
    assert (await run_import(stack.hub, admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    live: pb.Integration = await stack.hub.stub.UpdateIntegration(
        enable_request(tenant, stack.token, auto_sync=True), metadata=bearer(admin)
    )
    assert [w.status for w in live.webhooks] == ["active"]
    return live


async def unannounced(stack: LiveStack, method: str, path: str, body: dict[str, str] | None = None) -> None:
    """A change made in the sandbox whose webhook event is held: ClickUp "lost" it."""
    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as client:
        assert (await client.put("/_sandbox/config", json={"hold_deliveries": True})).status_code < 300
        answer = await client.request(method, path, json=body)
        assert answer.status_code < 300, answer.text
    assert stack.sandbox.hub.held, "the change's event was not delivered"


async def auto_sync_off(stack: LiveStack, admin: str, tenant: tuple[str, str]) -> None:
    """The held events dropped and the integration's auto-sync (and webhook) off, for the next test."""
    stack.sandbox.hub.held.clear()
    await stack.hub.stub.UpdateIntegration(enable_request(tenant, stack.token), metadata=bearer(admin))


async def test_a_change_no_webhook_delivered_arrives_by_the_scheduled_incremental_import_once_per_interval(
    stacks: StackFactory,
    tokens: Tokens,
    tenant: tuple[str, str],
    neo4j_driver: neo4j.Driver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = tokens.admin
    async with stacks(SMALL) as stack:
        await live_after_full_import(stack, admin, tenant)
        task = min((t for t in stack.sandbox.world.tasks.values() if t.parent is None), key=lambda t: t.id)
        await unannounced(stack, "PATCH", f"/_sandbox/tasks/{task.id}", {"name": "Changed without an event"})
        assert task_name(neo4j_driver, tenant, task.id) != "Changed without an event"

        with caplog.at_level(logging.INFO, logger="server.live_sync"):
            await supervisor(stack).check_once()
        (job,) = incremental(await jobs_of(stack.hub, admin, tenant))
        ended = (await watch(stack.hub, admin, tenant, job.id))[-1]
        assert ended.state == pb.IMPORT_JOB_STATE_SUCCEEDED, ended.error
        assert ended.kind == pb.IMPORT_JOB_KIND_IMPORT
        assert ended.mode == pb.IMPORT_MODE_INCREMENTAL
        assert task_name(neo4j_driver, tenant, task.id) == "Changed without an event"
        assert any(f"scheduled incremental sync {job.id} queued for" in line for line in caplog.messages)
        records, _, _ = neo4j_driver.execute_query("MATCH (j:ImportJob {id: $id}) RETURN j.requestId AS r", id=job.id)
        assert records[0]["r"].startswith("scheduled-sync:"), "the job says the supervisor asked for it"

        await supervisor(stack).check_once()  # within the interval (15 min by default)
        assert [j.id for j in incremental(await jobs_of(stack.hub, admin, tenant))] == [job.id], "no second job"

        await auto_sync_off(stack, admin, tenant)


async def test_an_active_import_covers_the_scheduled_sync_of_its_round(
    stacks: StackFactory, tokens: Tokens, tenant: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    admin = tokens.admin
    async with stacks(SMALL) as stack:
        await live_after_full_import(stack, admin, tenant)
        # A second full import, held up on its first task page for as long as the check takes.
        stack.sandbox.faults.append(Fault(path=r"/team/\d+/task$", delay_seconds=8.0, times=1))
        full = await stack.hub.stub.StartImport(
            pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(admin)
        )

        with caplog.at_level(logging.INFO, logger="server.live_sync"):
            await supervisor(stack).check_once()

        assert (await watch(stack.hub, admin, tenant, full.id))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
        assert any(f"job {full.id} is active" in line for line in lines_about(caplog, tenant, logging.INFO))
        await supervisor(stack).check_once()  # the round's duty is done: no sync right after the import
        jobs = await jobs_of(stack.hub, admin, tenant)
        assert incremental(jobs) == [], [(j.id, j.mode, j.state) for j in jobs]
        await auto_sync_off(stack, admin, tenant)


async def test_a_project_never_fully_imported_gets_no_scheduled_sync_but_the_reason_once(
    stacks: StackFactory, tokens: Tokens, tenant: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    admin = tokens.admin
    async with stacks(SMALL) as stack:
        live = await stack.hub.stub.UpdateIntegration(
            enable_request(tenant, stack.token, auto_sync=True), metadata=bearer(admin)
        )
        assert [w.status for w in live.webhooks] == ["active"]

        with caplog.at_level(logging.INFO, logger="server.live_sync"):
            await supervisor(stack).check_once()
            await supervisor(stack).check_once()  # within the interval: not said again

        assert await jobs_of(stack.hub, admin, tenant) == [], "no job started"
        error = await last_error(stack, admin, tenant)
        assert "run a FULL import" in error, error
        warnings = lines_about(caplog, tenant, logging.WARNING)
        assert len(warnings) == 1, warnings
        assert "scheduled incremental sync not started" in warnings[0]
        await auto_sync_off(stack, admin, tenant)


async def test_a_day_after_the_last_full_import_the_scheduled_sync_is_a_full_one_and_sweeps(
    stacks: StackFactory,
    tokens: Tokens,
    tenant: tuple[str, str],
    neo4j_driver: neo4j.Driver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A deletion no webhook told of: an incremental run cannot see it, the periodic full import's
    sweep removes it (FULL_IMPORT_EVERY_HOURS, a day by default)."""
    admin = tokens.admin
    async with stacks(SMALL) as stack:
        await live_after_full_import(stack, admin, tenant)
        task = min((t for t in stack.sandbox.world.tasks.values() if t.parent is None), key=lambda t: t.id)
        await unannounced(stack, "DELETE", f"/_sandbox/tasks/{task.id}")
        assert task_name(neo4j_driver, tenant, task.id) is not None, "the deletion was not applied"
        # The last full import, a day ago.
        neo4j_driver.execute_query(
            "MATCH (s:SyncState {orgId: $o, projectId: $p, integration: 'clickup'}) "
            "SET s.lastFullImportAt = datetime() - duration({hours: 24, minutes: 1})",
            o=tenant[0],
            p=tenant[1],
        )

        with caplog.at_level(logging.INFO, logger="server.live_sync"):
            await supervisor(stack).check_once()
        newest = (await jobs_of(stack.hub, admin, tenant))[0]
        ended = (await watch(stack.hub, admin, tenant, newest.id))[-1]
        assert ended.state == pb.IMPORT_JOB_STATE_SUCCEEDED, ended.error
        assert ended.mode == pb.IMPORT_MODE_FULL
        assert any(f"scheduled full import {newest.id} queued" in line for line in caplog.messages)
        assert task_name(neo4j_driver, tenant, task.id) is None, "the full import's sweep removed the task"

        await auto_sync_off(stack, admin, tenant)
