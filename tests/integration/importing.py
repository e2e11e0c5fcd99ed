"""Helpers for import tests: a generated sandbox, expectations from its world, graph exports."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import grpc
import neo4j
from google.protobuf import field_mask_pb2

from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.model import World
from tests.conftest import RunningHub, bearer

TERMINAL = {pb.IMPORT_JOB_STATE_SUCCEEDED, pb.IMPORT_JOB_STATE_FAILED, pb.IMPORT_JOB_STATE_CANCELLED}


def expected_counts(world: World) -> dict[str, int]:
    """What the graph must hold, computed from the sandbox's own data (not from the importer)."""
    tasks = list(world.tasks.values())
    return {
        "Workspace": len(world.teams),
        "Space": len(world.spaces),
        "Folder": len(world.folders),
        "List": len(world.lists),
        "Task": len(tasks),
        "Person": len(
            {m.user_id for t in world.teams.values() for m in t.members}
            | {t.creator for t in tasks}
            | {a for t in tasks for a in t.assignees}
        ),
        "Tag": len({(world.lists[t.list_id].space_id, tag) for t in tasks for tag in t.tags}),
        "CONTAINS": len(world.spaces) + len(world.folders) + len(world.lists) + len(tasks),
        "INCLUDES": sum(len(set(t.other_lists) - {t.list_id}) for t in tasks),
        "SUBTASK_OF": sum(1 for t in tasks if t.parent),
        "ASSIGNED_TO": sum(len(set(t.assignees)) for t in tasks),
        "CREATED_BY": len(tasks),
        "TAGGED": sum(len(set(t.tags)) for t in tasks),
        "DEPENDS_ON": sum(len(set(t.depends_on)) for t in tasks),
        "LINKED_TO": sum(len(set(t.linked)) for t in tasks),
        "MEMBER_OF": sum(len(t.members) for t in world.teams.values()),
    }


def graph_counts(driver: neo4j.Driver, project_id: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in ("Workspace", "Space", "Folder", "List", "Task", "Person", "Tag"):
        records, _, _ = driver.execute_query(
            f"MATCH (n:{label} {{projectId: $p}}) WHERE n.stub IS NULL RETURN count(n) AS c", p=project_id
        )
        counts[label] = records[0]["c"]
    records, _, _ = driver.execute_query(
        "MATCH (a {projectId: $p})-[r]->(b {projectId: $p}) RETURN type(r) AS t, count(r) AS c", p=project_id
    )
    counts.update({r["t"]: r["c"] for r in records})
    return counts


VOLATILE = {"syncedAt", "syncRunId", "projectId", "orgId", "contentHash"}


def export(driver: neo4j.Driver, project_id: str) -> list[str]:
    """A sorted, project-independent dump of nodes and relationships, for equality checks."""
    nodes, _, _ = driver.execute_query(
        "MATCH (n {projectId: $p, source: 'clickup'}) WHERE NOT n:Tombstone RETURN n", p=project_id
    )
    lines = []
    for record in nodes:
        node = record["n"]
        props = {k: str(v) for k, v in dict(node).items() if k not in VOLATILE}
        lines.append(f"N {sorted(node.labels)} {sorted(props.items())}")
    rels, _, _ = driver.execute_query(
        "MATCH (a {projectId: $p, source: 'clickup'})-[r]->(b {projectId: $p, source: 'clickup'}) "
        "RETURN labels(a) AS la, a.externalId AS a, type(r) AS t, properties(r) AS props, labels(b) AS lb, "
        "b.externalId AS b",
        p=project_id,
    )
    for r in rels:
        lines.append(
            f"R {sorted(r['la'])}:{r['a']} -{r['t']} {sorted(r['props'].items())}-> {sorted(r['lb'])}:{r['b']}"
        )
    return sorted(lines)


def tombstones(driver: neo4j.Driver, project_id: str) -> Counter[str]:
    records, _, _ = driver.execute_query(
        "MATCH (t:Tombstone {projectId: $p}) RETURN t.kind AS kind, count(t) AS c", p=project_id
    )
    return Counter({r["kind"]: r["c"] for r in records})


def enable_request(
    tenant: tuple[str, str], token: str, *, include_comments: bool = False, auto_sync: bool = False
) -> pb.UpdateIntegrationRequest:
    """ClickUp enabled for the tenant with a personal token (the whole settings replaced)."""
    settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=token)
    settings.data_mapping.include_comments = include_comments
    settings.sync_settings.auto_sync = auto_sync
    return pb.UpdateIntegrationRequest(
        org_id=tenant[0],
        project_id=tenant[1],
        integration=pb.Integration(name="clickup", enabled=True, settings=settings),
        update_mask=field_mask_pb2.FieldMask(paths=["settings", "enabled"]),
    )


async def enable(hub: RunningHub, token: str, admin: str, tenant: tuple[str, str]) -> None:
    await hub.stub.UpdateIntegration(enable_request(tenant, token), metadata=bearer(admin))


WATCH_LIMIT_SECONDS = 120


async def watch(hub: RunningHub, admin: str, tenant: tuple[str, str], job_id: str) -> list[pb.ImportJob]:
    """Every update WatchImportJob streams, until a terminal state."""
    seen: list[pb.ImportJob] = []
    async with asyncio.timeout(WATCH_LIMIT_SECONDS):
        stream = hub.stub.WatchImportJob(
            pb.WatchImportJobRequest(org_id=tenant[0], project_id=tenant[1], job_id=job_id), metadata=bearer(admin)
        )
        async for update in stream:
            seen.append(update)
    return seen


async def run_import(
    hub: RunningHub, admin: str, tenant: tuple[str, str], mode: pb.ImportMode.ValueType = pb.IMPORT_MODE_FULL
) -> list[pb.ImportJob]:
    job = await hub.stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup", mode=mode), metadata=bearer(admin)
    )
    return await watch(hub, admin, tenant, job.id)


def rpc_code(error: BaseException) -> Any:
    return error.code() if isinstance(error, grpc.aio.AioRpcError) else None
