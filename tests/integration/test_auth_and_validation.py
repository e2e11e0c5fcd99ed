"""Every RPC refuses bad credentials and bad input with the right code, a named field, and no change."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2

from integrations.v1 import integration_service_pb2 as pb
from tests.conftest import RunningHub, Tokens, bearer
from tests.integration.rpc import failure
from tests.integration.test_gallery import configure, get, settings, update

SERVICE = pb.DESCRIPTOR.services_by_name["IntegrationService"]


@pytest.mark.parametrize("method", [m.name for m in SERVICE.methods])
@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ((), "MISSING_TOKEN"),
        ((("authorization", "Bearer nope"),), "INVALID_TOKEN"),
        ((("authorization", "nope"),), "MALFORMED_TOKEN"),
    ],
)
async def test_every_rpc_requires_a_valid_bearer_token(
    hub: RunningHub, method: str, metadata: tuple[tuple[str, str], ...], reason: str
) -> None:
    descriptor = SERVICE.methods_by_name[method]
    request_type = getattr(pb, descriptor.input_type.name)
    response_type = getattr(pb, descriptor.output_type.name)
    path = f"/{SERVICE.full_name}/{method}"
    if descriptor.server_streaming:
        stream = hub.channel.unary_stream(
            path, request_serializer=request_type.SerializeToString, response_deserializer=response_type.FromString
        )
        call = stream(request_type(), metadata=metadata)

        async def drain() -> None:
            async for _ in call:
                pass

        refused = await failure(drain())
    else:
        unary = hub.channel.unary_unary(
            path, request_serializer=request_type.SerializeToString, response_deserializer=response_type.FromString
        )
        refused = await failure(unary(request_type(), metadata=metadata))
    assert refused.code == grpc.StatusCode.UNAUTHENTICATED
    assert refused.reason == reason


async def test_missing_scope_is_permission_denied(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> None:
    read_only = await failure(hub.stub.UpdateIntegration(update(tenant, "enabled"), metadata=bearer(tokens.reader)))
    assert read_only.code == grpc.StatusCode.PERMISSION_DENIED
    assert read_only.reason == "MISSING_SCOPE"
    assert "integrations:write" in read_only.message
    gateway = await failure(
        hub.stub.ListIntegrations(
            pb.ListIntegrationsRequest(org_id=tenant[0], project_id=tenant[1]), metadata=bearer(tokens.gateway)
        )
    )
    assert gateway.code == grpc.StatusCode.PERMISSION_DENIED


BAD_IDS = [
    ("", "EMPTY_FIELD"),
    ("has space", "INVALID_ARGUMENT"),
    ("x" * 129, "INVALID_ARGUMENT"),
    ("-leading", "INVALID_ARGUMENT"),
    ("acme\n", "INVALID_ARGUMENT"),  # "$" matches before a final newline: ids are full matches
    ("acme\nforged log line", "INVALID_ARGUMENT"),
]


@pytest.mark.parametrize(("value", "reason"), BAD_IDS)
@pytest.mark.parametrize("field", ["org_id", "project_id"])
@pytest.mark.parametrize("rpc", ["ListIntegrations", "GetIntegration", "UpdateIntegration", "TestConnection"])
async def test_bad_scope_ids_are_invalid_argument_naming_the_field(
    hub: RunningHub, tokens: Tokens, rpc: str, field: str, value: str, reason: str
) -> None:
    request_type = getattr(pb, f"{rpc}Request")
    request = request_type(**{"org_id": "org", "project_id": "proj", field: value})
    refused = await failure(getattr(hub.stub, rpc)(request, metadata=bearer(tokens.admin)))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.message.startswith(f"{field}:")
    assert refused.fields == [field]
    assert refused.reason == reason


@pytest.mark.parametrize("rpc", ["GetIntegration", "TestConnection"])
@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("Jira!", grpc.StatusCode.INVALID_ARGUMENT),
        ("linear", grpc.StatusCode.NOT_FOUND),
    ],
)
async def test_bad_or_unknown_integration_name(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], rpc: str, name: str, code: grpc.StatusCode
) -> None:
    request = getattr(pb, f"{rpc}Request")(org_id=tenant[0], project_id=tenant[1], name=name)
    refused = await failure(getattr(hub.stub, rpc)(request, metadata=bearer(tokens.admin)))
    assert refused.code == code
    if code == grpc.StatusCode.NOT_FOUND:
        assert "clickup" in refused.message, "the error lists the integrations that exist"


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def _interval(seconds: int) -> pb.IntegrationSettings:
    message = settings()
    message.sync_settings.sync_interval.CopyFrom(duration_pb2.Duration(seconds=seconds))
    return message


def _workspaces(*ids: str) -> pb.IntegrationSettings:
    message = settings()
    message.data_mapping.workspace_ids.extend(ids)
    return message


BAD_UPDATES = [
    ("no mask", lambda t: update(t), "update_mask"),
    ("unknown path", lambda t: update(t, "settings.colour"), "update_mask"),
    ("read-only path", lambda t: update(t, "connection_status"), "update_mask"),
    ("unknown integration", lambda t: update(t, "enabled", name="linear"), None),
    ("empty integration name", lambda t: update(t, "enabled", name=""), "name"),
    (
        "org mismatch",
        lambda t: pb.UpdateIntegrationRequest(
            org_id=t[0],
            project_id=t[1],
            integration=pb.Integration(name="clickup", org_id="other"),
            update_mask=_mask("enabled"),
        ),
        "integration.org_id",
    ),
    (
        "token not pk_",
        lambda t: update(t, "settings", new_settings=settings("not-a-clickup-token")),
        "settings.api_token",
    ),
    (
        "token with spaces",
        lambda t: update(t, "settings", new_settings=settings("pk_123 456 789")),
        "settings.api_token",
    ),
    (
        "auth method unknown",
        lambda t: update(t, "settings", new_settings=settings(auth_method=7)),
        "settings.auth_method",
    ),
    (
        "workspace id not digits",
        lambda t: update(t, "settings", new_settings=_workspaces("abc")),
        "settings.data_mapping.workspace_ids[0]",
    ),
    (
        "workspace listed twice",
        lambda t: update(t, "settings", new_settings=_workspaces("1", "1")),
        "settings.data_mapping.workspace_ids",
    ),
    (
        "sync interval too short",
        lambda t: update(t, "settings", new_settings=_interval(5)),
        "settings.sync_settings.sync_interval",
    ),
    (
        "oversized settings",
        lambda t: update(t, "settings", new_settings=_workspaces(*[str(10**9 + i) for i in range(3000)])),
        "integration.settings",
    ),
    ("bad request id", lambda t: update(t, "enabled", request_id="no spaces allowed"), "request_id"),
]


@pytest.mark.parametrize(("case", "build", "field"), BAD_UPDATES, ids=[c[0] for c in BAD_UPDATES])
async def test_bad_updates_are_refused_and_change_nothing(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], case: str, build: object, field: str | None
) -> None:
    before = await configure(hub, tokens, tenant)
    refused = await failure(hub.stub.UpdateIntegration(build(tenant), metadata=bearer(tokens.admin)))  # type: ignore[operator]
    if field is None:
        assert refused.code == grpc.StatusCode.NOT_FOUND
    else:
        assert refused.code == grpc.StatusCode.INVALID_ARGUMENT, refused.message
        assert refused.fields == [field]
        assert refused.message.startswith(f"{field}:")
    after = await get(hub, tokens, tenant)
    assert after == before, f"{case}: a refused update changed the stored integration"


async def test_first_configuration_needs_a_token(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> None:
    refused = await failure(
        hub.stub.UpdateIntegration(update(tenant, "settings", new_settings=settings("")), metadata=bearer(tokens.admin))
    )
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.fields == ["settings.api_token"]
    assert not (await get(hub, tokens, tenant)).configured


async def test_oversized_message_is_refused_by_the_transport(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    huge = settings("pk_" + "a" * (5 * 1024 * 1024))
    refused = await failure(
        hub.stub.UpdateIntegration(update(tenant, "settings", new_settings=huge), metadata=bearer(tokens.admin))
    )
    assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_replay_needs_ids_or_a_window(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> None:
    refused = await failure(
        hub.stub.ReplayWebhookEvents(
            pb.ReplayWebhookEventsRequest(org_id=tenant[0], project_id=tenant[1]), metadata=bearer(tokens.admin)
        )
    )
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.fields == ["start_time"]
