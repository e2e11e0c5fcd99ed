"""RegenerateWebhookSecret as callers see it: scopes, tenant pinning, bad input, a project without
webhooks, and a successful call (its expire time, what GetWebhookSecret answers afterwards, and the
audit record, which names no secret)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.generator import GeneratorConfig
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer
from tests.integration.importing import enable, enable_request
from tests.integration.live_helpers import LiveStack, live_stack
from tests.integration.rpc import failure

TOKEN = "pk_5550001_REGENERATESANDBOX0000000000000"


def regenerate(
    tenant: tuple[str, str], name: str = "clickup", grace: duration_pb2.Duration | None = None
) -> pb.RegenerateWebhookSecretRequest:
    request = pb.RegenerateWebhookSecretRequest(org_id=tenant[0], project_id=tenant[1], name=name)
    if grace is not None:
        request.grace.CopyFrom(grace)
    return request


# ---------------------------------------------------------------- refusals (nothing changes)


async def test_a_read_only_token_may_not_regenerate(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> None:
    refused = await failure(hub.stub.RegenerateWebhookSecret(regenerate(tenant), metadata=bearer(tokens.reader)))
    assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "MISSING_SCOPE")


async def test_the_gateways_token_may_not_regenerate(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> None:
    refused = await failure(hub.stub.RegenerateWebhookSecret(regenerate(tenant), metadata=bearer(tokens.gateway)))
    assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "MISSING_SCOPE")


async def test_a_tenant_pinned_token_may_not_regenerate_another_tenants(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    for other in (tenant, ("acme", "p2"), ("other-org", "p1")):
        refused = await failure(hub.stub.RegenerateWebhookSecret(regenerate(other), metadata=bearer(tokens.tenant)))
        assert (refused.code, refused.reason) == (grpc.StatusCode.PERMISSION_DENIED, "WRONG_TENANT")


async def test_without_a_token_it_is_unauthenticated(hub: RunningHub, tenant: tuple[str, str]) -> None:
    refused = await failure(hub.stub.RegenerateWebhookSecret(regenerate(tenant)))
    assert refused.code == grpc.StatusCode.UNAUTHENTICATED


BAD_INPUT = [
    # (name, grace, the field named)
    ("clickup", duration_pb2.Duration(seconds=-1), "grace"),
    ("clickup", duration_pb2.Duration(seconds=-600, nanos=-1), "grace"),
    ("clickup", duration_pb2.Duration(nanos=-5), "grace"),
    ("clickup", duration_pb2.Duration(seconds=24 * 3600, nanos=1), "grace"),
    ("clickup", duration_pb2.Duration(seconds=30 * 24 * 3600), "grace"),
    ("", None, "name"),
    ("Click Up", None, "name"),
]


@pytest.mark.parametrize(
    ("name", "grace", "field"), BAD_INPUT, ids=[f"{row[2]}-{i}" for i, row in enumerate(BAD_INPUT)]
)
async def test_bad_input_is_an_invalid_argument_naming_the_field(
    hub: RunningHub,
    tokens: Tokens,
    tenant: tuple[str, str],
    name: str,
    grace: duration_pb2.Duration | None,
    field: str,
) -> None:
    refused = await failure(
        hub.stub.RegenerateWebhookSecret(regenerate(tenant, name, grace), metadata=bearer(tokens.admin))
    )
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.fields == [field]


async def test_bad_ids_are_invalid_arguments(hub: RunningHub, tokens: Tokens) -> None:
    refused = await failure(hub.stub.RegenerateWebhookSecret(regenerate(("", "p1")), metadata=bearer(tokens.admin)))
    assert (refused.code, refused.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["org_id"])


async def test_an_unknown_integration_is_not_found(hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> None:
    refused = await failure(
        hub.stub.RegenerateWebhookSecret(regenerate(tenant, "nosuch"), metadata=bearer(tokens.admin))
    )
    assert refused.code == grpc.StatusCode.NOT_FOUND


async def test_a_project_without_webhooks_is_a_failed_precondition(
    hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], clickup_sandbox: RunningSandbox
) -> None:
    never = await failure(hub.stub.RegenerateWebhookSecret(regenerate(tenant), metadata=bearer(tokens.admin)))
    assert (never.code, never.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_WEBHOOKS")
    await enable(hub, clickup_sandbox.token, tokens.admin, tenant)  # enabled, auto-sync off
    off = await failure(hub.stub.RegenerateWebhookSecret(regenerate(tenant), metadata=bearer(tokens.admin)))
    assert (off.code, off.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NO_WEBHOOKS")
    assert "auto_sync" in off.message
    audit = await hub.stub.ListAuditRecords(
        pb.ListAuditRecordsRequest(org_id=tenant[0], project_id=tenant[1]), metadata=bearer(tokens.admin)
    )
    assert "webhook.regenerate_secret" not in [r.action for r in audit.records], "a refusal is not audited"


# ---------------------------------------------------------------- success


@pytest.fixture
async def stack(
    neo4j_connection: Connection, tokens: Tokens, encryption_keys: str, tmp_path: Path
) -> AsyncIterator[LiveStack]:
    config = GeneratorConfig(seed=41, spaces=1, tasks_per_list=3)
    async with live_stack(config, TOKEN, neo4j_connection, tokens, encryption_keys, tmp_path) as running:
        yield running


async def secret_of(hub: RunningHub, tokens: Tokens, webhook_id: str) -> pb.GetWebhookSecretResponse:
    answer: pb.GetWebhookSecretResponse = await hub.stub.GetWebhookSecret(
        pb.GetWebhookSecretRequest(integration="clickup", webhook_id=webhook_id), metadata=bearer(tokens.gateway)
    )
    return answer


async def test_a_regeneration_answers_when_the_old_secret_expires_and_is_audited_without_secrets(
    stack: LiveStack, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    hub = stack.hub
    enabled = await hub.stub.UpdateIntegration(
        enable_request(tenant, TOKEN, auto_sync=True), metadata=bearer(tokens.admin)
    )
    (old_id,) = [w.id for w in enabled.webhooks]
    old_secret = (await secret_of(hub, tokens, old_id)).secret

    asked = datetime.now(UTC)
    done = await hub.stub.RegenerateWebhookSecret(
        regenerate(tenant, grace=duration_pb2.Duration(seconds=90)), metadata=bearer(tokens.admin)
    )
    expires = done.old_secret_expire_time.ToDatetime(UTC)
    assert asked + timedelta(seconds=89) <= expires <= datetime.now(UTC) + timedelta(seconds=91)
    ids = sorted(w.id for w in done.integration.webhooks)
    assert len(ids) == 2, "the old webhook is listed beside its replacement until the grace ends"
    assert old_id in ids
    (new_id,) = [i for i in ids if i != old_id]
    assert stack.sandbox.hub.webhooks[new_id].events == ["*"], "the replacement sends every event"

    old, new = await secret_of(hub, tokens, old_id), await secret_of(hub, tokens, new_id)
    assert old.secret == old_secret, "the old webhook keeps signing with its own secret during the grace"
    assert 0 < old.ttl.seconds <= 90, "the gateway asks again when the grace ends"
    assert new.secret == stack.sandbox.hub.webhooks[new_id].secret != old_secret
    assert list(new.previous_secrets) == []

    audit = await hub.stub.ListAuditRecords(
        pb.ListAuditRecordsRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"),
        metadata=bearer(tokens.admin),
    )
    (record,) = [r for r in audit.records if r.action == "webhook.regenerate_secret"]
    assert record.actor == "admin"
    assert record.details["webhooks"] == "1"
    assert record.details["grace_seconds"] == "90"
    flat = " ".join([*record.details.keys(), *record.details.values()])
    assert old_secret not in flat
    assert new.secret not in flat

    # Again, with the default grace: the replacement is replaced; the first old webhook keeps its own grace.
    again = await hub.stub.RegenerateWebhookSecret(regenerate(tenant), metadata=bearer(tokens.admin))
    default_end = again.old_secret_expire_time.ToDatetime(UTC)
    assert timedelta(minutes=9) < default_end - datetime.now(UTC) <= timedelta(minutes=10)
    assert len(again.integration.webhooks) == 3
    assert (await secret_of(hub, tokens, old_id)).ttl.seconds <= 90
