"""The gallery RPCs over real gRPC (loopback) against the real Neo4j and the ClickUp sandbox."""

from __future__ import annotations

import asyncio

import grpc
import httpx
import pytest
from google.protobuf import duration_pb2, field_mask_pb2

from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.fixtures import TV_TOKEN
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer
from tests.integration.rpc import failure

Tenant = tuple[str, str]


def settings(token: str = TV_TOKEN, **changes: object) -> pb.IntegrationSettings:
    message = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=token)
    for name, value in changes.items():
        setattr(message, name, value)
    return message


def update(
    tenant: Tenant,
    *paths: str,
    name: str = "clickup",
    enabled: bool = False,
    new_settings: pb.IntegrationSettings | None = None,
    request_id: str = "",
) -> pb.UpdateIntegrationRequest:
    integration = pb.Integration(name=name, enabled=enabled)
    if new_settings is not None:
        integration.settings.CopyFrom(new_settings)
    return pb.UpdateIntegrationRequest(
        org_id=tenant[0],
        project_id=tenant[1],
        integration=integration,
        update_mask=field_mask_pb2.FieldMask(paths=list(paths)),
        request_id=request_id,
    )


async def configure(hub: RunningHub, tokens: Tokens, tenant: Tenant, token: str = TV_TOKEN) -> pb.Integration:
    result: pb.Integration = await hub.stub.UpdateIntegration(
        update(tenant, "settings", "enabled", enabled=True, new_settings=settings(token)), metadata=bearer(tokens.admin)
    )
    return result


async def get(hub: RunningHub, tokens: Tokens, tenant: Tenant) -> pb.Integration:
    result: pb.Integration = await hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    return result


async def test_list_shows_every_registered_integration_unconfigured(
    hub: RunningHub, tokens: Tokens, tenant: Tenant
) -> None:
    response = await hub.stub.ListIntegrations(
        pb.ListIntegrationsRequest(org_id=tenant[0], project_id=tenant[1]), metadata=bearer(tokens.reader)
    )
    assert [i.name for i in response.integrations] == ["clickup", "jira"]
    clickup, jira = response.integrations
    assert jira.display_name == "Jira"
    assert jira.description
    assert list(jira.supported_auth_methods) == [pb.AUTH_METHOD_API_TOKEN, pb.AUTH_METHOD_OAUTH]
    assert clickup.display_name == "ClickUp"
    assert clickup.description
    assert clickup.logo_url.startswith("https://")
    assert (clickup.enabled, clickup.configured) == (False, False)
    assert clickup.connection_status == pb.CONNECTION_STATUS_UNKNOWN
    assert list(clickup.supported_auth_methods) == [pb.AUTH_METHOD_API_TOKEN, pb.AUTH_METHOD_OAUTH]
    assert not clickup.HasField("settings")


async def test_configure_and_enable_tests_the_token_and_masks_it(
    hub: RunningHub, tokens: Tokens, tenant: Tenant
) -> None:
    result = await configure(hub, tokens, tenant)
    assert (result.enabled, result.configured) == (True, True)
    assert result.connection_status == pb.CONNECTION_STATUS_CONNECTED
    assert result.settings.api_token == "pk_5****0000"
    assert TV_TOKEN not in str(result)
    assert result.HasField("last_tested_time")
    assert result.create_time.seconds > 0
    fetched = await get(hub, tokens, tenant)
    assert fetched.settings.api_token == "pk_5****0000"
    assert fetched.enabled


async def test_masked_token_sent_back_keeps_the_stored_secret(hub: RunningHub, tokens: Tokens, tenant: Tenant) -> None:
    configured = await configure(hub, tokens, tenant)
    round_trip = pb.IntegrationSettings()
    round_trip.CopyFrom(configured.settings)  # masked token, as a UI would send it back
    round_trip.data_mapping.workspace_ids.append("90120000")
    round_trip.sync_settings.sync_interval.CopyFrom(duration_pb2.Duration(seconds=900))
    updated = await hub.stub.UpdateIntegration(
        update(tenant, "settings", new_settings=round_trip), metadata=bearer(tokens.admin)
    )
    assert list(updated.settings.data_mapping.workspace_ids) == ["90120000"]
    assert updated.settings.api_token == "pk_5****0000"
    check = await hub.stub.TestConnection(
        pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    assert check.ok, "the stored token still works, so the mask did not overwrite it"


async def test_sub_path_update_changes_only_that_field(hub: RunningHub, tokens: Tokens, tenant: Tenant) -> None:
    await configure(hub, tokens, tenant)
    change = pb.IntegrationSettings()
    change.data_mapping.include_comments = True
    updated = await hub.stub.UpdateIntegration(
        update(tenant, "settings.data_mapping.include_comments", new_settings=change), metadata=bearer(tokens.admin)
    )
    assert updated.settings.data_mapping.include_comments
    assert updated.settings.api_token == "pk_5****0000"
    assert updated.enabled, "enabled was not in the mask"


async def test_disable_keeps_settings(hub: RunningHub, tokens: Tokens, tenant: Tenant) -> None:
    await configure(hub, tokens, tenant)
    disabled = await hub.stub.UpdateIntegration(update(tenant, "enabled", enabled=False), metadata=bearer(tokens.admin))
    assert (disabled.enabled, disabled.configured) == (False, True)
    assert disabled.settings.api_token == "pk_5****0000"


async def test_new_credentials_that_fail_are_refused_and_nothing_changes(
    hub: RunningHub, tokens: Tokens, tenant: Tenant
) -> None:
    before = await configure(hub, tokens, tenant)
    bad = await failure(
        hub.stub.UpdateIntegration(
            update(tenant, "settings", new_settings=settings("pk_0_WRONGTOKEN1234567")), metadata=bearer(tokens.admin)
        )
    )
    assert bad.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "ClickUp rejected the API token" in bad.message
    assert "OAUTH_025" in bad.message
    assert bad.reason == "CONNECTION_TEST_FAILED"
    assert "WRONGTOKEN" not in bad.message
    after = await get(hub, tokens, tenant)
    assert after.update_time == before.update_time
    assert after.settings.api_token == before.settings.api_token


async def test_enabling_without_settings_is_a_failed_precondition(
    hub: RunningHub, tokens: Tokens, tenant: Tenant
) -> None:
    refused = await failure(
        hub.stub.UpdateIntegration(update(tenant, "enabled", enabled=True), metadata=bearer(tokens.admin))
    )
    assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
    assert refused.reason == "NOT_CONFIGURED"
    assert not (await get(hub, tokens, tenant)).configured


async def test_connection_test_reports_user_workspaces_and_rate_limit(
    hub: RunningHub, tokens: Tokens, tenant: Tenant
) -> None:
    await configure(hub, tokens, tenant)
    check = await hub.stub.TestConnection(
        pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    assert check.ok
    assert check.status == pb.CONNECTION_STATUS_CONNECTED
    assert (check.account.id, check.account.username, check.account.email) == (
        "5550001",
        "Ada Tester",
        "ada@example.com",
    )
    assert [(w.id, w.name, w.member_count) for w in check.workspaces] == [("90120000", "Acme Workspace", 2)]
    assert check.rate_limit.limit > 0
    assert check.rate_limit.reset_time.seconds > 0


async def test_connection_test_with_a_bad_token_says_so_and_saves_nothing(
    hub: RunningHub, tokens: Tokens, tenant: Tenant
) -> None:
    check = await hub.stub.TestConnection(
        pb.TestConnectionRequest(
            org_id=tenant[0], project_id=tenant[1], name="clickup", settings=settings("pk_0_WRONGTOKEN1234567")
        ),
        metadata=bearer(tokens.admin),
    )
    assert not check.ok
    assert check.status == pb.CONNECTION_STATUS_AUTH_FAILED
    assert check.message.startswith("ClickUp rejected the API token")
    assert not (await get(hub, tokens, tenant)).configured


async def test_connection_test_of_stored_settings_records_the_outcome(
    hub: RunningHub, tokens: Tokens, tenant: Tenant, clickup_sandbox: RunningSandbox
) -> None:
    async with httpx.AsyncClient(base_url=clickup_sandbox.url) as admin:
        token = (await admin.post("/_sandbox/tokens", json={"user_id": 5550002})).json()["token"]
    await configure(hub, tokens, tenant, token)
    del clickup_sandbox.sandbox.world.tokens[token]  # the user revokes the token in ClickUp
    check = await hub.stub.TestConnection(
        pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=bearer(tokens.admin)
    )
    assert not check.ok
    stored = await get(hub, tokens, tenant)
    assert stored.connection_status == pb.CONNECTION_STATUS_AUTH_FAILED
    assert stored.last_error.startswith("ClickUp rejected the API token")


async def test_request_id_makes_a_retried_update_harmless(hub: RunningHub, tokens: Tokens, tenant: Tenant) -> None:
    first = await hub.stub.UpdateIntegration(
        update(tenant, "settings", "enabled", enabled=True, new_settings=settings(), request_id="req-1"),
        metadata=bearer(tokens.admin),
    )
    again = await hub.stub.UpdateIntegration(
        update(tenant, "settings", "enabled", enabled=True, new_settings=settings(), request_id="req-1"),
        metadata=bearer(tokens.admin),
    )
    assert again.update_time == first.update_time


async def test_concurrent_updates_never_lose_each_other(
    hub: RunningHub, tokens: Tokens, tenant: Tenant, neo4j_driver: object
) -> None:
    await configure(hub, tokens, tenant)

    async def toggle(flag: bool) -> grpc.StatusCode:
        try:
            await hub.stub.UpdateIntegration(update(tenant, "enabled", enabled=flag), metadata=bearer(tokens.admin))
        except grpc.aio.AioRpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    outcomes = await asyncio.gather(*(toggle(i % 2 == 0) for i in range(6)))
    assert set(outcomes) <= {grpc.StatusCode.OK, grpc.StatusCode.ABORTED}
    records, _, _ = neo4j_driver.execute_query(  # type: ignore[attr-defined]
        "MATCH (i:Integration {orgId: $org, projectId: $project}) RETURN i.version AS version",
        org=tenant[0],
        project=tenant[1],
    )
    assert records[0]["version"] == 1 + outcomes.count(grpc.StatusCode.OK)


async def test_projects_are_isolated(hub: RunningHub, tokens: Tokens, tenant: Tenant) -> None:
    await configure(hub, tokens, tenant)
    other = (tenant[0], "proj-2")
    assert not (await get(hub, tokens, other)).configured
    other_org = (tenant[0] + "-x", tenant[1])
    assert not (await get(hub, tokens, other_org)).configured


@pytest.mark.parametrize(
    ("org", "project", "code"),
    [
        ("acme", "p1", grpc.StatusCode.OK),
        ("acme", "p2", grpc.StatusCode.PERMISSION_DENIED),
        ("globex", "p1", grpc.StatusCode.PERMISSION_DENIED),
    ],
)
async def test_tenant_pinned_token_reaches_only_its_project(
    hub: RunningHub, tokens: Tokens, org: str, project: str, code: grpc.StatusCode
) -> None:
    call = hub.stub.ListIntegrations(
        pb.ListIntegrationsRequest(org_id=org, project_id=project), metadata=bearer(tokens.tenant)
    )
    if code == grpc.StatusCode.OK:
        assert len((await call).integrations) == 2
    else:
        refused = await failure(call)
        assert refused.code == code
        assert refused.reason == "WRONG_TENANT"
