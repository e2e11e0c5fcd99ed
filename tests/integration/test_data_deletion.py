"""Disable, keep or delete (issue 14, item 2), through the RPCs on a real server and Neo4j.

Two projects import the same ClickUp workspace. Disabling one with DATA_POLICY_DELETE removes every
node and relationship ClickUp wrote for that project, in batches, and its sync state, while the
other project's graph is untouched; KEEP keeps it all. A deletion cancelled midway leaves whole
nodes with whole relationships, and the integration can be enabled again then, not before.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import grpc
import neo4j
import pytest

from devtools.neo4j_local import Connection
from graph.data_deletions import DataDeletionStore
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.app import create_app
from sandbox.clickup.fixtures import TV_TOKEN
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Sandbox
from server import convert
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, server_env, start_hub
from tests.integration.importing import enable_request, graph_counts, rpc_code, run_import
from tests.support import UvicornThread


@pytest.fixture
async def small_batches(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, token: str
) -> AsyncIterator[RunningHub]:
    """A server whose deletions remove one node a transaction (a workspace of some two hundred
    nodes: as many batches, time to cancel after the third), on a sandbox that knows ``token``."""
    world = generate(GeneratorConfig(seed=14, spaces=1, tasks_per_list=20))
    world.tokens[token] = min(world.users)
    with UvicornThread(create_app(Sandbox(world))) as clickup:
        env = server_env(neo4j_connection, tokens, f"{clickup.url}/api/v2", encryption_keys)
        running = await start_hub(env | {"DELETE_BATCH_NODES": "1"})
        yield running
        await running.channel.close(None)
        await running.server.stop(grace=1)


def clickup_nodes(driver: neo4j.Driver, tenant: tuple[str, str]) -> int:
    records, _, _ = driver.execute_query(
        "MATCH (n {orgId: $org, projectId: $project, source: 'clickup'}) RETURN count(n) AS n",
        org=tenant[0],
        project=tenant[1],
    )
    return int(records[0]["n"])


def of_kind(driver: neo4j.Driver, tenant: tuple[str, str], label: str) -> int:
    records, _, _ = driver.execute_query(
        f"MATCH (n:{label} {{orgId: $org, projectId: $project, source: 'clickup'}}) RETURN count(n) AS n",
        org=tenant[0],
        project=tenant[1],
    )
    return int(records[0]["n"])


def relationships_of(driver: neo4j.Driver, tenant: tuple[str, str]) -> int:
    records, _, _ = driver.execute_query(
        "MATCH (n {orgId: $org, projectId: $project, source: 'clickup'})-[r]-() RETURN count(DISTINCT r) AS n",
        org=tenant[0],
        project=tenant[1],
    )
    return int(records[0]["n"])


def sync_rows(driver: neo4j.Driver, tenant: tuple[str, str]) -> int:
    records, _, _ = driver.execute_query(
        "MATCH (s) WHERE (s:SyncState OR s:SyncWatermark) AND s.orgId = $org AND s.projectId = $project "
        "RETURN count(s) AS n",
        org=tenant[0],
        project=tenant[1],
    )
    return int(records[0]["n"])


async def imported(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], token: str = TV_TOKEN) -> None:
    await hub.stub.UpdateIntegration(enable_request(tenant, token), metadata=bearer(tokens.admin))
    assert (await run_import(hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED


def disable(tenant: tuple[str, str], policy: int, confirm: str = "") -> pb.DisableIntegrationRequest:
    return pb.DisableIntegrationRequest(
        org_id=tenant[0],
        project_id=tenant[1],
        name="clickup",
        data_policy=policy,  # type: ignore[arg-type]  # an int: the tests send unknown values too
        confirm_name=confirm,
    )


async def watched(hub: RunningHub, tokens: Tokens, deletion: pb.DataDeletion) -> list[pb.DataDeletion]:
    seen: list[pb.DataDeletion] = []
    async with asyncio.timeout(120):
        async for update in hub.stub.WatchDataDeletion(
            pb.WatchDataDeletionRequest(
                org_id=deletion.org_id, project_id=deletion.project_id, deletion_id=deletion.id
            ),
            metadata=bearer(tokens.reader),
        ):
            seen.append(update)
    return seen


async def test_delete_empties_this_projects_graph_only(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    other = (tenant[0], f"other-{uuid.uuid4().hex[:8]}")
    await imported(hub, tokens, tenant)
    await imported(hub, tokens, other)
    before, others_before = clickup_nodes(neo4j_driver, tenant), graph_counts(neo4j_driver, other[1])
    tasks = of_kind(neo4j_driver, tenant, "Task")
    assert tasks > 0
    assert sync_rows(neo4j_driver, tenant) > 0

    answer = await hub.stub.DisableIntegration(
        disable(tenant, pb.DATA_POLICY_DELETE, "clickup"), metadata=bearer(tokens.admin)
    )
    assert answer.integration.enabled is False
    assert answer.deletion.state == pb.DATA_DELETION_STATE_RUNNING
    assert answer.deletion.actor == "admin"
    final = (await watched(hub, tokens, answer.deletion))[-1]

    assert final.state == pb.DATA_DELETION_STATE_SUCCEEDED
    assert clickup_nodes(neo4j_driver, tenant) == 0
    assert relationships_of(neo4j_driver, tenant) == 0
    assert sync_rows(neo4j_driver, tenant) == 0
    assert final.removed["Task"] == tasks
    assert sum(final.removed.values()) == before
    assert final.relationships_removed > 0
    assert final.largest_batch > 0
    assert final.HasField("finish_time")
    assert graph_counts(neo4j_driver, other[1]) == others_before, "the other project's data is untouched"
    got = await hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    assert not got.sync_state.totals
    audit = await hub.stub.ListAuditRecords(
        pb.ListAuditRecordsRequest(org_id=tenant[0], project_id=tenant[1], page_size=1), metadata=bearer(tokens.reader)
    )
    assert (audit.records[0].action, dict(audit.records[0].details)) == (
        "integration.disable",
        {"data_policy": "DELETE", "deletion_id": answer.deletion.id},
    )


async def test_keep_disables_and_keeps_everything(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    await imported(hub, tokens, tenant)
    before = clickup_nodes(neo4j_driver, tenant)
    answer = await hub.stub.DisableIntegration(disable(tenant, pb.DATA_POLICY_KEEP), metadata=bearer(tokens.admin))
    assert answer.integration.enabled is False
    assert not answer.HasField("deletion")
    assert clickup_nodes(neo4j_driver, tenant) == before


@pytest.mark.parametrize(
    ("policy", "confirm", "who", "code"),
    [
        (pb.DATA_POLICY_UNSPECIFIED, "", "admin", grpc.StatusCode.INVALID_ARGUMENT),
        (pb.DATA_POLICY_DELETE, "", "admin", grpc.StatusCode.INVALID_ARGUMENT),
        (pb.DATA_POLICY_DELETE, "ClickUp", "admin", grpc.StatusCode.INVALID_ARGUMENT),
        (pb.DATA_POLICY_DELETE, "clickup", "reader", grpc.StatusCode.PERMISSION_DENIED),
        (pb.DATA_POLICY_DELETE, "clickup", "tenant", grpc.StatusCode.PERMISSION_DENIED),
        (7, "", "admin", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
async def test_a_refused_disable_changes_nothing(
    hub: RunningHub,
    tokens: Tokens,
    tenant: tuple[str, str],
    neo4j_driver: neo4j.Driver,
    policy: int,
    confirm: str,
    who: str,
    code: grpc.StatusCode,
) -> None:
    await hub.stub.UpdateIntegration(enable_request(tenant, TV_TOKEN), metadata=bearer(tokens.admin))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await hub.stub.DisableIntegration(disable(tenant, policy, confirm), metadata=bearer(getattr(tokens, who)))
    assert rpc_code(refused.value) == code
    got = await hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    assert got.enabled is True


async def test_a_deletion_cancelled_midway_leaves_whole_nodes_and_allows_enabling_again(
    small_batches: RunningHub, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver, token: str
) -> None:
    hub = small_batches
    await imported(hub, tokens, tenant, token)
    before = clickup_nodes(neo4j_driver, tenant)
    answer = await hub.stub.DisableIntegration(
        disable(tenant, pb.DATA_POLICY_DELETE, "clickup"), metadata=bearer(tokens.admin)
    )
    with pytest.raises(grpc.aio.AioRpcError) as busy:  # not while its data is being deleted
        await hub.stub.UpdateIntegration(enable_request(tenant, token), metadata=bearer(tokens.admin))
    assert rpc_code(busy.value) == grpc.StatusCode.FAILED_PRECONDITION
    assert "DELETION_RUNNING" in str(busy.value.trailing_metadata())

    request = pb.WatchDataDeletionRequest(org_id=tenant[0], project_id=tenant[1], deletion_id=answer.deletion.id)
    async with asyncio.timeout(60):
        async for update in hub.stub.WatchDataDeletion(request, metadata=bearer(tokens.reader)):
            if update.batches >= 3:
                break
    cancelled = await hub.stub.CancelDataDeletion(
        pb.CancelDataDeletionRequest(org_id=tenant[0], project_id=tenant[1], deletion_id=answer.deletion.id),
        metadata=bearer(tokens.admin),
    )
    assert cancelled.id == answer.deletion.id
    final = (await watched(hub, tokens, answer.deletion))[-1]
    assert final.state == pb.DATA_DELETION_STATE_CANCELLED
    removed = sum(final.removed.values())
    assert 0 < removed < before
    assert clickup_nodes(neo4j_driver, tenant) == before - removed, "the record says exactly what is gone"
    assert final.largest_batch <= 1 + 20, "one node a transaction, with its few relationships"
    assert final.batches == removed
    # Whole nodes: every list left still holds its place in the hierarchy (tasks go first).
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (l:List {orgId: $org, projectId: $project, source: 'clickup'}) "
        "WHERE NOT EXISTS { MATCH (l)<-[:CONTAINS]-() } RETURN count(l) AS n",
        org=tenant[0],
        project=tenant[1],
    )
    assert records[0]["n"] == 0
    enabled = await hub.stub.UpdateIntegration(enable_request(tenant, token), metadata=bearer(tokens.admin))
    assert enabled.enabled is True
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await hub.stub.CancelDataDeletion(
            pb.CancelDataDeletionRequest(org_id=tenant[0], project_id=tenant[1], deletion_id=answer.deletion.id),
            metadata=bearer(tokens.admin),
        )
    assert rpc_code(ended.value) == grpc.StatusCode.FAILED_PRECONDITION


async def test_another_projects_deletion_is_not_found(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> None:
    await imported(hub, tokens, tenant)
    answer = await hub.stub.DisableIntegration(
        disable(tenant, pb.DATA_POLICY_DELETE, "clickup"), metadata=bearer(tokens.admin)
    )
    with pytest.raises(grpc.aio.AioRpcError) as hidden:
        await hub.stub.GetDataDeletion(
            pb.GetDataDeletionRequest(org_id=tenant[0], project_id="someone-else", deletion_id=answer.deletion.id),
            metadata=bearer(tokens.admin),
        )
    assert rpc_code(hidden.value) == grpc.StatusCode.NOT_FOUND
    assert (await watched(hub, tokens, answer.deletion))[-1].state == pb.DATA_DELETION_STATE_SUCCEEDED


async def test_a_deletion_whose_server_died_is_finished_by_another(
    hub: RunningHub,
    tokens: Tokens,
    tenant: tuple[str, str],
    neo4j_driver: neo4j.Driver,
    graph_driver: neo4j.AsyncDriver,
    neo4j_connection: Connection,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
) -> None:
    """A RUNNING deletion nobody holds (its server died before its first batch) is an orphan: a
    server's scan claims it and removes what is left."""
    await imported(hub, tokens, tenant)
    await hub.stub.DisableIntegration(disable(tenant, pb.DATA_POLICY_KEEP), metadata=bearer(tokens.admin))
    orphan = await DataDeletionStore(graph_driver, "neo4j").create(tenant[0], tenant[1], "clickup", "admin")
    env = server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys)
    other = await start_hub(env | {"IMPORT_LEASE_SECONDS": "2"})  # scans for orphans every second
    try:
        final = (await watched(other, tokens, convert.data_deletion(orphan)))[-1]
    finally:
        await other.channel.close(None)
        await other.server.stop(grace=1)
    assert final.state == pb.DATA_DELETION_STATE_SUCCEEDED
    assert clickup_nodes(neo4j_driver, tenant) == 0
