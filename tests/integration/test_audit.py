"""The audit trail (issue 14, item 3): every change through the API leaves a record of who made it
and what it changed, never a secret; ListAuditRecords lists them newest first, paged, under the
read scope and the token's tenant pin. A refused change leaves none."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import field_mask_pb2

from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.fixtures import TV_TOKEN
from tests.conftest import RunningHub, Tokens, bearer
from tests.integration.importing import enable_request, rpc_code, run_import


def list_request(tenant: tuple[str, str], **fields: object) -> pb.ListAuditRecordsRequest:
    return pb.ListAuditRecordsRequest(org_id=tenant[0], project_id=tenant[1], **fields)  # type: ignore[arg-type]


async def audited(hub: RunningHub, token: str, tenant: tuple[str, str], **fields: object) -> list[pb.AuditRecord]:
    response = await hub.stub.ListAuditRecords(list_request(tenant, **fields), metadata=bearer(token))
    return list(response.records)


async def test_each_change_is_recorded_with_its_actor_and_no_secret(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    started = datetime.now(UTC)
    await hub.stub.UpdateIntegration(enable_request(tenant, TV_TOKEN), metadata=bearer(tokens.admin))
    job = (await run_import(hub, tokens.admin, tenant))[-1]
    assert job.state == pb.IMPORT_JOB_STATE_SUCCEEDED
    replay = pb.ReplayWebhookEventsRequest(org_id=tenant[0], project_id=tenant[1])
    replay.start_time.FromDatetime(started)
    await hub.stub.ReplayWebhookEvents(replay, metadata=bearer(tokens.admin))

    records = await audited(hub, tokens.reader, tenant)
    assert [(r.action, r.integration, r.actor) for r in records] == [
        ("webhook_events.replay", "", "admin"),
        ("import.start", "clickup", "admin"),
        ("integration.update", "clickup", "admin"),
    ]
    assert dict(records[2].details) == {
        "fields": "enabled,settings",
        "enabled": "true",
        "auth_method": "API_TOKEN",
        "auto_sync": "false",
    }
    assert dict(records[1].details) == {"job_id": job.id, "mode": "FULL"}
    assert dict(records[0].details) == {"start_time": started.isoformat(), "replayed": "0"}
    assert all(started <= r.create_time.ToDatetime(UTC) <= datetime.now(UTC) for r in records)
    assert TV_TOKEN not in str(records)
    assert [r.action for r in await audited(hub, tokens.reader, tenant, name="clickup")] == [
        "import.start",
        "integration.update",
    ]


async def test_a_refused_change_leaves_no_record(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> None:
    bad = enable_request(tenant, TV_TOKEN)
    bad.update_mask.CopyFrom(field_mask_pb2.FieldMask(paths=["no_such_field"]))
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await hub.stub.UpdateIntegration(bad, metadata=bearer(tokens.admin))
    assert rpc_code(refused.value) == grpc.StatusCode.INVALID_ARGUMENT
    assert await audited(hub, tokens.admin, tenant) == []


async def test_records_are_paged_newest_first_behind_opaque_tokens(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    for _ in range(3):
        await hub.stub.UpdateIntegration(enable_request(tenant, TV_TOKEN), metadata=bearer(tokens.admin))
    seen: list[str] = []
    token = ""
    for _ in range(3):
        page = await hub.stub.ListAuditRecords(
            list_request(tenant, page_size=2, page_token=token), metadata=bearer(tokens.reader)
        )
        seen += [r.id for r in page.records]
        token = page.next_page_token
        if not token:
            break
    everything = await audited(hub, tokens.reader, tenant)
    assert seen == [r.id for r in everything]
    assert len(seen) == 3
    first = await hub.stub.ListAuditRecords(list_request(tenant, page_size=1), metadata=bearer(tokens.reader))
    with pytest.raises(grpc.aio.AioRpcError) as moved:  # a token is tied to the request it came from
        await hub.stub.ListAuditRecords(
            list_request(tenant, name="jira", page_token=first.next_page_token), metadata=bearer(tokens.reader)
        )
    assert rpc_code(moved.value) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("who", "tenant_of_call", "fields", "code"),
    [
        ("gateway", None, {}, grpc.StatusCode.PERMISSION_DENIED),  # no read scope
        ("tenant", None, {}, grpc.StatusCode.PERMISSION_DENIED),  # pinned to acme/p1
        ("tenant", ("acme", "p1"), {"page_token": "not-a-token"}, grpc.StatusCode.INVALID_ARGUMENT),
        ("reader", None, {"name": "Not A Name!"}, grpc.StatusCode.INVALID_ARGUMENT),
        ("reader", None, {"page_size": -1}, grpc.StatusCode.INVALID_ARGUMENT),
        ("nobody", None, {}, grpc.StatusCode.UNAUTHENTICATED),
    ],
)
async def test_listing_is_guarded_like_every_read(
    hub: RunningHub,
    tokens: Tokens,
    tenant: tuple[str, str],
    who: str,
    tenant_of_call: tuple[str, str] | None,
    fields: dict[str, object],
    code: grpc.StatusCode,
) -> None:
    token = getattr(tokens, who, "not-a-token-anyone-has")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await hub.stub.ListAuditRecords(list_request(tenant_of_call or tenant, **fields), metadata=bearer(token))
    assert rpc_code(refused.value) == code
