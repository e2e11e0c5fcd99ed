"""StartImport's request_id (AIP-155): a repeated start returns the job it first returned, for good."""

from __future__ import annotations

import asyncio

import grpc
import neo4j

from integrations.v1 import integration_service_pb2 as pb
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer
from tests.integration.importing import enable_request, watch
from tests.integration.rpc import failure


def start(tenant: tuple[str, str], request_id: str, name: str = "clickup") -> pb.StartImportRequest:
    return pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name=name, request_id=request_id)


async def test_a_repeated_request_id_returns_the_same_job_even_after_it_ended(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], clickup_sandbox: RunningSandbox
) -> None:
    auth = bearer(tokens.admin)
    await hub.stub.UpdateIntegration(enable_request(tenant, clickup_sandbox.token), metadata=auth)
    first = await hub.stub.StartImport(start(tenant, "start-1"), metadata=auth)
    during = await hub.stub.StartImport(start(tenant, "start-2"), metadata=auth)
    assert during.id == first.id, "another request while a job is active gets the active job"
    assert (await watch(hub, tokens.admin, tenant, first.id))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED

    for request_id in ("start-1", "start-2"):  # retried after the job ended: the same answer, no new import
        again = await hub.stub.StartImport(start(tenant, request_id), metadata=auth)
        assert again.id == first.id
        assert again.state == pb.IMPORT_JOB_STATE_SUCCEEDED
    fresh = await hub.stub.StartImport(start(tenant, "start-3"), metadata=auth)
    assert fresh.id != first.id, "a new request_id starts a new import"
    assert (await watch(hub, tokens.admin, tenant, fresh.id))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    without = await hub.stub.StartImport(start(tenant, ""), metadata=auth)
    assert without.id not in (first.id, fresh.id), "no request_id: every start is a new request"
    await watch(hub, tokens.admin, tenant, without.id)


async def test_a_request_id_of_another_integration_is_refused(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], clickup_sandbox: RunningSandbox
) -> None:
    auth = bearer(tokens.admin)
    await hub.stub.UpdateIntegration(enable_request(tenant, clickup_sandbox.token), metadata=auth)
    job = await hub.stub.StartImport(start(tenant, "shared-id"), metadata=auth)
    refused = await failure(hub.stub.StartImport(start(tenant, "shared-id", name="jira"), metadata=auth))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.reason == "REQUEST_ID_REUSED"
    assert refused.fields == ["request_id"]
    assert "'clickup'" in refused.message
    await watch(hub, tokens.admin, tenant, job.id)


async def test_concurrent_starts_with_one_request_id_make_one_job(
    hub: RunningHub,
    tokens: Tokens,
    tenant: tuple[str, str],
    clickup_sandbox: RunningSandbox,
    neo4j_driver: neo4j.Driver,
) -> None:
    auth = bearer(tokens.admin)
    await hub.stub.UpdateIntegration(enable_request(tenant, clickup_sandbox.token), metadata=auth)
    old = await hub.stub.StartImport(start(tenant, ""), metadata=auth)
    await watch(hub, tokens.admin, tenant, old.id)  # nothing active: the starts below race to create

    jobs = await asyncio.gather(*(hub.stub.StartImport(start(tenant, "raced"), metadata=auth) for _ in range(8)))

    assert len({job.id for job in jobs}) == 1
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (r:ImportRequest {orgId: $o, projectId: $p, requestId: 'raced'}) RETURN r.jobId AS job",
        o=tenant[0],
        p=tenant[1],
    )
    assert [r["job"] for r in records] == [jobs[0].id]
    await watch(hub, tokens.admin, tenant, jobs[0].id)
    again = await hub.stub.StartImport(start(tenant, "raced"), metadata=auth)
    assert again.id == jobs[0].id
