"""Custom-field mapping through the API: discovery, validation, and the background re-map of the nodes
already imported, which must end where a fresh import with the same mapping ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import neo4j
import pytest

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from sandbox.clickup.generator import GeneratorConfig, generate
from sandbox.clickup.state import Fault, Sandbox
from tests.conftest import RunningHub, Tokens, bearer, hub_with, serve_world, server_env
from tests.integration.importing import enable, export, run_import, watch
from tests.integration.rpc import failure

TOKEN = "pk_5550001_FIELDMAPSANDBOX000000000000000"


@dataclass
class Stack:
    hub: RunningHub
    sandbox: Sandbox


@pytest.fixture(scope="module")
async def stack(neo4j_connection: Connection, tokens: Tokens, encryption_keys: str) -> AsyncIterator[Stack]:
    with serve_world(
        generate(GeneratorConfig(seed=47, spaces=1, tasks_per_list=5)), TOKEN, rate_limited=False
    ) as clickup:
        async with hub_with(server_env(neo4j_connection, tokens, clickup.api_url, encryption_keys)) as hub:
            yield Stack(hub, clickup.sandbox)


def listing(tenant: tuple[str, str]) -> pb.ListCustomFieldsRequest:
    return pb.ListCustomFieldsRequest(org_id=tenant[0], project_id=tenant[1], name="clickup")


def change(tenant: tuple[str, str], *mappings: pb.FieldMapping) -> pb.UpdateFieldMappingsRequest:
    return pb.UpdateFieldMappingsRequest(org_id=tenant[0], project_id=tenant[1], name="clickup", mappings=mappings)


def by_name(fields: Any) -> dict[str, pb.CustomField]:
    return {field.name: field for field in fields}


def every(fields: Any, name: str, **mapping: Any) -> list[pb.FieldMapping]:
    """The same mapping for each field of that name (the sandbox has one set of fields per space)."""
    return [pb.FieldMapping(field_id=field.id, **mapping) for field in fields if field.name == name]


def new_mapping(fields: Any) -> list[pb.FieldMapping]:
    return [
        *every(fields, "Estimate (h)", property="estimateHours"),
        *every(fields, "Customer", skip=True),
        *every(fields, "Areas", type=pb.FIELD_TYPE_STRING),
    ]


def task_props(driver: neo4j.Driver, project: str) -> list[dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (t:Task {projectId: $p}) WHERE t.stub IS NULL RETURN properties(t) AS props ORDER BY t.externalId",
        p=project,
    )
    return [dict(r["props"]) for r in records]


async def test_a_changed_mapping_re_maps_the_imported_nodes_as_a_fresh_import_would(
    stack: Stack, tokens: Tokens, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    admin = bearer(tokens.admin)
    await enable(stack.hub, TOKEN, tokens.admin, tenant)
    assert (await run_import(stack.hub, tokens.admin, tenant))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    before = task_props(neo4j_driver, tenant[1])
    assert any("cf_estimate_h" in props for props in before), "the default mapping: cf_<name>"

    listed = (await stack.hub.stub.ListCustomFields(listing(tenant), metadata=admin)).fields
    fields = by_name(listed)
    assert {"Stage", "Estimate (h)", "Customer", "Approved", "Launch date", "Budget", "Areas"} <= set(fields)
    estimate = fields["Estimate (h)"]
    assert (estimate.provider_type, estimate.kind, estimate.default_property) == ("number", "Task", "cf_estimate_h")
    assert estimate.natural_type == pb.FIELD_TYPE_NUMBER
    assert (estimate.mapping.property, estimate.mapping.type, estimate.mapping.skip) == (
        "cf_estimate_h",
        pb.FIELD_TYPE_NUMBER,
        False,
    )

    updated = await stack.hub.stub.UpdateFieldMappings(change(tenant, *new_mapping(listed)), metadata=admin)
    assert updated.remap_job.kind == pb.IMPORT_JOB_KIND_FIELD_REMAP
    shown = by_name(updated.fields)
    assert shown["Estimate (h)"].mapping.property == "estimateHours"
    assert shown["Customer"].mapping.skip
    assert shown["Areas"].mapping.type == pb.FIELD_TYPE_STRING
    ended = (await watch(stack.hub, tokens.admin, tenant, updated.remap_job.id))[-1]
    assert ended.state == pb.IMPORT_JOB_STATE_SUCCEEDED, ended.error
    assert ended.api_calls == 0, "a re-map reads the graph, not ClickUp"
    assert ended.counters["nodes_read"] == len(before)
    assert 0 < ended.counters["nodes_remapped"] <= len(before)

    after = task_props(neo4j_driver, tenant[1])
    for old, new in zip(before, after, strict=True):
        assert new.get("estimateHours") == old.get("cf_estimate_h")
        assert "cf_estimate_h" not in new
        assert "cf_customer" not in new
        if "cf_areas" in old:
            assert new["cf_areas"] == ", ".join(old["cf_areas"])
        assert {k: v for k, v in new.items() if not k.startswith(("cf_", "customField", "estimate"))} == {
            k: v for k, v in old.items() if not k.startswith(("cf_", "customField", "estimate"))
        }, "nothing else of the node changed"

    analytics = await stack.hub.stub.GetIntegrationAnalytics(
        pb.GetIntegrationAnalyticsRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=admin
    )
    assert sum(day.imports for day in analytics.days) == 1, "a re-map is not counted as a sync"

    # What is written from now on uses the new mapping: a fresh import ends in the same graph.
    fresh = (tenant[0], tenant[1] + "-fresh")
    await enable(stack.hub, TOKEN, tokens.admin, fresh)
    await stack.hub.stub.UpdateFieldMappings(change(fresh, *new_mapping(listed)), metadata=admin)
    remapped = await stack.hub.stub.ListCustomFields(listing(fresh), metadata=admin)
    assert remapped.remap_job.kind == pb.IMPORT_JOB_KIND_FIELD_REMAP
    await watch(stack.hub, tokens.admin, fresh, remapped.remap_job.id)
    assert (await run_import(stack.hub, tokens.admin, fresh))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    assert export(neo4j_driver, tenant[1]) == export(neo4j_driver, fresh[1])

    # Saving the same mapping again changes nothing and starts nothing.
    same = await stack.hub.stub.UpdateFieldMappings(
        change(
            tenant,
            *new_mapping(listed),
            *every(listed, "Budget", property="cf_budget", type=pb.FIELD_TYPE_NUMBER),  # the defaults, said
        ),
        metadata=admin,
    )
    assert not same.HasField("remap_job")
    audit = await stack.hub.stub.ListAuditRecords(
        pb.ListAuditRecordsRequest(org_id=tenant[0], project_id=tenant[1]), metadata=admin
    )
    assert [r.action for r in audit.records].count("field_mappings.update") == 2


@pytest.mark.parametrize(
    ("mapping", "path", "reason"),
    [
        (pb.FieldMapping(field_id="", property="x"), "mappings[0].field_id", "INVALID_ARGUMENT"),
        (pb.FieldMapping(field_id="no-such-field"), "mappings[0].field_id", "UNKNOWN_FIELD"),
        (pb.FieldMapping(field_id="@estimate", property="1st"), "mappings[0].property", "INVALID_ARGUMENT"),
        (pb.FieldMapping(field_id="@estimate", property="has space"), "mappings[0].property", "INVALID_ARGUMENT"),
        (pb.FieldMapping(field_id="@estimate", property="name"), "mappings[0].property", "INVALID_ARGUMENT"),
        (pb.FieldMapping(field_id="@estimate", property="cf_budget"), "mappings[0].property", "INVALID_ARGUMENT"),
        (
            pb.FieldMapping(field_id="@estimate", property="customFieldProps"),
            "mappings[0].property",
            "INVALID_ARGUMENT",
        ),
        (pb.FieldMapping(field_id="@estimate", type=99), "mappings[0].type", "INVALID_ARGUMENT"),  # type: ignore[arg-type]
    ],
)
async def test_a_bad_mapping_is_refused_naming_the_entry_and_changes_nothing(
    stack: Stack,
    tokens: Tokens,
    tenant: tuple[str, str],
    neo4j_driver: neo4j.Driver,
    mapping: pb.FieldMapping,
    path: str,
    reason: str,
) -> None:
    admin = bearer(tokens.admin)
    await enable(stack.hub, TOKEN, tokens.admin, tenant)
    fields = by_name((await stack.hub.stub.ListCustomFields(listing(tenant), metadata=admin)).fields)
    if mapping.field_id == "@estimate":
        mapping.field_id = fields["Estimate (h)"].id
    refused = await failure(stack.hub.stub.UpdateFieldMappings(change(tenant, mapping), metadata=admin))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.fields == [path]
    assert refused.reason == reason
    again = by_name((await stack.hub.stub.ListCustomFields(listing(tenant), metadata=admin)).fields)
    assert again == fields, "nothing was stored"


async def test_two_entries_for_one_field_and_too_many_entries_are_refused(
    stack: Stack, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    admin = bearer(tokens.admin)
    await enable(stack.hub, TOKEN, tokens.admin, tenant)
    field = by_name((await stack.hub.stub.ListCustomFields(listing(tenant), metadata=admin)).fields)["Budget"]
    twice = await failure(
        stack.hub.stub.UpdateFieldMappings(
            change(tenant, pb.FieldMapping(field_id=field.id), pb.FieldMapping(field_id=field.id, skip=True)),
            metadata=admin,
        )
    )
    assert (twice.code, twice.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["mappings[1].field_id"])
    many = await failure(
        stack.hub.stub.UpdateFieldMappings(
            change(tenant, *(pb.FieldMapping(field_id=f"f{n}") for n in range(501))), metadata=admin
        )
    )
    assert (many.code, many.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["mappings"])


async def test_scopes_tenant_pinning_and_preconditions(stack: Stack, tokens: Tokens, tenant: tuple[str, str]) -> None:
    unconfigured = await failure(stack.hub.stub.ListCustomFields(listing(tenant), metadata=bearer(tokens.admin)))
    assert (unconfigured.code, unconfigured.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "NOT_CONFIGURED")
    await enable(stack.hub, TOKEN, tokens.admin, tenant)
    listed = await stack.hub.stub.ListCustomFields(listing(tenant), metadata=bearer(tokens.reader))
    assert listed.fields, "reading needs the read scope only"
    read_only = await failure(stack.hub.stub.UpdateFieldMappings(change(tenant), metadata=bearer(tokens.reader)))
    assert (read_only.code, read_only.reason) == (grpc.StatusCode.PERMISSION_DENIED, "MISSING_SCOPE")
    other_tenant = await failure(stack.hub.stub.ListCustomFields(listing(tenant), metadata=bearer(tokens.tenant)))
    assert other_tenant.code == grpc.StatusCode.PERMISSION_DENIED
    unknown = await failure(
        stack.hub.stub.ListCustomFields(
            pb.ListCustomFieldsRequest(org_id=tenant[0], project_id=tenant[1], name="linear"),
            metadata=bearer(tokens.admin),
        )
    )
    assert unknown.code == grpc.StatusCode.NOT_FOUND
    bad_name = await failure(
        stack.hub.stub.UpdateFieldMappings(
            pb.UpdateFieldMappingsRequest(org_id=tenant[0], project_id=tenant[1], name="Jira!"),
            metadata=bearer(tokens.admin),
        )
    )
    assert (bad_name.code, bad_name.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["name"])


async def test_a_mapping_change_waits_for_a_running_import(
    stack: Stack, tokens: Tokens, tenant: tuple[str, str]
) -> None:
    admin = bearer(tokens.admin)
    await enable(stack.hub, TOKEN, tokens.admin, tenant)
    field = by_name((await stack.hub.stub.ListCustomFields(listing(tenant), metadata=admin)).fields)["Budget"]
    stack.sandbox.faults.append(Fault(path=r"/team/\d+/task$", delay_seconds=1.0, times=-1))
    try:
        job = await stack.hub.stub.StartImport(
            pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"), metadata=admin
        )
        refused = await failure(
            stack.hub.stub.UpdateFieldMappings(
                change(tenant, pb.FieldMapping(field_id=field.id, property="budget")), metadata=admin
            )
        )
        assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "JOB_RUNNING")
        assert job.id in refused.message
    finally:
        stack.sandbox.faults.clear()
    assert (await watch(stack.hub, tokens.admin, tenant, job.id))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    listed = by_name((await stack.hub.stub.ListCustomFields(listing(tenant), metadata=admin)).fields)
    assert listed["Budget"].mapping.property == "cf_budget", "the refused change was not stored"
