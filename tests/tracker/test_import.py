"""The Tracker plugin through the real server and Neo4j: configured, tested, imported, re-imported
without a write, swept after a complete run, and shown in the gallery."""

from __future__ import annotations

import asyncio
from datetime import UTC

import grpc
import httpx
import neo4j
from google.protobuf import field_mask_pb2

from clients.gallery.app import create_app as create_gallery
from clients.gallery.config import GalleryConfig
from integrations.v1 import integration_service_pb2 as pb
from tests.conftest import bearer
from tests.integration.rpc import failure
from tests.support import UvicornThread
from tests.tracker.conftest import TrackerStack, count

NODES = "MATCH (n:{label} {{projectId: $p, source: 'tracker'}}) WHERE n.stub IS NULL RETURN count(n)"
RELS = "MATCH (:{a} {{projectId: $p}})-[r:{type}]->(:{b} {{projectId: $p}}) RETURN count(r)"


def graph(driver: neo4j.Driver, project: str) -> dict[str, int]:
    kinds = ("TrackerBoard", "TrackerCard", "TrackerChecklistItem")
    found = {label: count(driver, NODES.format(label=label), p=project) for label in kinds}
    found["HAS_CARD"] = count(driver, RELS.format(a="TrackerBoard", type="HAS_CARD", b="TrackerCard"), p=project)
    found["HAS_ITEM"] = count(
        driver, RELS.format(a="TrackerCard", type="HAS_ITEM", b="TrackerChecklistItem"), p=project
    )
    return found


def tombstones(driver: neo4j.Driver, project: str, kind: str) -> set[str]:
    records, _, _ = driver.execute_query(
        "MATCH (t:Tombstone {projectId: $p, source: 'tracker', kind: $kind}) RETURN t.externalId AS id",
        p=project,
        kind=kind,
    )
    return {r["id"] for r in records}


async def test_options_are_checked_with_their_real_path(stack: TrackerStack, tenant: tuple[str, str]) -> None:
    failed = await failure(stack.configure(tenant, ["good_1", "not-a-board"]))
    assert failed.code == grpc.StatusCode.INVALID_ARGUMENT
    assert failed.fields == ["settings.options.board_ids[1]"]


async def test_configure_test_and_import_then_reimport_writes_nothing(
    stack: TrackerStack, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    first_board, second_board = stack.new_board(cards=3, items=2), stack.new_board(cards=2, items=1)
    stack.new_board(cards=1)  # visible to the token, not selected: never imported
    saved = await stack.configure(tenant, [first_board, second_board])
    assert (saved.enabled, saved.configured) == (True, True)
    assert dict(saved.settings.options)["board_ids"] == [first_board, second_board]

    checked = await stack.hub.stub.TestConnection(
        pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="tracker"), metadata=bearer(stack.admin)
    )
    assert checked.ok, checked.message
    assert checked.account.username == "Test User"
    assert {first_board, second_board} <= {w.id for w in checked.workspaces}

    first = await stack.run_import(tenant)
    assert first.state == pb.IMPORT_JOB_STATE_SUCCEEDED, first.error
    assert graph(neo4j_driver, tenant[1]) == {
        "TrackerBoard": 2,
        "TrackerCard": 5,
        "TrackerChecklistItem": 8,
        "HAS_CARD": 5,
        "HAS_ITEM": 8,
    }
    assert first.counters["trackercard"] == 5
    assert first.counters["properties_set"] > 0
    assert first.counters["relationships_created"] == 13
    integration = await stack.hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="tracker"), metadata=bearer(stack.admin)
    )
    sync = integration.sync_state
    assert sync.last_import_job_id == first.id
    assert dict(sync.totals) == {"trackerboard": 2, "trackercard": 5, "trackerchecklistitem": 8}
    newest = max(c.updated_at for c in stack.tracker.cards.values() if c.board_id == first_board)
    assert sync.workspace_watermarks[first_board].ToDatetime(tzinfo=UTC) == newest

    second = await stack.run_import(tenant)
    assert second.state == pb.IMPORT_JOB_STATE_SUCCEEDED, second.error
    assert second.counters["properties_set"] == 0
    assert second.counters["relationships_created"] == 0
    assert second.counters["nodes_written"] == 0
    written = count(
        neo4j_driver, "MATCH (n {projectId: $p}) WHERE n.syncRunId = $run RETURN count(n)", p=tenant[1], run=second.id
    )
    assert written == 0, "the unchanged re-import wrote no node"
    assert graph(neo4j_driver, tenant[1])["TrackerCard"] == 5


async def test_a_complete_run_sweeps_what_the_tracker_no_longer_has(
    stack: TrackerStack, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    board = stack.new_board(cards=3, items=2)
    await stack.configure(tenant, [board])  # no auto_sync: no webhook tells us about the delete
    assert (await stack.run_import(tenant)).state == pb.IMPORT_JOB_STATE_SUCCEEDED
    doomed_card = next(c for c in stack.tracker.cards.values() if c.board_id == board)
    doomed_items = {item.id for item in doomed_card.checklist}
    sent = len(stack.tracker.deliveries)
    async with stack.standin() as client:
        assert (await client.delete(f"/_test/cards/{doomed_card.id}")).status_code == 204
    assert len(stack.tracker.deliveries) == sent, "no webhook was told"
    assert graph(neo4j_driver, tenant[1])["TrackerCard"] == 3, "the graph does not know yet"

    again = await stack.run_import(tenant)
    assert again.state == pb.IMPORT_JOB_STATE_SUCCEEDED, again.error
    assert graph(neo4j_driver, tenant[1]) == {
        "TrackerBoard": 1,
        "TrackerCard": 2,
        "TrackerChecklistItem": 4,
        "HAS_CARD": 2,
        "HAS_ITEM": 4,
    }
    assert tombstones(neo4j_driver, tenant[1], "TrackerCard") == {doomed_card.id}
    assert tombstones(neo4j_driver, tenant[1], "TrackerChecklistItem") == doomed_items


async def test_the_gallery_lists_the_tracker_card(stack: TrackerStack, tenant: tuple[str, str]) -> None:
    listed = await stack.hub.stub.ListIntegrations(
        pb.ListIntegrationsRequest(org_id=tenant[0], project_id=tenant[1]), metadata=bearer(stack.admin)
    )
    tracker = next(i for i in listed.integrations if i.name == "tracker")
    assert tracker.display_name == "Tracker"
    assert [i.name for i in listed.integrations] == ["clickup", "jira", "tracker"]

    page = UvicornThread(
        create_gallery(GalleryConfig(server_target=stack.hub.target, token=stack.admin, projects=(tenant,)))
    )
    await asyncio.to_thread(page.__enter__)  # off the loop: the server under test runs on it
    try:
        async with httpx.AsyncClient(base_url=page.url, timeout=30) as http:
            cards = (await http.get(f"/api/orgs/{tenant[0]}/projects/{tenant[1]}/integrations")).json()
    finally:
        await asyncio.to_thread(page.__exit__, None, None, None)
    card = next(c for c in cards["integrations"] if c["name"] == "tracker")
    assert card["display_name"] == "Tracker"
    assert (card["enabled"], card["configured"]) == (False, False)


async def test_the_schema_alone_gives_each_kind_its_unique_key(stack: TrackerStack, neo4j_driver: neo4j.Driver) -> None:
    records, _, _ = neo4j_driver.execute_query(
        "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties WHERE type = 'UNIQUENESS' "
        "RETURN labelsOrTypes[0] AS label, properties"
    )
    keys = {r["label"]: r["properties"] for r in records}
    for label in ("TrackerBoard", "TrackerCard", "TrackerChecklistItem"):
        assert keys.get(label) == ["projectId", "source", "externalId"], label


async def test_one_option_is_updated_by_its_own_mask_path_and_the_rest_is_kept(
    stack: TrackerStack, tenant: tuple[str, str]
) -> None:
    first_board, second_board = stack.new_board(cards=1), stack.new_board(cards=1)
    before = await stack.configure(tenant, [first_board, second_board])

    def only_boards(board_ids: list[str]) -> pb.UpdateIntegrationRequest:
        settings = pb.IntegrationSettings()
        settings.options.update({"board_ids": board_ids})
        return pb.UpdateIntegrationRequest(
            org_id=tenant[0],
            project_id=tenant[1],
            integration=pb.Integration(name="tracker", settings=settings),
            update_mask=field_mask_pb2.FieldMask(paths=["settings.options.board_ids"]),
        )

    refused = await failure(
        stack.hub.stub.UpdateIntegration(only_boards(["not-a-board"]), metadata=bearer(stack.admin))
    )
    assert refused.code == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.fields == ["settings.options.board_ids[0]"]
    unchanged = await stack.hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="tracker"), metadata=bearer(stack.admin)
    )
    assert dict(unchanged.settings.options)["board_ids"] == [first_board, second_board]

    saved = await stack.hub.stub.UpdateIntegration(only_boards([second_board]), metadata=bearer(stack.admin))
    assert dict(saved.settings.options)["board_ids"] == [second_board]
    assert saved.enabled is True
    assert saved.settings.auth_method == before.settings.auth_method
    assert saved.settings.api_token == before.settings.api_token  # still the stored token, masked
    checked = await stack.hub.stub.TestConnection(
        pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="tracker"), metadata=bearer(stack.admin)
    )
    assert checked.ok, "the token was kept: an options-only update does not touch the credentials"
