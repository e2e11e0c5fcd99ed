"""The typed clients' custom-field calls: typed answers and errors against the real server, and a
mapping change that is never repeated on UNAVAILABLE (a read is)."""

from __future__ import annotations

import asyncio

import pytest

from clients.client import AsyncIntegrationsClient, IntegrationsClient
from clients.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
)
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.fixtures import TV_STAGE_FIELD
from tests.clients import test_gallery_field_mapping as gallery_tests
from tests.conftest import RunningHub, Tokens
from tests.support import free_port

# The test vectors' workspace on a sandbox and a server of this module (no rate limit to wait out).
vectors, vectors_hub, TOKEN = gallery_tests.vectors, gallery_tests.vectors_hub, gallery_tests.VECTORS_TOKEN


def rename(prop: str) -> list[pb.FieldMapping]:
    return [pb.FieldMapping(field_id=TV_STAGE_FIELD, property=prop)]


async def test_typed_answers_and_errors(vectors_hub: RunningHub, tokens: Tokens, tenant: tuple[str, str]) -> None:
    target = vectors_hub.target

    def scenario() -> None:  # in a thread: the server under test runs on this test's event loop
        with IntegrationsClient(target, tokens.admin) as client:
            with pytest.raises(FailedPreconditionError) as unconfigured:
                client.list_custom_fields(*tenant, "clickup")
            assert unconfigured.value.reason == "NOT_CONFIGURED"
            settings = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=TOKEN)
            client.update_integration(
                *tenant, "clickup", pb.Integration(enabled=True, settings=settings), ["settings", "enabled"]
            )
            listed = client.list_custom_fields(*tenant, "clickup")
            assert [(f.id, f.default_property, f.mapping.property) for f in listed.fields] == [
                (TV_STAGE_FIELD, "cf_stage", "cf_stage")
            ]
            assert not listed.HasField("remap_job")
            with pytest.raises(InvalidArgumentError) as taken:
                client.update_field_mappings(*tenant, "clickup", rename("name"))
            assert list(taken.value.field_violations) == ["mappings[0].property"]
            with pytest.raises(NotFoundError):
                client.list_custom_fields(*tenant, "linear")
        with IntegrationsClient(target, tokens.reader) as reader:
            assert len(reader.list_custom_fields(*tenant, "clickup").fields) == 1
            with pytest.raises(PermissionDeniedError):
                reader.update_field_mappings(*tenant, "clickup", rename("stage"))

    await asyncio.to_thread(scenario)
    async with AsyncIntegrationsClient(target, tokens.admin) as client:
        done = await client.update_field_mappings(*tenant, "clickup", rename("stage"))
        assert done.fields[0].mapping.property == "stage"
        assert done.remap_job.kind == pb.IMPORT_JOB_KIND_FIELD_REMAP
        updates = [update async for update in client.watch_import_job(*tenant, done.remap_job.id, deadline=60)]
        assert updates[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
        listed = await client.list_custom_fields(*tenant, "clickup")
        assert (listed.remap_job.id, listed.fields[0].mapping.property) == (done.remap_job.id, "stage")
        again = await client.update_field_mappings(*tenant, "clickup", rename("stage"))
        assert not again.HasField("remap_job"), "the same mapping: nothing to re-map"


async def test_a_mapping_change_is_not_repeated_on_unavailable() -> None:
    async with AsyncIntegrationsClient(f"127.0.0.1:{free_port()}", "token", retries=2, backoff=0.01) as client:
        with pytest.raises(UnavailableError):
            await client.list_custom_fields("acme", "p1", "clickup")
        assert client.retries_made == 2, "a read is repeated"
        with pytest.raises(UnavailableError):
            await client.update_field_mappings("acme", "p1", "clickup", rename("stage"))
        assert client.retries_made == 2, "a change is not"
    with IntegrationsClient(f"127.0.0.1:{free_port()}", "token", retries=2, backoff=0.01) as sync_client:
        with pytest.raises(UnavailableError):
            sync_client.update_field_mappings("acme", "p1", "clickup", rename("stage"))
        assert sync_client.retries_made == 0
