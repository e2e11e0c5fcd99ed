"""The README's "blocked tasks" query, run as written on one project holding ClickUp and Jira data:
it must return the blocked tasks of both sources, as each sandbox's own model says they are."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import neo4j
import pytest
from google.protobuf import field_mask_pb2

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup import app as clickup_app
from sandbox.clickup import generator as clickup_generator
from sandbox.clickup.state import Sandbox as ClickUpSandbox
from sandbox.jira.app import create_app
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig, generate
from sandbox.jira.state import Sandbox
from tests.conftest import RunningHub, Tokens, bearer, hub_with, server_env
from tests.integration.importing import enable, run_import, watch
from tests.support import UvicornThread

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_query(title: str) -> str:
    """The Cypher statement under ``// <title>`` in the README's query block, as a reader copies it."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^// {re.escape(title)}[^\n]*\n(.*?;)\n", text, re.M | re.S)
    assert match, f"the README has no query titled {title!r}"
    return match.group(1).rstrip(";")


@pytest.fixture(scope="module")
def jira_site() -> Iterator[tuple[str, Sandbox]]:
    sandbox = Sandbox(generate(GeneratorConfig(seed=5, projects=2, issues_per_project=30)))
    with UvicornThread(create_app(sandbox)) as server:
        yield server.url, sandbox


@pytest.fixture(scope="module")
def clickup_site() -> Iterator[tuple[str, ClickUpSandbox]]:
    """A generated workspace: the test-vector one has no dependencies."""
    world = clickup_generator.generate(clickup_generator.GeneratorConfig(seed=3, tasks_per_list=10))
    sandbox = ClickUpSandbox(world)
    with UvicornThread(clickup_app.create_app(sandbox)) as server:
        yield server.url + "/api/v2", sandbox


@pytest.fixture
async def hub(
    neo4j_connection: Connection, tokens: Tokens, clickup_site: tuple[str, ClickUpSandbox], encryption_keys: str
) -> AsyncIterator[RunningHub]:
    async with hub_with(server_env(neo4j_connection, tokens, clickup_site[0], encryption_keys)) as running:
        yield running


async def test_the_readme_blocked_tasks_query_reads_clickup_and_jira_alike(
    hub: RunningHub,
    tokens: Tokens,
    tenant: tuple[str, str],
    clickup_site: tuple[str, ClickUpSandbox],
    jira_site: tuple[str, Sandbox],
    neo4j_driver: neo4j.Driver,
) -> None:
    clickup = clickup_site[1]
    await enable(hub, next(iter(clickup.world.tokens)), tokens.admin, tenant)
    assert (await run_import(hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    url, jira = jira_site
    settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=MAIN_TOKEN)
    settings.options.update({"site_url": url, "email": MAIN_EMAIL, "include_archived": True})
    await hub.stub.UpdateIntegration(
        pb.UpdateIntegrationRequest(
            org_id=tenant[0],
            project_id=tenant[1],
            integration=pb.Integration(name="jira", enabled=True, settings=settings),
            update_mask=field_mask_pb2.FieldMask(paths=["settings", "enabled"]),
        ),
        metadata=bearer(tokens.admin),
    )
    job = await hub.stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="jira"), metadata=bearer(tokens.admin)
    )
    assert (await watch(hub, tokens.admin, tenant, job.id))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED

    records, _, _ = neo4j_driver.execute_query(readme_query("Blocked tasks from every source"), project=tenant[1])
    found = {(r["source"], r["id"]): sorted(r["waiting_on"]) for r in records}

    world = clickup.world
    expected: dict[tuple[str, str], list[str]] = {}
    for task in world.tasks.values():
        open_blockers = [b for b in task.depends_on if world.status_of(world.tasks[b]).type != "closed"]
        if open_blockers:
            expected[("clickup", task.id)] = sorted(world.tasks[b].name for b in open_blockers)
    site = jira.site
    viewer = site.api_tokens[MAIN_TOKEN]
    visible = {i.id for i in site.issues.values() if site.can_browse(viewer, site.projects[i.project_id])}
    for link in site.links.values():
        blocker, blocked = site.issues.get(link.outward_from), site.issues.get(link.inward_to)
        if site.link_types[link.type_id].name != "Blocks" or blocker is None or blocked is None:
            continue
        if {blocker.id, blocked.id} <= visible and site.statuses[blocker.status_id].category_id != 3:
            expected.setdefault(("jira", blocked.id), []).append(blocker.summary)
    expected = {key: sorted(names) for key, names in expected.items()}

    assert {source for source, _ in expected} == {"clickup", "jira"}, "both sandboxes hold blocked tasks"
    assert found == expected
