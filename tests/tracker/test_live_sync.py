"""Live sync of the Tracker plugin: auto_sync registers a webhook per board in the stand-in, and its
signed deliveries go through the real gateway (route-keyed scheme) to the server, whose worker has
the plugin apply them. A delete leaves tombstones that a late update cannot get past."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC

import neo4j

from integrations.v1 import integration_service_pb2 as pb
from tests.support import wait_until
from tests.tracker.conftest import TrackerStack, count

WAIT_SECONDS = 30
CARD = "MATCH (c:TrackerCard {projectId: $p, externalId: $id}) RETURN count(c)"


def title(driver: neo4j.Driver, project: str, card_id: str) -> str | None:
    records, _, _ = driver.execute_query(
        "MATCH (c:TrackerCard {projectId: $p, externalId: $id}) RETURN c.title AS title", p=project, id=card_id
    )
    return records[0]["title"] if records else None


def events(driver: neo4j.Driver, project: str, state: str) -> int:
    return count(
        driver,
        "MATCH (e:WebhookEvent {projectId: $p, integration: 'tracker', state: $s}) RETURN count(e)",
        p=project,
        s=state,
    )


async def until(condition: Callable[[], bool], what: str) -> None:
    """Polled from a thread: the server under test runs on this event loop and must keep running."""
    await asyncio.to_thread(wait_until, condition, WAIT_SECONDS, what)


async def test_a_card_change_is_delivered_through_the_gateway_and_applied(
    stack: TrackerStack, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    board = stack.new_board(cards=2, items=1)
    await stack.configure(tenant, [board])
    assert (await stack.run_import(tenant)).state == pb.IMPORT_JOB_STATE_SUCCEEDED
    saved = await stack.configure(tenant, [board], auto_sync=True)
    assert saved.settings.sync_settings.auto_sync, saved.sync_state.last_error

    hooks = [h for h in stack.tracker.hooks.values() if h.board_id == board]
    assert len(hooks) == 1
    route_key = hooks[0].url.rpartition("/")[2]
    assert hooks[0].url == f"{stack.gateway_url}/webhooks/tracker/{route_key}"
    assert route_key.endswith(f"-{board}")
    assert [(w.id, w.workspace_id) for w in saved.webhooks] == [(route_key, board)]

    card = next(c for c in stack.tracker.cards.values() if c.board_id == board)
    sent = len(stack.tracker.deliveries)
    async with stack.standin() as client:
        changed = await client.patch(f"/_test/cards/{card.id}", json={"title": "Renamed in Tracker"})
        assert changed.status_code == 200
        created = (
            await client.post("/_test/cards", json={"board_id": board, "title": "New", "checklist": ["a"]})
        ).json()
    delivered = stack.tracker.deliveries[sent:]
    assert [(d.body["event"], d.status) for d in delivered] == [("card.updated", 200), ("card.created", 200)]

    await until(lambda: title(neo4j_driver, tenant[1], card.id) == "Renamed in Tracker", "the rename applied")
    await until(lambda: title(neo4j_driver, tenant[1], created["id"]) == "New", "the new card applied")
    items = count(
        neo4j_driver,
        "MATCH (:TrackerBoard {projectId: $p, externalId: $b})-[:HAS_CARD]->(:TrackerCard {externalId: $c})"
        "-[:HAS_ITEM]->(i:TrackerChecklistItem) RETURN count(i)",
        p=tenant[1],
        b=board,
        c=created["id"],
    )
    assert items == 1

    off = await stack.configure(tenant, [board], auto_sync=False)
    assert list(off.webhooks) == []
    assert [h for h in stack.tracker.hooks.values() if h.board_id == board] == [], "unregistered in the tracker"


async def test_a_delete_leaves_tombstones_that_a_late_update_cannot_pass(
    stack: TrackerStack, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    board = stack.new_board(cards=2, items=2)
    await stack.configure(tenant, [board])
    assert (await stack.run_import(tenant)).state == pb.IMPORT_JOB_STATE_SUCCEEDED
    await stack.configure(tenant, [board], auto_sync=True)
    card = next(c for c in stack.tracker.cards.values() if c.board_id == board)
    async with stack.standin() as client:
        assert (await client.delete(f"/_test/cards/{card.id}")).status_code == 204
        await until(lambda: count(neo4j_driver, CARD, p=tenant[1], id=card.id) == 0, "the delete applied")
        records, _, _ = neo4j_driver.execute_query(
            "MATCH (t:Tombstone {projectId: $p, source: 'tracker'}) RETURN t.kind AS kind, t.externalId AS id",
            p=tenant[1],
        )
        assert {(r["kind"], r["id"]) for r in records} == {("TrackerCard", card.id)} | {
            ("TrackerChecklistItem", item.id) for item in card.checklist
        }

        # A late update of the deleted card, read from a lagging replica that still has it as it was.
        await client.put("/_test/config", json={"stale_reads": True})
        try:
            assert (await client.get(f"/api/cards/{card.id}", headers=auth(stack))).status_code == 200
            await client.post("/_test/events", json={"event": "card.updated", "card_id": card.id})
            await until(lambda: events(neo4j_driver, tenant[1], "APPLIED") == 2, "the late update applied")
        finally:
            await client.put("/_test/config", json={"stale_reads": False})
    assert count(neo4j_driver, CARD, p=tenant[1], id=card.id) == 0, "the tombstone kept it deleted"
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (e:WebhookEvent {projectId: $p, integration: 'tracker'}) RETURN e.event AS event, e.outcome AS outcome",
        p=tenant[1],
    )
    outcomes = sorted((r["event"], r["outcome"]) for r in records)
    # The stale card was read and handed to the writer, which refused it: not deleted again.
    assert outcomes == [("card.deleted", "deleted"), ("card.updated", "unchanged")]
    assert events(neo4j_driver, tenant[1], "FAILED") == 0
    await stack.configure(tenant, [board], auto_sync=False)


def auth(stack: TrackerStack) -> dict[str, str]:
    return {"Authorization": f"Bearer {next(iter(stack.tracker.tokens))}"}


async def test_gap_repair_reads_what_changed_without_a_webhook(
    stack: TrackerStack, tenant: tuple[str, str], neo4j_driver: neo4j.Driver
) -> None:
    board = stack.new_board(cards=3, items=1)
    await stack.configure(tenant, [board])
    assert (await stack.run_import(tenant)).state == pb.IMPORT_JOB_STATE_SUCCEEDED
    saved = await stack.configure(tenant, [board], auto_sync=True)
    card = next(c for c in stack.tracker.cards.values() if c.board_id == board)
    card.title, card.updated_at = "Changed while no event was sent", stack.tracker.now()  # a dropped event

    server, live = stack.hub.server, stack.hub.server.live_sync
    assert live is not None
    registration = await server.webhooks.registry.get("tracker", saved.webhooks[0].id)
    assert registration is not None
    view = await server.gallery.get(tenant[0], tenant[1], "tracker")
    assert await live.repair(registration, view) == 3, "every card changed since the watermark (minus the overlap)"
    assert title(neo4j_driver, tenant[1], card.id) == "Changed while no event was sent"
    integration = await stack.configure(tenant, [board], auto_sync=False)
    assert integration.sync_state.workspace_watermarks[board].ToDatetime(tzinfo=UTC) == card.updated_at
