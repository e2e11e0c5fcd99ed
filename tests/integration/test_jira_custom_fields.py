"""Jira's custom fields through the API, against the Jira sandbox and the real Neo4j: an import writes
each valued field as ``cf_<name>`` in its natural type (checked against the sandbox's own model, not
our transform), ListCustomFields lists the site's fields with their defaults, UpdateFieldMappings
renames, skips and retypes, the FIELD_REMAP job re-maps the imported issues without one Jira call,
and the graph then equals a fresh import with the same mapping; so does it after an event and a gap
repair applied with the mapping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import neo4j
import pytest

from graph.writer import GraphWriter
from integrations.v1 import integration_service_pb2 as pb
from sandbox.jira import custom_fields
from sandbox.jira.generator import MAIN_TOKEN, GeneratorConfig
from sandbox.jira.model import Field, Issue, Site
from server.integrations.base import WebhookEvent
from tests.conftest import RunningHub, Tokens, bearer
from tests.integration.importing import watch
from tests.integration.test_jira_import import configure, import_once
from tests.integration.test_jira_live_sync import export
from tests.jira_sites import JiraSite, serving

CONFIG = GeneratorConfig(seed=5, projects=2, issues_per_project=8)


@pytest.fixture(scope="module")
def jira_site() -> Iterator[JiraSite]:
    with serving(CONFIG) as site:
        yield site


def listing(tenant: tuple[str, str]) -> pb.ListCustomFieldsRequest:
    return pb.ListCustomFieldsRequest(org_id=tenant[0], project_id=tenant[1], name="jira")


def change(tenant: tuple[str, str], *mappings: pb.FieldMapping) -> pb.UpdateFieldMappingsRequest:
    return pb.UpdateFieldMappingsRequest(org_id=tenant[0], project_id=tenant[1], name="jira", mappings=mappings)


def by_name(fields: Any) -> dict[str, pb.CustomField]:
    return {field.name: field for field in fields}


def new_mapping(fields: dict[str, pb.CustomField]) -> list[pb.FieldMapping]:
    return [
        pb.FieldMapping(field_id=fields["Cost estimate"].id, property="costEstimate"),
        pb.FieldMapping(field_id=fields["Customer ref"].id, skip=True),
        pb.FieldMapping(field_id=fields["Areas"].id, type=pb.FIELD_TYPE_STRING),
        pb.FieldMapping(field_id=fields["Review at"].id, property="reviewDue", type=pb.FIELD_TYPE_STRING),
    ]


def issue_props(driver: neo4j.Driver, project: str) -> dict[str, dict[str, Any]]:
    records, _, _ = driver.execute_query(
        "MATCH (i:Issue {projectId: $p, source: 'jira'}) WHERE i.stub IS NULL "
        "RETURN i.externalId AS id, properties(i) AS props",
        p=project,
    )
    return {r["id"]: {k: native(v) for k, v in dict(r["props"]).items()} for r in records}


def native(value: Any) -> Any:
    return value.to_native() if hasattr(value, "to_native") else value


# ---------------------------------------------------------------- the truth, from the sandbox's model


def _option(field: Field, option_id: str) -> dict[str, str]:
    return {"id": option_id, "value": field.options[option_id].rsplit("/", 1)[-1]}


def _bullets(doc: dict[str, Any]) -> str:
    """The sandbox's acceptance criteria (a paragraph, then bullets) as V7 text."""
    lines = [doc["content"][0]["content"][0]["text"]]
    for block in doc["content"][1:]:
        lines += ["- " + item["content"][0]["content"][0]["text"] for item in block["content"]]
    return "\n".join(lines)


def natural(field: Field, value: Any) -> Any:
    """A sandbox value in the type README's *Custom fields* names for its kind."""
    kind = custom_fields.kind_of(field)
    if kind == "float":
        return float(value)
    if kind == "select":
        return field.options[value]
    if kind == "textarea":
        return _bullets(value)
    if kind == "datepicker":
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if kind == "datetime":
        return datetime.fromtimestamp(value / 1000, UTC)
    if kind == "multiselect":
        return [field.options[o] for o in value]
    if kind == "cascadingselect":  # no natural type: its JSON, as v3 sends it without the links
        return json.dumps(_option(field, value[0]) | {"child": _option(field, value[1])}, sort_keys=True)
    return list(value) if isinstance(value, list) else value  # text, labels, an account id


def expected_props(site: Site, issue: Issue) -> dict[str, Any]:
    """What each sandbox field's value must become unmapped (§4.3 shapes, natural types, V7, V13)."""
    return {
        "cf_" + field.name.lower().replace(" ", "_"): natural(field, issue.custom_values[field.id])
        for field in custom_fields.others(site)
        if issue.custom_values.get(field.id) is not None
    }


# ---------------------------------------------------------------- the test


async def test_custom_fields_are_imported_mapped_and_re_mapped_as_a_fresh_import_would(
    hub: RunningHub,
    tokens: Tokens,
    tenant: tuple[str, str],
    jira_site: JiraSite,
    neo4j_driver: neo4j.Driver,
    graph_driver: neo4j.AsyncDriver,
) -> None:
    admin = bearer(tokens.admin)
    site = jira_site.sandbox.site
    await configure(hub, tokens.admin, tenant, jira_site, MAIN_TOKEN)
    first = await import_once(hub, tokens.admin, tenant)
    assert first.state == pb.IMPORT_JOB_STATE_SUCCEEDED, first.error

    # ------------------------------------------------------------ the import: natural types, raw values kept
    before = issue_props(neo4j_driver, tenant[1])
    assert before
    valued = 0
    for issue_id, props in before.items():
        want = expected_props(site, site.issues[issue_id])
        assert {k: v for k, v in props.items() if k.startswith("cf_")} == want, issue_id
        assert props.get("customFieldProps") == (sorted(want) or None)
        kept = json.loads(props["customFieldsJson"]) if want else []
        assert [e["id"] for e in kept] == sorted(site.issues[issue_id].custom_values, key=lambda f: int(f[12:]))
        valued += bool(want)
    assert valued > len(before) // 2, "most generated issues have custom fields"
    kinds = {custom_fields.kind_of(f) for f in custom_fields.others(site)}
    seen = {k for props in before.values() for k in props if k.startswith("cf_")}
    assert len(seen) == len(kinds) == 10, "every kind of field is met"

    # ------------------------------------------------------------ ListCustomFields: the site's fields, defaults
    listed = (await hub.stub.ListCustomFields(listing(tenant), metadata=admin)).fields
    fields = by_name(listed)
    assert set(fields) == {f.name for f in custom_fields.others(site)}, "not sprint, rank or story points"
    assert {f.id for f in listed} == {f.id for f in custom_fields.others(site)}
    cost = fields["Cost estimate"]
    assert (cost.provider_type, cost.kind, cost.default_property, cost.natural_type) == (
        "float",
        "Issue",
        "cf_cost_estimate",
        pb.FIELD_TYPE_NUMBER,
    )
    assert (cost.mapping.property, cost.mapping.type, cost.mapping.skip) == (
        "cf_cost_estimate",
        pb.FIELD_TYPE_NUMBER,
        False,
    )
    naturals = {name: f.natural_type for name, f in fields.items()}
    assert naturals == {
        "Cost estimate": pb.FIELD_TYPE_NUMBER,
        "Severity": pb.FIELD_TYPE_STRING,
        "Acceptance criteria": pb.FIELD_TYPE_STRING,
        "Customer ref": pb.FIELD_TYPE_STRING,
        "Target date": pb.FIELD_TYPE_DATETIME,
        "Review at": pb.FIELD_TYPE_DATETIME,
        "Areas": pb.FIELD_TYPE_STRING_LIST,
        "Platforms": pb.FIELD_TYPE_STRING_LIST,
        "Reviewer": pb.FIELD_TYPE_STRING,
        "Hosting": pb.FIELD_TYPE_STRING,
    }

    # ------------------------------------------------------------ UpdateFieldMappings and the re-map job
    updated = await hub.stub.UpdateFieldMappings(change(tenant, *new_mapping(fields)), metadata=admin)
    assert updated.remap_job.kind == pb.IMPORT_JOB_KIND_FIELD_REMAP
    shown = by_name(updated.fields)
    assert shown["Cost estimate"].mapping.property == "costEstimate"
    assert shown["Customer ref"].mapping.skip
    assert shown["Areas"].mapping.type == pb.FIELD_TYPE_STRING
    ended = (await watch(hub, tokens.admin, tenant, updated.remap_job.id))[-1]
    assert ended.state == pb.IMPORT_JOB_STATE_SUCCEEDED, ended.error
    assert ended.api_calls == 0, "a re-map reads the graph, not Jira"
    assert ended.counters["nodes_read"] == len(before)
    assert 0 < ended.counters["nodes_remapped"] <= valued

    after = issue_props(neo4j_driver, tenant[1])
    for issue_id, old in before.items():
        new = after[issue_id]
        assert new.get("costEstimate") == old.get("cf_cost_estimate")
        assert "cf_cost_estimate" not in new
        assert "cf_customer_ref" not in new
        assert new.get("cf_areas") == (", ".join(old["cf_areas"]) if "cf_areas" in old else None)
        review = old.get("cf_review_at")
        assert new.get("reviewDue") == (review.isoformat() if review else None)
        assert new.get("customFieldsJson") == old.get("customFieldsJson"), "the raw values stay"
        mine = ("cf_", "customFieldProps", "costEstimate", "reviewDue")
        assert {k: v for k, v in new.items() if not k.startswith(mine)} == {
            k: v for k, v in old.items() if not k.startswith(mine)
        }, "nothing else of the node changed"

    # ------------------------------------------------------------ a fresh import with the mapping: the same graph
    fresh = (tenant[0], tenant[1] + "-fresh")
    await configure(hub, tokens.admin, fresh, jira_site, MAIN_TOKEN)
    mapped = await hub.stub.UpdateFieldMappings(change(fresh, *new_mapping(fields)), metadata=admin)
    await watch(hub, tokens.admin, fresh, mapped.remap_job.id)
    assert (await import_once(hub, tokens.admin, fresh)).state == pb.IMPORT_JOB_STATE_SUCCEEDED
    remapped, reference = export(neo4j_driver, tenant[1]), export(neo4j_driver, fresh[1])
    assert remapped == reference, (
        f"missing {sorted(set(reference) - set(remapped))[:3]}\nextra {sorted(set(remapped) - set(reference))[:3]}"
    )

    # ------------------------------------------------------------ an event and a gap repair use the mapping too
    cost_id, areas, customer = fields["Cost estimate"].id, fields["Areas"].id, fields["Customer ref"].id
    live = sorted(before, key=int)
    edited, repaired = live[0], live[1]
    async with httpx.AsyncClient(base_url=jira_site.url) as sandbox_admin:
        for issue_id, number in ((edited, 99.5), (repaired, 7.0)):
            changes = {cost_id: number, areas: ["east"], customer: f"CUST-{issue_id}"}
            patched = await sandbox_admin.patch(f"/_sandbox/issues/{issue_id}", json={"customFields": changes})
            assert patched.status_code == 200, patched.text
    view = await hub.server.gallery.get(tenant[0], tenant[1], "jira")
    assert view.settings is not None
    assert view.settings.fields.rules, "the stored mapping is what the plugin gets"
    writer = GraphWriter(graph_driver, "neo4j", tenant[0], tenant[1], view.plugin.graph_schema)
    body = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"id": edited}})
    event = WebhookEvent("jira:issue_updated", edited, site.cloud_id, body)
    assert await view.plugin.apply_webhook(view.settings, writer, event, "event-run") == "written"
    since = datetime.now(UTC) - timedelta(minutes=5)
    repair = await view.plugin.repair_gap(view.settings, writer, site.cloud_id, since, "repair-run")
    assert repair.records >= 2
    now = issue_props(neo4j_driver, tenant[1])
    assert (now[edited]["costEstimate"], now[edited]["cf_areas"]) == (99.5, "east")
    assert (now[repaired]["costEstimate"], now[repaired]["cf_areas"]) == (7.0, "east")
    assert "cf_customer_ref" not in now[edited]
    assert f"CUST-{edited}" in now[edited]["customFieldsJson"], "a skipped field's value is kept"
    assert (await import_once(hub, tokens.admin, fresh)).state == pb.IMPORT_JOB_STATE_SUCCEEDED
    assert export(neo4j_driver, tenant[1]) == export(neo4j_driver, fresh[1])
