"""The full ClickUp import against the real Neo4j and the sandbox, over gRPC."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import neo4j
import pytest

from devtools.neo4j_local import Connection
from graph.rows import Rows
from graph.writer import GraphWriter
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup import render
from sandbox.clickup.app import create_app
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.model import World
from sandbox.clickup.state import Fault, Sandbox
from server.integrations.clickup import transform
from server.integrations.clickup.schema import SCHEMA as CLICKUP_SCHEMA
from tests.conftest import RunningHub, Tokens, bearer, server_env, start_hub
from tests.integration.importing import (
    enable,
    enable_request,
    expected_counts,
    export,
    graph_counts,
    run_import,
    tombstones,
    watch,
)
from tests.integration.rpc import failure
from tests.support import UvicornThread, wait_for


def minimal_calls(world: World) -> int:
    """The fetch plan's calls for this world: nothing can be reached with fewer."""
    live = sum(1 for t in world.tasks.values() if not t.archived)
    archived = len(world.tasks) - live
    task_pages = live // 100 + 1 + archived // 100 + 1  # pages run until a short (possibly empty) page
    per_space = 4 * len(world.spaces)  # folders and folderless lists, both archived values
    return 1 + 2 * len(world.teams) + per_space + len(world.folders) + task_pages


CONFIG = GeneratorConfig(
    seed=3,
    spaces=2,
    folders_per_space=2,
    lists_per_folder=2,
    folderless_lists_per_space=1,
    tasks_per_list=9,
    subtask_ratio=0.35,
)


@dataclass
class ImportSandbox:
    url: str
    sandbox: Sandbox
    token: str

    def reset(self) -> None:
        self.sandbox.world = generate(CONFIG)
        self.sandbox.world.tokens[self.token] = min(self.sandbox.world.users)
        self.sandbox.faults.clear()
        self.sandbox.touch()
        self.sandbox.limiter.limit = None  # rate limiting has tests of its own; these test the import


@pytest.fixture(scope="module")
def import_sandbox() -> Iterator[ImportSandbox]:
    world = generate(CONFIG)
    token = "pk_5550001_IMPORTSANDBOX00000000000000000"
    world.tokens[token] = min(world.users)
    sandbox = Sandbox(world)
    with UvicornThread(create_app(sandbox)) as server:
        yield ImportSandbox(server.url, sandbox, token)


@pytest.fixture(scope="module")
async def import_hub(
    neo4j_connection: Connection, tokens: Tokens, import_sandbox: ImportSandbox, encryption_keys: str
) -> AsyncIterator[RunningHub]:
    env = server_env(neo4j_connection, tokens, f"{import_sandbox.url}/api/v2", encryption_keys)
    env["CLICKUP_TIMEOUT_SECONDS"] = "2"
    running = await start_hub(env)
    yield running
    await running.channel.close(None)
    await running.server.stop(grace=1)


@pytest.fixture
def fresh(import_sandbox: ImportSandbox) -> ImportSandbox:
    import_sandbox.reset()
    return import_sandbox


async def test_full_import_matches_the_sandbox_exactly(
    import_hub: RunningHub, fresh: ImportSandbox, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    await enable(import_hub, fresh.token, tokens.admin, tenant)
    requests_before = fresh.sandbox.requests
    updates = await run_import(import_hub, tokens.admin, tenant)
    final = updates[-1]
    assert final.state == pb.IMPORT_JOB_STATE_SUCCEEDED, final.error
    pages = [u.pages for u in updates]
    assert pages == sorted(pages), "WatchImportJob streams increasing progress"
    assert len(updates) >= 3
    assert updates[0].state in (pb.IMPORT_JOB_STATE_QUEUED, pb.IMPORT_JOB_STATE_RUNNING)

    world = fresh.sandbox.world
    expected = expected_counts(world)
    actual = graph_counts(neo4j_driver, tenant[1])
    assert {k: actual.get(k, 0) for k in expected} == expected
    assert final.counters["task"] == len(world.tasks)
    assert final.api_calls == fresh.sandbox.requests - requests_before
    assert final.api_calls == minimal_calls(world), "the fetch plan makes no call it could avoid"

    # Everything the connectors people use today miss is there.
    records, _, _ = neo4j_driver.execute_query(
        """
        MATCH (s:Space {projectId: $p})-[:CONTAINS]->(l:List) WITH count(l) AS folderless
        MATCH (t:Task {projectId: $p}) WHERE t.statusType = 'closed' WITH folderless, count(t) AS closed
        MATCH (a:Task {projectId: $p, archived: true}) WITH folderless, closed, count(a) AS archived
        MATCH (deep:Task {projectId: $p})-[:SUBTASK_OF*3]->(:Task)
        RETURN folderless, closed, archived, count(deep) AS depth3
        """,
        p=tenant[1],
    )
    assert {k: records[0][k] > 0 for k in ("folderless", "closed", "archived", "depth3")} == dict.fromkeys(
        ("folderless", "closed", "archived", "depth3"), True
    )

    # Custom fields are filterable in plain Cypher (every space has its own "Stage" field).
    stages = {f.id: f for f in world.fields.values() if f.name == "Stage"}

    def stage_of(task: Any) -> str | None:
        for field_id, definition in stages.items():
            if field_id in task.custom_values:
                return str(definition.type_config["options"][task.custom_values[field_id]]["name"])
        return None

    option = "Beta"
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Task {projectId: $p}) WHERE t.cf_stage = $option RETURN count(t) AS c", p=tenant[1], option=option
    )
    assert records[0]["c"] == sum(1 for t in world.tasks.values() if stage_of(t) == option) > 0
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Task {projectId: $p}) WHERE t.checklistTotal > 0 RETURN count(t) AS c", p=tenant[1]
    )
    assert records[0]["c"] == sum(1 for t in world.tasks.values() if any(c.items for c in t.checklists))

    integration = await import_hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    sync = integration.sync_state
    assert sync.last_import_job_id == final.id
    assert sync.totals["task"] == len(world.tasks)
    newest = max(t.date_updated for t in world.tasks.values())
    team_id = next(iter(world.teams))
    assert sync.workspace_watermarks[team_id].ToMilliseconds() == newest


async def test_second_import_writes_nothing(
    import_hub: RunningHub, fresh: ImportSandbox, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    await enable(import_hub, fresh.token, tokens.admin, tenant)
    first = (await run_import(import_hub, tokens.admin, tenant))[-1]
    before = export(neo4j_driver, tenant[1])
    second = (await run_import(import_hub, tokens.admin, tenant))[-1]
    assert second.state == pb.IMPORT_JOB_STATE_SUCCEEDED
    assert second.id != first.id
    assert export(neo4j_driver, tenant[1]) == before
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n {projectId: $p}) WHERE n.syncRunId = $run RETURN count(n) AS c", p=tenant[1], run=second.id
    )
    assert records[0]["c"] == 0, "no node was written by the unchanged re-import"
    assert first.counters["properties_set"] > 0
    assert second.counters["properties_set"] == 0
    assert second.counters["relationships_created"] == 0
    assert not tombstones(neo4j_driver, tenant[1])


async def test_mutations_are_reflected_exactly_and_deletions_leave_tombstones(
    import_hub: RunningHub, fresh: ImportSandbox, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    await enable(import_hub, fresh.token, tokens.admin, tenant)
    await run_import(import_hub, tokens.admin, tenant)
    world = fresh.sandbox.world
    tasks = [t for t in world.tasks.values() if t.parent is None and not t.archived]
    renamed, moved, doomed = tasks[0], tasks[1], next(t for t in tasks if world.children_of(t.id))
    target = next(x for x in world.lists.values() if x.id != moved.list_id and not x.archived)
    async with httpx.AsyncClient(base_url=fresh.url) as admin:
        await admin.patch(f"/_sandbox/tasks/{renamed.id}", json={"name": "Renamed in ClickUp"})
        await admin.post(f"/_sandbox/tasks/{moved.id}/move", json={"list_id": target.id})
        deleted = (await admin.delete(f"/_sandbox/tasks/{doomed.id}")).json()["deleted"]
        created = (await admin.post("/_sandbox/tasks", json={"list_id": target.id, "name": "Brand new"})).json()
    final = (await run_import(import_hub, tokens.admin, tenant))[-1]
    assert final.state == pb.IMPORT_JOB_STATE_SUCCEEDED, final.error

    expected = expected_counts(world)
    actual = graph_counts(neo4j_driver, tenant[1])
    assert {k: actual.get(k, 0) for k in expected} == expected
    records, _, _ = neo4j_driver.execute_query(
        """
        MATCH (r:Task {projectId: $p, externalId: $renamed})
        MATCH (l:List)-[:CONTAINS]->(m:Task {projectId: $p, externalId: $moved})
        MATCH (n:Task {projectId: $p, externalId: $created})<-[:CONTAINS]-(nl:List)
        RETURN r.name AS name, l.externalId AS list, n.name AS new, nl.externalId AS newList
        """,
        p=tenant[1],
        renamed=renamed.id,
        moved=moved.id,
        created=created["id"],
    )
    assert dict(records[0]) == {
        "name": "Renamed in ClickUp",
        "list": target.id,
        "new": "Brand new",
        "newList": target.id,
    }
    gone, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Task {projectId: $p}) WHERE t.externalId IN $ids RETURN count(t) AS c", p=tenant[1], ids=deleted
    )
    assert gone[0]["c"] == 0
    assert tombstones(neo4j_driver, tenant[1])["Task"] == len(deleted) >= 2


async def test_an_older_update_never_overwrites_a_newer_one(
    graph_driver: neo4j.AsyncDriver, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    writer = GraphWriter(graph_driver, "neo4j", tenant[0], tenant[1], CLICKUP_SCHEMA)

    def version(name: str, updated_ms: int) -> Rows:
        return transform.task(
            {
                "id": "86mono",
                "name": name,
                "date_updated": str(updated_ms),
                "list": {"id": "l1"},
                "space": {"id": "s1"},
                "status": {"status": "open", "type": "open"},
            },
            "t1",
        )

    newer = await writer.write(version("newer", 2_000_000_000_000), "run-new")
    older = await writer.write(version("older", 1_000_000_000_000), "run-old")
    same_again = await writer.write(version("newer", 2_000_000_000_000), "run-replay")
    assert newer.changed["Task"] == 1
    assert older.changed["Task"] == 0
    assert older.properties_set == 0
    assert same_again.properties_set == 0
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Task {projectId: $p, externalId: '86mono'}) RETURN t.name AS name, t.sourceUpdatedAt AS at",
        p=tenant[1],
    )
    assert records[0]["name"] == "newer"
    assert records[0]["at"].to_native() == datetime.fromtimestamp(2_000_000_000, UTC)


async def test_one_active_import_per_integration_and_cancel(
    import_hub: RunningHub, fresh: ImportSandbox, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    await enable(import_hub, fresh.token, tokens.admin, tenant)
    fresh.sandbox.faults.append(Fault(path=r"/task$", delay_seconds=0.4, times=-1))
    request = pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup")
    first = await import_hub.stub.StartImport(request, metadata=bearer(tokens.admin))
    again = await import_hub.stub.StartImport(request, metadata=bearer(tokens.admin))
    assert again.id == first.id
    cancel = pb.CancelImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=first.id)
    await import_hub.stub.CancelImportJob(cancel, metadata=bearer(tokens.admin))
    final = (await watch(import_hub, tokens.admin, tenant, first.id))[-1]
    assert final.state == pb.IMPORT_JOB_STATE_CANCELLED
    assert not tombstones(neo4j_driver, tenant[1]), "a cancelled run never sweeps"
    ended = await failure(import_hub.stub.CancelImportJob(cancel, metadata=bearer(tokens.admin)))
    assert ended.reason == "JOB_ENDED"
    listed = await import_hub.stub.ListImportJobs(
        pb.ListImportJobsRequest(org_id=tenant[0], project_id=tenant[1], page_size=1), metadata=bearer(tokens.admin)
    )
    assert [j.id for j in listed.jobs] == [first.id]
    other_project = await failure(
        import_hub.stub.GetImportJob(
            pb.GetImportJobRequest(org_id=tenant[0], project_id="elsewhere", job_id=first.id),
            metadata=bearer(tokens.admin),
        )
    )
    assert other_project.reason == "UNKNOWN_JOB"


async def test_import_needs_an_enabled_integration(
    import_hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    refused = await failure(
        import_hub.stub.StartImport(
            pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
        )
    )
    assert refused.reason == "NOT_ENABLED"


@pytest.mark.parametrize(
    "faults",
    [
        [Fault(path=r"/task$", status=429, times=3)],
        [Fault(path=r"/task$", status=500, times=2), Fault(path=r"/space$", status=502, times=1)],
        [Fault(path=r"/task$", delay_seconds=2.5, times=1)],
        [
            # The first page's first three tasks get the nulls: a later page starts with the last
            # task of the page before (read again, skipped as seen), so only two of its three are new.
            Fault(path=r"/task$", malformed="null_objects", times=1),
            Fault(path=r"/task$", malformed="missing_date_updated", times=1),
            Fault(path=r"/task$", malformed="type_swap", times=1),
        ],
    ],
    ids=["429-storm", "5xx", "timeout", "malformed"],
)
async def test_faults_are_survived_and_nothing_is_skipped(
    import_hub: RunningHub,
    fresh: ImportSandbox,
    tokens: Tokens,
    tenant: tuple[str, str],
    neo4j_driver: neo4j.Driver,
    faults: list[Fault],
) -> None:
    await enable(import_hub, fresh.token, tokens.admin, tenant)
    fresh.sandbox.faults.extend(faults)
    final = (await run_import(import_hub, tokens.admin, tenant))[-1]
    assert final.state == pb.IMPORT_JOB_STATE_SUCCEEDED, final.error
    assert all(f.hits == f.times for f in faults), "every injected fault was hit"
    expected = expected_counts(fresh.sandbox.world)
    if any(f.malformed for f in faults):
        assert final.counters["missing_date_updated"] >= 1
        assert final.counters["missing_creator"] == 3, "nulls are counted, never silently dropped"
        expected["CREATED_BY"] -= final.counters["missing_creator"]  # no creator given, so no edge
    actual = graph_counts(neo4j_driver, tenant[1])
    assert {k: actual.get(k, 0) for k in expected} == expected


async def test_a_page_that_keeps_failing_fails_clearly_and_the_next_start_resumes(
    import_hub: RunningHub, fresh: ImportSandbox, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    await enable(import_hub, fresh.token, tokens.admin, tenant)
    fresh.sandbox.faults.append(Fault(path=r"/task$", status=500, times=-1))
    failed = (await run_import(import_hub, tokens.admin, tenant))[-1]
    assert failed.state == pb.IMPORT_JOB_STATE_FAILED
    assert "500" in failed.error
    assert "/team/" in failed.error
    assert not tombstones(neo4j_driver, tenant[1]), "a failed run never sweeps"
    fresh.sandbox.faults.clear()
    resumed = (await run_import(import_hub, tokens.admin, tenant))[-1]
    assert resumed.state == pb.IMPORT_JOB_STATE_SUCCEEDED, resumed.error
    assert resumed.pages > failed.pages
    expected = expected_counts(fresh.sandbox.world)
    actual = graph_counts(neo4j_driver, tenant[1])
    assert {k: actual.get(k, 0) for k in expected} == expected
    await asyncio.sleep(0)


async def test_comments_are_imported_with_every_page_when_enabled(
    import_hub: RunningHub, fresh: ImportSandbox, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    await import_hub.stub.UpdateIntegration(
        enable_request(tenant, fresh.token, include_comments=True), metadata=bearer(tokens.admin)
    )
    final = (await run_import(import_hub, tokens.admin, tenant))[-1]
    assert final.state == pb.IMPORT_JOB_STATE_SUCCEEDED, final.error
    world = fresh.sandbox.world
    total = sum(len(c) for c in world.comments.values())
    assert max(len(c) for c in world.comments.values()) > 25, "paging past the first 25 is exercised"
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (c:Comment {projectId: $p})-[:ON]->(:Task) MATCH (c)-[:AUTHORED_BY]->(:Person) RETURN count(c) AS c",
        p=tenant[1],
    )
    assert records[0]["c"] == total
    calls = minimal_calls(world) + sum(len(world.comments.get(t, [])) // 25 + 1 for t in world.tasks)
    assert final.api_calls == calls


async def test_concurrent_writers_of_one_project_take_turns_without_deadlock(
    graph_driver: neo4j.AsyncDriver, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    world = generate(GeneratorConfig(seed=21, spaces=1, tasks_per_list=10))
    team = next(iter(world.teams))
    batches = [Rows() for _ in range(4)]
    for index, task in enumerate(world.tasks.values()):  # overlapping: shared people, tags and parents
        batches[index % 4].extend(transform.task(render.task(world, task), team))
    writers = [GraphWriter(graph_driver, "neo4j", tenant[0], tenant[1], CLICKUP_SCHEMA) for _ in batches]
    await asyncio.gather(*(w.write(b, f"run-{i}") for i, (w, b) in enumerate(zip(writers, batches, strict=True))))
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Task {projectId: $p}) WHERE t.stub IS NULL RETURN count(t) AS c", p=tenant[1]
    )
    assert records[0]["c"] == len(world.tasks)


async def test_a_tombstone_stops_late_updates_but_not_a_newer_restore(
    graph_driver: neo4j.AsyncDriver, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    writer = GraphWriter(graph_driver, "neo4j", tenant[0], tenant[1], CLICKUP_SCHEMA)

    def record(updated_ms: int) -> Rows:
        return transform.task(
            {
                "id": "86gone",
                "name": "x",
                "date_updated": str(updated_ms),
                "list": {"id": "l1"},
                "space": {"id": "s1"},
                "status": {"status": "open", "type": "open"},
                "creator": {"id": 1},
            },
            "t1",
        )

    def alive() -> bool:
        records, _, _ = neo4j_driver.execute_query(
            "MATCH (t:Task {projectId: $p, externalId: '86gone'}) RETURN count(t) AS c", p=tenant[1]
        )
        return bool(records[0]["c"])

    await writer.write(record(1_700_000_000_000), "import")
    assert await writer.sweep(["t1"], {}) == {"Comment": 0, "Task": 1, "Tag": 0, "List": 0, "Folder": 0, "Space": 0}
    late = await writer.write(record(1_700_000_000_000), "late-webhook")
    assert not alive()
    assert late.nodes_created == 0
    await writer.write(record(3_900_000_000_000), "restored-from-trash")
    assert alive()


def jobs_left(driver: neo4j.Driver, org: str, project: str, integration: str) -> list[str]:
    records, _, _ = driver.execute_query(
        "MATCH (j:ImportJob {orgId: $o, projectId: $p}) WHERE j.integration = $i "
        "RETURN j.id AS id ORDER BY j.createdAt DESC",
        o=org,
        p=project,
        i=integration,
    )
    return [r["id"] for r in records]


async def test_ended_jobs_past_the_retention_are_forgotten_but_an_integrations_newest_stay(
    import_hub: RunningHub, fresh: ImportSandbox, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    """The scheduled sync adds a job per interval: jobs that ended more than 90 days ago go when the
    next one ends (request ids and pages with them), except the integration's 20 newest ended ones;
    another integration's and another project's jobs are not touched."""
    org, project = tenant
    await enable(import_hub, fresh.token, tokens.admin, tenant)
    first = (await run_import(import_hub, tokens.admin, tenant))[-1]
    seeded = """
        UNWIND range(1, $count) AS n
        CREATE (j:ImportJob {id: $prefix + toString(n), orgId: $o, projectId: $p, integration: $i,
                             state: 'SUCCEEDED', createdAt: datetime() - duration({days: $days, minutes: n}),
                             counters: '{}', checkpoint: '{}', kind: 'IMPORT', mode: 'FULL'})
        CREATE (:ImportRequest {orgId: $o, projectId: $p, requestId: 'request-' + j.id, integration: $i,
                                jobId: j.id, createdAt: j.createdAt})
        CREATE (:ImportPage {jobId: j.id, seen: '[]'})
    """
    neo4j_driver.execute_query(seeded, count=25, prefix="old-", o=org, p=project, i="clickup", days=120)
    neo4j_driver.execute_query(seeded, count=2, prefix="recent-", o=org, p=project, i="clickup", days=1)
    neo4j_driver.execute_query(seeded, count=3, prefix="jira-old-", o=org, p=project, i="jira", days=120)
    neo4j_driver.execute_query(seeded, count=3, prefix="elsewhere-", o=org, p=f"{project}-b", i="clickup", days=120)

    second = (await run_import(import_hub, tokens.admin, tenant))[-1]
    assert second.state == pb.IMPORT_JOB_STATE_SUCCEEDED, second.error
    # Ended: the two imports, 2 recent and 25 old; kept: the 20 newest, the 9 oldest old ones go.
    expected = [second.id, first.id, "recent-1", "recent-2", *(f"old-{n}" for n in range(1, 17))]
    await wait_for(
        lambda: asyncio.to_thread(lambda: jobs_left(neo4j_driver, org, project, "clickup") == expected),
        30,
        "the old jobs to be forgotten",
    )
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (r:ImportRequest {orgId: $o, projectId: $p}) WHERE r.jobId STARTS WITH 'old-' "
        "RETURN count(r) AS requests, count { MATCH (g:ImportPage) WHERE g.jobId STARTS WITH 'old-' } AS pages",
        o=org,
        p=project,
    )
    assert (records[0]["requests"], records[0]["pages"]) == (16, 16), "the forgotten jobs' requests and pages went"
    assert len(jobs_left(neo4j_driver, org, project, "jira")) == 3, "another integration's jobs stay"
    assert len(jobs_left(neo4j_driver, org, f"{project}-b", "clickup")) == 3, "another project's jobs stay"
