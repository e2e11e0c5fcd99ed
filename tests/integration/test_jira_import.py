"""The Jira plugin's first slice: an API-token connection test and a full import of a generated site
from the Jira sandbox, through the real server and Neo4j, checked against the sandbox's own truth;
then a re-import that writes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import neo4j
import pytest
from google.protobuf import field_mask_pb2

from integrations.v1 import integration_service_pb2 as pb
from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, GeneratorConfig
from tests.conftest import RunningHub, Tokens, bearer
from tests.integration.importing import watch
from tests.integration.rpc import failure
from tests.jira_sites import JiraSite, serving


@pytest.fixture(scope="module")
def jira_site() -> Iterator[JiraSite]:
    with serving(GeneratorConfig(seed=7, projects=2, issues_per_project=12)) as site:
        yield site


def count(driver: neo4j.Driver, query: str, project: str) -> int:
    records, _, _ = driver.execute_query(query, p=project)
    return int(records[0][0])


async def configure(
    hub: RunningHub, admin: str, tenant: tuple[str, str], site: JiraSite, token: str, *, include_archived: bool = False
) -> pb.Integration:
    """API-token sign-in as the main user, every project, comments included."""
    settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=token)
    settings.options.update(
        {"site_url": site.url, "email": MAIN_EMAIL, "include_comments": True, "include_archived": include_archived}
    )
    saved: pb.Integration = await hub.stub.UpdateIntegration(
        pb.UpdateIntegrationRequest(
            org_id=tenant[0],
            project_id=tenant[1],
            integration=pb.Integration(name="jira", enabled=True, settings=settings),
            update_mask=field_mask_pb2.FieldMask(paths=["settings", "enabled"]),
        ),
        metadata=bearer(admin),
    )
    return saved


async def import_once(hub: RunningHub, admin: str, tenant: tuple[str, str]) -> pb.ImportJob:
    job = await hub.stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="jira"), metadata=bearer(admin)
    )
    return (await watch(hub, admin, tenant, job.id))[-1]


async def test_a_bad_token_is_refused_before_anything_is_saved(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], jira_site: JiraSite
) -> None:
    refused = await failure(configure(hub, tokens.admin, tenant, jira_site, "ATATT3xFfGF0-not-a-real-token"))
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CONNECTION_TEST_FAILED")
    assert "Jira rejected the email and API token" in refused.message
    assert "not-a-real-token" not in refused.message


async def test_a_site_is_imported_as_the_sandbox_holds_it_and_a_reimport_writes_nothing(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], jira_site: JiraSite, neo4j_driver: neo4j.Driver
) -> None:
    saved = await configure(hub, tokens.admin, tenant, jira_site, MAIN_TOKEN)
    assert saved.connection_status == pb.CONNECTION_STATUS_CONNECTED
    async with httpx.AsyncClient(base_url=jira_site.url) as admin_api:
        truth = (await admin_api.get("/_sandbox/state")).json()

    first = await import_once(hub, tokens.admin, tenant)
    assert first.state == pb.IMPORT_JOB_STATE_SUCCEEDED, first.error
    project = tenant[1]
    sites = count(neo4j_driver, "MATCH (s:Site:Organization {projectId: $p, source: 'jira'}) RETURN count(s)", project)
    assert sites == 1
    issues = count(
        neo4j_driver,
        "MATCH (i:Issue:Task {projectId: $p, source: 'jira'}) WHERE i.stub IS NULL RETURN count(i)",
        project,
    )
    live = {p["key"] for p in await _live_projects(jira_site)}
    live_issues = sum(int(n) for key, n in truth["issuesPerProject"].items() if key in live)
    assert issues == live_issues > 0
    site = jira_site.sandbox.site
    imported = {i.id for i in site.issues.values() if site.projects[i.project_id].key in live}
    parents = count(
        neo4j_driver, "MATCH (:Issue {projectId: $p})-[r:SUBTASK_OF]->(:Issue {projectId: $p}) RETURN count(r)", project
    )
    assert parents == sum(1 for i in site.issues.values() if i.id in imported and i.parent_id in imported) > 0
    blocks = [
        link
        for link in site.links.values()
        if site.link_types[link.type_id].name == "Blocks" and {link.outward_from, link.inward_to} <= imported
    ]
    blocked = count(
        neo4j_driver, "MATCH (:Issue {projectId: $p})-[r:DEPENDS_ON]->(:Issue {projectId: $p}) RETURN count(r)", project
    )
    assert blocked == len(blocks) > 0, "one DEPENDS_ON per Blocks link (V9)"
    others = [
        link
        for link in site.links.values()
        if site.link_types[link.type_id].name != "Blocks" and {link.outward_from, link.inward_to} <= imported
    ]
    linked = count(
        neo4j_driver, "MATCH (:Issue {projectId: $p})-[r:LINKED_TO]->(:Issue {projectId: $p}) RETURN count(r)", project
    )
    assert linked == len(others) > 0, "one LINKED_TO per other link (V9)"
    epics = count(neo4j_driver, "MATCH (e:Issue:Task:Epic {projectId: $p}) RETURN count(e)", project)
    assert (
        epics
        == sum(1 for i in site.issues.values() if i.id in imported and site.issue_types[i.type_id].hierarchy_level == 1)
        > 0
    )
    viewer = site.users[site.api_tokens[MAIN_TOKEN]]
    visible = [
        c
        for c in site.comments.values()
        if c.issue_id in imported and (c.visibility is None or c.visibility in viewer.groups)
    ]
    comments = count(
        neo4j_driver, "MATCH (c:Comment {projectId: $p, source: 'jira'})-[:ON]->(:Issue) RETURN count(c)", project
    )
    assert comments == len(visible) > 100, "every comment the credential sees, past the first page of the busy issue"
    hidden = count(
        neo4j_driver, "MATCH (u:Person {projectId: $p, source: 'jira'}) WHERE u.email IS NULL RETURN count(u)", project
    )
    assert hidden >= 1, "people whose email Jira hides have none in the graph"
    assert first.api_calls > 0

    again = await import_once(hub, tokens.admin, tenant)
    assert again.state == pb.IMPORT_JOB_STATE_SUCCEEDED, again.error
    assert again.counters["properties_set"] == 0
    assert again.counters["relationships_created"] == 0


async def _live_projects(site: JiraSite) -> list[dict[str, str]]:
    """The projects the main credential sees by default (no archived ones), as the importer lists them."""
    async with httpx.AsyncClient(base_url=site.url, auth=(MAIN_EMAIL, MAIN_TOKEN)) as api:
        body = (await api.get("/rest/api/3/project/search", params={"maxResults": 100})).json()
    return [{"key": str(p["key"])} for p in body["values"]]


async def test_a_project_that_goes_out_of_view_keeps_its_issues_while_a_deleted_issue_is_tombstoned(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    """A 404 means missing *or not visible* (§7): only what a visible project no longer holds is gone."""
    with serving(GeneratorConfig(seed=19, projects=2, issues_per_project=8)) as site:
        await configure(hub, tokens.admin, tenant, site, MAIN_TOKEN)
        assert (await import_once(hub, tokens.admin, tenant)).state == pb.IMPORT_JOB_STATE_SUCCEEDED
        model = site.sandbox.site
        main = model.api_tokens[MAIN_TOKEN]
        live = [p for p in model.projects.values() if model.can_browse(main, p)]
        hidden, kept = live[0], live[1]
        hidden_issues = {i.id for i in model.issues.values() if i.project_id == hidden.id}
        doomed = next(i.id for i in model.issues.values() if i.project_id == kept.id and not model.children(i.id))
        edges_before = out_edges(neo4j_driver, tenant[1], hidden_issues)
        async with httpx.AsyncClient(base_url=site.url) as admin_api:
            assert (await admin_api.delete(f"/_sandbox/issues/{doomed}")).status_code == 200
        hidden.members = frozenset({"someone-else"})  # the credential loses access to the project
        again = await import_once(hub, tokens.admin, tenant)
    assert again.state == pb.IMPORT_JOB_STATE_SUCCEEDED, again.error
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (i:Issue {projectId: $p, source: 'jira'}) WHERE i.externalId IN $ids RETURN count(i) AS c",
        p=tenant[1],
        ids=sorted(hidden_issues),
    )
    assert records[0]["c"] == len(hidden_issues) > 0, "issues of a project out of view are not taken for deleted"
    assert out_edges(neo4j_driver, tenant[1], hidden_issues) == edges_before > 0, "nor their tags, sprints, people"
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Tombstone {projectId: $p, source: 'jira', kind: 'Issue'}) RETURN collect(t.externalId) AS ids",
        p=tenant[1],
    )
    assert records[0]["ids"] == [doomed], "the deleted issue of a visible project is tombstoned, and only it"


def out_edges(driver: neo4j.Driver, project: str, ids: set[str]) -> int:
    records, _, _ = driver.execute_query(
        "MATCH (i:Issue {projectId: $p, source: 'jira'})-[r]->() WHERE i.externalId IN $ids RETURN count(r) AS c",
        p=project,
        ids=sorted(ids),
    )
    return int(records[0]["c"])
