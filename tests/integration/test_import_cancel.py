"""Cancelling a ClickUp import mid-pipeline (``server/integrations/write_behind.py``: task pages fetched
ahead into a bounded queue, every ready page written as one, the job checkpointed after each write).

A cancel is a flag read at the checkpoint after a write: the graph then holds exactly the pages the
job's checkpoints name, every task of them as a complete import writes it, nothing of the pages
fetched ahead, and the fetching stops with the job.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import neo4j
import pytest

from devtools.neo4j_local import Connection
from graph.projects import project_lock
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.model import World
from sandbox.clickup.state import Fault, Sandbox
from server.integrations.clickup.importer import PAGE_SIZE
from server.integrations.clickup.schema import SCHEMA
from server.integrations.write_behind import DEPTH
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, hub_with, serve_world, server_env
from tests.integration.importing import TERMINAL, VOLATILE, enable, export, run_import, tombstones, watch
from tests.support import wait_for

TOKEN = "pk_5550001_CANCELSANDBOX00000000000000000"
# About 3,500 tasks (3,200 live): some 33 task pages, so a cancel after a few lands mid-import.
CONFIG = GeneratorConfig(seed=29, spaces=2, tasks_per_list=100)
TASK_PAGES = r"/task$"  # the workspace's task pages (the importer reads no list's tasks)
TASK = SCHEMA.kind("Task")
INTEGRATIONS = Path(__file__).resolve().parents[2] / "server" / "integrations"


@pytest.fixture(scope="module")
def cancel_sandbox() -> Iterator[RunningSandbox]:
    with serve_world(generate(CONFIG), TOKEN, rate_limited=False) as running:  # the limit has tests of its own
        yield running


@pytest.fixture(scope="module")
async def cancel_hub(
    neo4j_connection: Connection, tokens: Tokens, cancel_sandbox: RunningSandbox, encryption_keys: str
) -> AsyncIterator[RunningHub]:
    async with hub_with(server_env(neo4j_connection, tokens, cancel_sandbox.api_url, encryption_keys)) as running:
        yield running


@pytest.fixture
async def sandbox(
    cancel_sandbox: RunningSandbox, cancel_hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> AsyncIterator[RunningSandbox]:
    """The shared sandbox without faults; afterwards no import of the test's tenant still runs (a
    failed test's import would otherwise go on reading task pages in the next test)."""
    cancel_sandbox.sandbox.faults.clear()
    yield cancel_sandbox
    cancel_sandbox.sandbox.faults.clear()
    listed = await cancel_hub.stub.ListImportJobs(
        pb.ListImportJobsRequest(org_id=tenant[0], project_id=tenant[1]), metadata=bearer(tokens.admin)
    )
    for job in listed.jobs:
        if job.state not in TERMINAL:
            await cancel(cancel_hub, tokens.admin, tenant, job.id)
            await watch(cancel_hub, tokens.admin, tenant, job.id)


# ---------------------------------------------------------------- helpers


async def start(hub: RunningHub, admin: str, tenant: tuple[str, str]) -> pb.ImportJob:
    request = pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup", mode=pb.IMPORT_MODE_FULL)
    job: pb.ImportJob = await hub.stub.StartImport(request, metadata=bearer(admin))
    return job


async def job_now(hub: RunningHub, admin: str, tenant: tuple[str, str], job_id: str) -> pb.ImportJob:
    request = pb.GetImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job_id)
    job: pb.ImportJob = await hub.stub.GetImportJob(request, metadata=bearer(admin))
    return job


async def cancel(hub: RunningHub, admin: str, tenant: tuple[str, str], job_id: str) -> None:
    request = pb.CancelImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job_id)
    await hub.stub.CancelImportJob(request, metadata=bearer(admin))


def task_page_calls(sandbox: Sandbox) -> int:
    """Task-page requests the sandbox answered (its own per-route counter)."""
    return sum(n for route, n in sandbox.calls.items() if re.search(TASK_PAGES, route))


def served_order(world: World) -> list[str]:
    """The live tasks in the order the workspace's task pages serve them (oldest created first)."""
    live = sorted((t for t in world.tasks.values() if not t.archived), key=lambda t: (t.date_created, t.id))
    return [t.id for t in live]


def committed_tasks(task_pages: int) -> int:
    """Tasks in the first ``task_pages`` full task pages: each page after the first starts at the
    cursor with the last task of the page before, read again and skipped as seen."""
    return PAGE_SIZE + (PAGE_SIZE - 1) * (task_pages - 1) if task_pages else 0


def full_tasks(driver: neo4j.Driver, project_id: str) -> dict[str, list[str]]:
    """Every Task of the project that is more than a stub, project-independently: its properties and
    the relationships it owns (the schema's), each with the other end's labels and id."""
    dump: dict[str, list[str]] = {}
    nodes, _, _ = driver.execute_query(
        "MATCH (t:Task {projectId: $p, source: 'clickup'}) WHERE t.stub IS NULL "
        "RETURN t.externalId AS id, labels(t) AS labels, properties(t) AS props",
        p=project_id,
    )
    for record in nodes:
        props = sorted((k, str(v)) for k, v in record["props"].items() if k not in VOLATILE)
        dump[record["id"]] = [f"N {sorted(record['labels'])} {props}"]
    for direction, types, pattern in (
        ("->", list(TASK.owns_out), "(t)-[r]->(o)"),
        ("<-", list(TASK.owns_in), "(t)<-[r]-(o)"),
    ):
        rels, _, _ = driver.execute_query(
            f"MATCH (t:Task {{projectId: $p, source: 'clickup'}}) WHERE t.stub IS NULL MATCH {pattern} "
            "WHERE type(r) IN $types "
            "RETURN t.externalId AS id, type(r) AS type, properties(r) AS props, labels(o) AS labels, "
            "o.externalId AS other",
            p=project_id,
            types=types,
        )
        for r in rels:
            dump[r["id"]].append(
                f"R {direction}{r['type']} {sorted(r['props'].items())} {sorted(r['labels'])}:{r['other']}"
            )
    return {task_id: sorted(lines) for task_id, lines in dump.items()}


def integration_tasks(tasks: set[asyncio.Task[Any]]) -> list[str]:
    """The pending ones of ``tasks`` that run integration code (``server/integrations``, where an
    import's fetching ahead runs; nothing else there starts tasks)."""
    left = []
    for task in tasks:
        code = getattr(task.get_coro(), "cr_code", None)
        if not task.done() and code is not None and Path(code.co_filename).resolve().is_relative_to(INTEGRATIONS):
            left.append(f"{code.co_qualname} ({task.get_name()})")
    return left


def one(driver: neo4j.Driver, query: str, project_id: str) -> list[str]:
    records, _, _ = driver.execute_query(query, p=project_id)
    return [str(r[0]) for r in records]


# ---------------------------------------------------------------- tests


async def test_cancel_mid_pipeline_leaves_a_consistent_graph(
    cancel_hub: RunningHub,
    sandbox: RunningSandbox,
    tokens: Tokens,
    tenant: tuple[str, str],
    neo4j_driver: neo4j.Driver,
    graph_driver: neo4j.AsyncDriver,
) -> None:
    admin, world = tokens.admin, sandbox.sandbox.world
    reference = (tenant[0], f"{tenant[1]}-reference")
    order = served_order(world)
    assert len({world.tasks[t].date_created for t in order}) == len(order), "one task per ms: pages overlap by one"

    # The reference: a complete import of the same sandbox state into another project.
    await enable(cancel_hub, sandbox.token, admin, reference)
    done = (await run_import(cancel_hub, admin, reference))[-1]
    assert done.state == pb.IMPORT_JOB_STATE_SUCCEEDED, done.error
    reference_tasks = full_tasks(neo4j_driver, reference[1])
    reference_export = export(neo4j_driver, reference[1])
    assert len(reference_tasks) == len(world.tasks)

    # The cancelled import: slow task pages, so the import is mid-way after a few pages.
    await enable(cancel_hub, sandbox.token, admin, tenant)
    slow = Fault(path=TASK_PAGES, delay_seconds=0.25, times=-1)
    sandbox.sandbox.faults.append(slow)
    job = await start(cancel_hub, admin, tenant)

    async def committed_three() -> bool:
        return (await job_now(cancel_hub, admin, tenant, job.id)).pages >= 3  # the hierarchy and 2 task pages

    await wait_for(committed_three, 60, "three committed pages")
    # Hold the project's write lock: the write in progress (or the next) waits, while the fetching
    # goes on until the queue is full. The cancel is asked for with pages queued behind that write.
    async with graph_driver.session(database="neo4j") as session:
        held = await session.begin_transaction()
        try:
            await (await held.run(f"{project_lock()} RETURN held.projectId", projectId=tenant[1])).consume()
            requested = slow.hits

            async def queue_filled() -> bool:
                return slow.hits >= requested + DEPTH

            await wait_for(queue_filled, 60, "the fetching to run ahead of the stalled write")
            pages_before = (await job_now(cancel_hub, admin, tenant, job.id)).pages
            await cancel(cancel_hub, admin, tenant, job.id)
        finally:
            await held.rollback()
    final = (await watch(cancel_hub, admin, tenant, job.id))[-1]

    assert final.state == pb.IMPORT_JOB_STATE_CANCELLED, final.error
    assert not tombstones(neo4j_driver, tenant[1]), "a cancelled run never sweeps"
    task_pages = final.pages - 1  # the first page is the hierarchy
    assert 1 <= final.pages - pages_before <= DEPTH, "the write the cancel found in progress, and nothing after"
    fetched_ahead = slow.hits - task_pages
    assert fetched_ahead >= DEPTH // 2, "pages were fetched ahead and none of them was written"
    assert committed_tasks(task_pages) < len(order), "cancelled before the last live page"

    # The graph holds whole committed pages: the first ones served, every task of them, nothing else.
    cancelled_tasks = full_tasks(neo4j_driver, tenant[1])
    assert len(cancelled_tasks) == final.counters["task"] == committed_tasks(task_pages)
    assert set(cancelled_tasks) == set(order[: committed_tasks(task_pages)])
    # ... each exactly as the complete import wrote it: properties and the relationships it owns.
    assert cancelled_tasks == {task_id: reference_tasks[task_id] for task_id in cancelled_tasks}
    homeless = one(
        neo4j_driver,
        "MATCH (t:Task {projectId: $p}) WHERE t.stub IS NULL AND COUNT { (:List)-[:CONTAINS]->(t) } <> 1 "
        "RETURN t.externalId",
        tenant[1],
    )
    assert homeless == [], "every task is in its list"
    # Stubs: only the far ends of committed tasks' relationships, never a task of a committed page.
    stubs = one(neo4j_driver, "MATCH (t:Task {projectId: $p}) WHERE t.stub IS NOT NULL RETURN t.externalId", tenant[1])
    unreferenced = one(
        neo4j_driver,
        "MATCH (s:Task {projectId: $p}) WHERE s.stub IS NOT NULL "
        "AND NOT EXISTS { (s)--(t:Task {projectId: $p}) WHERE t.stub IS NULL } RETURN s.externalId",
        tenant[1],
    )
    assert unreferenced == []
    assert not set(stubs) & set(cancelled_tasks)
    assert set(stubs) <= set(world.tasks)

    # A new full import of the cancelled project ends as the complete one did.
    sandbox.sandbox.faults.clear()
    again = (await watch(cancel_hub, admin, tenant, (await start(cancel_hub, admin, tenant)).id))[-1]
    assert again.state == pb.IMPORT_JOB_STATE_SUCCEEDED, again.error
    assert again.id != job.id
    assert export(neo4j_driver, tenant[1]) == reference_export
    assert not tombstones(neo4j_driver, tenant[1])


async def test_cancel_while_a_fetch_is_in_flight_stops_the_fetching(
    cancel_hub: RunningHub, sandbox: RunningSandbox, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    admin, state = tokens.admin, sandbox.sandbox
    delay = 1.0
    await enable(cancel_hub, sandbox.token, admin, tenant)
    slow = Fault(path=TASK_PAGES, delay_seconds=delay, times=-1)  # its hits: task-page requests received
    state.faults.append(slow)
    before = task_page_calls(state)

    def answered() -> int:
        return task_page_calls(state) - before

    tasks_before = asyncio.all_tasks()
    job = await start(cancel_hub, admin, tenant)

    async def fetching_after_a_commit() -> bool:
        pages = (await job_now(cancel_hub, admin, tenant, job.id)).pages
        return pages >= 2 and slow.hits > answered()  # a task page committed, the next one asked for

    await wait_for(fetching_after_a_commit, 60, "a task page being fetched")
    assert integration_tasks(asyncio.all_tasks() - tasks_before), "the fetching ahead is seen while it runs"
    await cancel(cancel_hub, admin, tenant, job.id)
    final = (await watch(cancel_hub, admin, tenant, job.id))[-1]
    assert final.state == pb.IMPORT_JOB_STATE_CANCELLED, final.error
    requested = slow.hits
    # The server runs in this process: the import's own tasks (the fetching ahead) ended with the job.
    assert integration_tasks(asyncio.all_tasks() - tasks_before) == [], "the fetching stopped with the job"

    # A fetcher left running would ask for its next page as soon as the one in flight is answered
    # (within ``delay``): a request the sandbox answers only after twice that, asked after the end,
    # has seen every task-page request there will ever be. (The request in flight at the end may
    # still be answered, to nobody: ``calls`` counts answers, the fault's hits count requests.)
    probe = Fault(path=r"/team$", delay_seconds=2 * delay, times=1)
    state.faults.append(probe)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.get(f"{sandbox.api_url}/team", headers={"Authorization": sandbox.token})
    assert response.status_code == 200
    assert probe.hits == 1
    assert slow.hits == requested, "no task page was asked for after the job was cancelled"
    assert answered() <= requested
    assert requested <= final.pages - 1 + DEPTH + 1, "fetching never ran more than the queue's depth ahead"

    tasks = one(neo4j_driver, "MATCH (t:Task {projectId: $p}) WHERE t.stub IS NULL RETURN count(t)", tenant[1])
    assert tasks == [str(final.counters["task"])]
    assert final.counters["task"] == committed_tasks(final.pages - 1)
