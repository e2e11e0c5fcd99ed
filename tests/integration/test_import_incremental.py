"""Incremental imports: calls in proportion to what changed, only the changed records written, and the
same graph as a full import of the same state."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import httpx
import neo4j
import pytest

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from sandbox.jira.generator import MAIN_TOKEN
from sandbox.jira.generator import GeneratorConfig as JiraConfig
from tests.conftest import RunningHub, Tokens, bearer, hub_with, serve_world, server_env
from tests.integration.importing import enable, export, watch
from tests.integration.rpc import failure
from tests.integration.test_jira_import import configure
from tests.integration.test_jira_live_sync import export as jira_export
from tests.jira_sites import serving

TOKEN = "pk_5550001_INCREMENTALSANDBOX00000000000000"


@dataclass
class Stack:
    hub: RunningHub
    sandbox: Sandbox
    url: str


@pytest.fixture(scope="module")
async def stack(neo4j_connection: Connection, tokens: Tokens, encryption_keys: str) -> AsyncIterator[Stack]:
    with serve_world(
        generate(GeneratorConfig(seed=53, spaces=1, tasks_per_list=12)), TOKEN, rate_limited=False
    ) as clickup:
        async with hub_with(server_env(neo4j_connection, tokens, clickup.api_url, encryption_keys)) as hub:
            yield Stack(hub, clickup.sandbox, clickup.url)


async def run(stack: Stack, admin: str, tenant: tuple[str, str], mode: pb.ImportMode.ValueType) -> pb.ImportJob:
    job = await stack.hub.stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup", mode=mode), metadata=bearer(admin)
    )
    ended = (await watch(stack.hub, admin, tenant, job.id))[-1]
    assert ended.state == pb.IMPORT_JOB_STATE_SUCCEEDED, ended.error
    return ended


def task_pages(calls: Counter[str]) -> int:
    return sum(
        count for path, count in calls.items() if path.startswith("GET /api/v2/team/") and path.endswith("/task")
    )


async def test_an_incremental_import_reads_and_writes_only_what_changed_and_ends_as_a_full_one(
    stack: Stack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    world = stack.sandbox.world
    await enable(stack.hub, TOKEN, tokens.admin, tenant)
    first = await run(stack, tokens.admin, tenant, pb.IMPORT_MODE_UNSPECIFIED)
    assert first.mode == pb.IMPORT_MODE_FULL, "a full import is the default"
    watermark = max(t.date_updated for t in world.tasks.values())

    tasks = sorted((t for t in world.tasks.values() if t.parent is None and not t.archived), key=lambda t: t.id)
    lists = sorted(world.lists)
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        for n, task in enumerate(tasks[:5]):
            assert (await client.patch(f"/_sandbox/tasks/{task.id}", json={"name": f"Changed {n}"})).status_code == 200
        moved = tasks[5]
        target = next(x for x in lists if x != moved.list_id and not world.lists[x].archived)
        answer = await client.post(f"/_sandbox/tasks/{moved.id}/move", json={"list_id": target})
        assert answer.status_code == 200, answer.text

    # What ClickUp lists as changed since the watermark, less the overlap: the bound the import uses.
    bound = watermark - 5 * 60 * 1000
    listed = [t for t in world.tasks.values() if t.date_updated > bound]
    stack.sandbox.calls.clear()
    incremental = await run(stack, tokens.admin, tenant, pb.IMPORT_MODE_INCREMENTAL)
    assert incremental.mode == pb.IMPORT_MODE_INCREMENTAL
    calls = Counter(stack.sandbox.calls)
    pages = task_pages(calls)
    hierarchy = sum(calls.values()) - pages
    assert pages == 2 * max(1, math.ceil(len(listed) / 99)), "live and archived listings, changed tasks only"
    assert incremental.api_calls == hierarchy + pages
    assert incremental.counters["task"] == len(listed), "it saw exactly what changed (and the overlap)"
    # Written: the six changed tasks, and the two lists whose task count the move changed.
    assert incremental.counters["nodes_written"] == 6 + 2
    state = await stack.hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    assert state.sync_state.last_import_job_id == incremental.id
    assert state.sync_state.last_full_import_time.ToDatetime() <= incremental.create_time.ToDatetime()

    fresh = (tenant[0], tenant[1] + "-fresh")
    await enable(stack.hub, TOKEN, tokens.admin, fresh)
    await run(stack, tokens.admin, fresh, pb.IMPORT_MODE_FULL)
    assert export(neo4j_driver, tenant[1]) == export(neo4j_driver, fresh[1])


async def test_an_incremental_import_needs_a_full_one_first(
    stack: Stack, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    await enable(stack.hub, TOKEN, tokens.admin, tenant)
    refused = await failure(
        stack.hub.stub.StartImport(
            pb.StartImportRequest(
                org_id=tenant[0], project_id=tenant[1], name="clickup", mode=pb.IMPORT_MODE_INCREMENTAL
            ),
            metadata=bearer(tokens.admin),
        )
    )
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_FULL_IMPORT")
    bad = await failure(
        stack.hub.stub.StartImport(
            pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup", mode=7),  # type: ignore[arg-type]
            metadata=bearer(tokens.admin),
        )
    )
    assert (bad.code, bad.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["mode"])


async def test_a_jira_incremental_import_reads_only_the_changed_issues(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    with serving(JiraConfig(seed=57, projects=2, issues_per_project=15)) as site:
        await configure(hub, tokens.admin, tenant, site, MAIN_TOKEN)
        first = await jira_import(hub, tokens.admin, tenant, pb.IMPORT_MODE_FULL)
        issues = sorted(site.sandbox.site.issues.values(), key=lambda i: int(i.id))
        async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
            for n, issue in enumerate(issues[:3]):
                answer = await client.patch(f"/_sandbox/issues/{issue.id}", json={"summary": f"Changed {n}"})
                assert answer.status_code == 200, answer.text
        incremental = await jira_import(hub, tokens.admin, tenant, pb.IMPORT_MODE_INCREMENTAL)
        assert incremental.counters["issue"] < first.counters["issue"], "not every issue was read again"
        assert incremental.counters["issue"] >= 3
        assert incremental.counters["nodes_written"] == 3, "the three renamed issues, nothing else"
        fresh = (tenant[0], tenant[1] + "-fresh")
        await configure(hub, tokens.admin, fresh, site, MAIN_TOKEN)
        await jira_import(hub, tokens.admin, fresh, pb.IMPORT_MODE_FULL)
    assert jira_export(neo4j_driver, tenant[1]) == jira_export(neo4j_driver, fresh[1])


async def jira_import(
    hub: RunningHub, admin: str, tenant: tuple[str, str], mode: pb.ImportMode.ValueType
) -> pb.ImportJob:
    job = await hub.stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="jira", mode=mode), metadata=bearer(admin)
    )
    ended = (await watch(hub, admin, tenant, job.id))[-1]
    assert ended.state == pb.IMPORT_JOB_STATE_SUCCEEDED, ended.error
    return ended
