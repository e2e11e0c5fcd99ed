"""Tenancy and request hygiene (issue 9, items 6-9): ids are full matches, a deliver token keeps its pin,
a project id belongs to one org, page tokens are opaque and bound to their request, StartImport's
request_id is honoured elsewhere (tests/integration/test_import*)."""

from __future__ import annotations

import base64
import json
import uuid

import grpc
import neo4j
import pytest

from devtools.neo4j_local import Connection
from graph.connection import GraphConfig, open_driver
from graph.projects import ProjectOfAnotherOrg
from graph.rows import NodeRow, Rows
from graph.writer import GraphWriter
from integrations.v1 import integration_service_pb2 as pb
from server.integrations.clickup.schema import SCHEMA as CLICKUP_SCHEMA
from tests.conftest import RunningHub, Tokens, bearer
from tests.integration.rpc import failure
from tests.integration.test_gallery import settings, update

Tenant = tuple[str, str]


# ---------------------------------------------------------------- item 8: full matches


@pytest.mark.parametrize("where", ["org", "project", "name"])
async def test_a_trailing_newline_is_refused_and_creates_nothing(
    hub: RunningHub, tokens: Tokens, tenant: Tenant, neo4j_driver: neo4j.Driver, where: str
) -> None:
    org, project = tenant
    name = "clickup"
    if where == "org":
        org += "\n"
    elif where == "project":
        project += "\n"
    else:
        name += "\n"
    request = update((org, project), "enabled", name=name, enabled=True)
    refused = await failure(hub.stub.UpdateIntegration(request, metadata=bearer(tokens.admin)))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (i:Integration) WHERE i.orgId STARTS WITH $org RETURN count(i) AS n", org=tenant[0]
    )
    assert records[0]["n"] == 0


async def test_a_newline_after_a_valid_token_is_refused(hub: RunningHub, tokens: Tokens, tenant: Tenant) -> None:
    request = update(tenant, "settings", new_settings=settings("pk_12345678_ABCDEFGH\n"))
    refused = await failure(hub.stub.UpdateIntegration(request, metadata=bearer(tokens.admin)))
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.fields == ["settings.api_token"]


# ---------------------------------------------------------------- item 7: a project id belongs to one org


async def test_a_second_org_cannot_take_over_a_project_id(
    hub: RunningHub, tokens: Tokens, neo4j_driver: neo4j.Driver, tenant: Tenant
) -> None:
    """Nodes are keyed on the project id: org-b's import used to write into org-a's nodes."""
    org_a, project = tenant
    org_b = org_a + "-b"
    await hub.stub.UpdateIntegration(
        update((org_a, project), "settings", "enabled", enabled=True, new_settings=settings()),
        metadata=bearer(tokens.admin),
    )
    refused = await failure(
        hub.stub.UpdateIntegration(
            update((org_b, project), "settings", "enabled", enabled=True, new_settings=settings()),
            metadata=bearer(tokens.admin),
        )
    )
    assert (refused.code, refused.reason) == (grpc.StatusCode.ALREADY_EXISTS, "PROJECT_OF_ANOTHER_ORG")
    records, _, _ = neo4j_driver.execute_query("MATCH (i:Integration {projectId: $p}) RETURN i.orgId AS org", p=project)
    assert [r["org"] for r in records] == [org_a], "nothing was saved for the second org"
    theirs = await hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=org_b, project_id=project, name="clickup"), metadata=bearer(tokens.admin)
    )
    assert not theirs.enabled
    assert not theirs.HasField("settings") or not theirs.settings.api_token


async def test_the_graph_writer_refuses_another_orgs_project(
    hub: RunningHub, tokens: Tokens, neo4j_connection: Connection, tenant: Tenant
) -> None:
    """The writer checks the claim too, so no path into the graph (import, webhook, repair) can bypass it."""
    org_a, project = tenant
    await hub.stub.UpdateIntegration(
        update((org_a, project), "settings", new_settings=settings()), metadata=bearer(tokens.admin)
    )
    driver = await open_driver(GraphConfig(neo4j_connection.uri, neo4j_connection.user, neo4j_connection.password))
    try:
        rows = Rows()
        rows.nodes.append(NodeRow("Workspace", "ws-1", "ws-1", {"name": "W"}, None))
        with pytest.raises(ProjectOfAnotherOrg):
            await GraphWriter(driver, "neo4j", org_a + "-b", project, CLICKUP_SCHEMA).write(rows, "run-1")
        written = await GraphWriter(driver, "neo4j", org_a, project, CLICKUP_SCHEMA).write(rows, "run-1")
        assert written.changed == {"Workspace": 1}
    finally:
        await driver.close()


# ---------------------------------------------------------------- item 9: opaque page tokens


def _legacy(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def _events(hub: RunningHub, tokens: Tokens, tenant: Tenant, count: int) -> None:
    hook = f"w-{uuid.uuid4().hex[:12]}"
    await hub.server.webhooks.register("clickup", hook, tenant[0], tenant[1], "90120000", "secret")
    bodies = [
        json.dumps({"event": "taskUpdated", "history_items": [{"id": uuid.uuid4().hex}], "webhook_id": hook}).encode()
        for _ in range(count)
    ]
    await hub.stub.DeliverWebhookEvents(
        pb.DeliverWebhookEventsRequest(
            events=[
                pb.DeliverWebhookEventRequest(integration="clickup", raw_body=b, signature_verified=True)
                for b in bodies
            ]
        ),
        metadata=bearer(tokens.gateway),
    )


def _list(tenant: Tenant, **fields: object) -> pb.ListWebhookEventsRequest:
    return pb.ListWebhookEventsRequest(org_id=tenant[0], project_id=tenant[1], **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "token",
    [
        _legacy("o:" + "9" * 30),  # OverflowError on the old parser
        _legacy("o:9223372036854775807"),  # Neo4j "long overflow" on the old parser
        _legacy("o:2"),  # a well-formed token of the old, readable kind
        "not a token",
        "v1.test1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1.nokey.AAAA",
        "é" * 40,
        "x" * 5000,
    ],
)
async def test_a_made_up_page_token_is_invalid_argument(
    hub: RunningHub, tokens: Tokens, tenant: Tenant, token: str
) -> None:
    for call in (
        hub.stub.ListWebhookEvents(_list(tenant, page_token=token), metadata=bearer(tokens.admin)),
        hub.stub.ListImportJobs(
            pb.ListImportJobsRequest(org_id=tenant[0], project_id=tenant[1], page_token=token),
            metadata=bearer(tokens.admin),
        ),
    ):
        refused = await failure(call)
        assert (refused.code, refused.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["page_token"])


async def test_page_tokens_walk_every_item_once_and_are_bound_to_their_filters(
    hub: RunningHub, tokens: Tokens, tenant: Tenant
) -> None:
    await _events(hub, tokens, tenant, 5)
    seen: list[str] = []
    issued: list[str] = []
    token = ""
    pages = 0
    while True:
        page = await hub.stub.ListWebhookEvents(
            _list(tenant, page_size=2, page_token=token), metadata=bearer(tokens.admin)
        )
        seen.extend(e.id for e in page.events)
        pages += 1
        token = page.next_page_token
        if not token:
            break
        issued.append(token)
    second = issued[0]  # the token of the second page
    assert (len(seen), len(set(seen)), pages) == (5, 5, 3)
    blob = second.rsplit(".", 1)[-1]
    assert b"offset" not in base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4)), "opaque: sealed, not encoded"
    tampered = second[:-2] + ("A" if second[-2] != "A" else "B") + second[-1]
    other_project = (tenant[0], tenant[1] + "-other")
    for request in (
        _list(tenant, page_size=2, page_token=second, state=pb.WEBHOOK_EVENT_STATE_PENDING),  # another filter
        _list(other_project, page_size=2, page_token=second),  # another project
        _list(tenant, page_size=2, page_token=tampered),
    ):
        refused = await failure(hub.stub.ListWebhookEvents(request, metadata=bearer(tokens.admin)))
        assert (refused.code, refused.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["page_token"])
    bigger = await hub.stub.ListWebhookEvents(
        _list(tenant, page_size=50, page_token=second), metadata=bearer(tokens.admin)
    )
    assert [e.id for e in bigger.events] == seen[2:], "the page size may change between pages (AIP-158)"


async def test_page_size_above_the_maximum_is_clamped_and_a_negative_one_refused(
    hub: RunningHub, tokens: Tokens, tenant: Tenant
) -> None:
    await _events(hub, tokens, tenant, 3)
    clamped = await hub.stub.ListWebhookEvents(_list(tenant, page_size=100_000), metadata=bearer(tokens.admin))
    assert len(clamped.events) == 3
    refused = await failure(hub.stub.ListWebhookEvents(_list(tenant, page_size=-1), metadata=bearer(tokens.admin)))
    assert (refused.code, refused.fields) == (grpc.StatusCode.INVALID_ARGUMENT, ["page_size"])
