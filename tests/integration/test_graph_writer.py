"""The generic writer, sweep, delete and totals on a made-up source: nothing in graph/ is ClickUp's.

A "toy" source declares boards that hold cards that hold items, cards assigned to members; the
same guarantees the ClickUp import relies on must hold for it, on the real Neo4j.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import neo4j
import pytest

from graph.rows import EdgeRow, NodeRow, Rows
from graph.schema import GraphSchema, NodeKind, Step
from graph.writer import GraphWriter
from tests.support import wait_until

TOY = GraphSchema(
    source="toy",
    kinds=(
        NodeKind("ToyBoard", ("ToyContainer",), deletable=True),
        NodeKind("ToyMember"),
        NodeKind("ToyCard", owns_in=("HOLDS",), owns_out=("ASSIGNED",), deletable=True),
        NodeKind("ToyItem", owns_in=("HOLDS",), deletable=True),
    ),
    swept=("ToyItem", "ToyCard", "ToyBoard"),
    cascades=((Step("HOLDS", min_hops=0, max_hops=2),),),
)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def board(board_id: str) -> Rows:
    return Rows([NodeRow("ToyBoard", board_id, "w1", {"name": board_id})])


def card(card_id: str, board_id: str, updated: datetime, name: str = "card", member: str | None = None) -> Rows:
    rows = Rows([NodeRow("ToyCard", card_id, "w1", {"name": name, "sourceUpdatedAt": updated}, updated)])
    rows.edges.append(EdgeRow("HOLDS", "ToyBoard", board_id, "ToyCard", card_id, owner_is_from=False))
    if member is not None:
        rows.nodes.append(NodeRow("ToyMember", member, None, {"name": member}, reference=True))
        rows.edges.append(EdgeRow("ASSIGNED", "ToyCard", card_id, "ToyMember", member))
    return rows


def item(item_id: str, card_id: str) -> Rows:
    rows = Rows([NodeRow("ToyItem", item_id, "w1", {"name": item_id})])
    rows.edges.append(EdgeRow("HOLDS", "ToyCard", card_id, "ToyItem", item_id, owner_is_from=False))
    return rows


def combine(*parts: Rows) -> Rows:
    rows = Rows()
    for part in parts:
        rows.extend(part)
    return rows


@pytest.fixture
def writer(graph_driver: neo4j.AsyncDriver, tenant: tuple[str, str]) -> GraphWriter:
    return GraphWriter(graph_driver, "neo4j", *tenant, TOY)


def graph(neo4j_driver: neo4j.Driver, project: str) -> list[str]:
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (a {projectId: $p, source: 'toy'})-[r]->(b) "
        "RETURN a.externalId + '-' + type(r) + '->' + b.externalId AS edge ORDER BY edge",
        p=project,
    )
    return [r["edge"] for r in records]


async def test_a_declared_source_is_written_once_and_rewritten_only_when_it_changes(
    writer: GraphWriter, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    rows = combine(board("b1"), card("c1", "b1", T0, member="m1"), item("i1", "c1"))
    first = await writer.write(rows, "run-1")
    assert first.changed == {"ToyBoard": 1, "ToyMember": 1, "ToyCard": 1, "ToyItem": 1}
    assert graph(neo4j_driver, tenant[1]) == ["b1-HOLDS->c1", "c1-ASSIGNED->m1", "c1-HOLDS->i1"]
    labels, _, _ = neo4j_driver.execute_query(
        "MATCH (n:ToyBoard {projectId: $p}) RETURN labels(n) AS labels, n.source AS source", p=tenant[1]
    )
    assert sorted(labels[0]["labels"]) == ["ToyBoard", "ToyContainer"]
    assert labels[0]["source"] == "toy"

    again = await writer.write(rows, "run-2")
    assert sum(again.changed.values()) == 0
    assert (again.properties_set, again.relationships_created) == (0, 0)

    # The card moves to a board not written yet: its old HOLDS goes, the new end is a labelled stub.
    moved = await writer.write(card("c1", "b2", T0 + timedelta(minutes=1), member="m1"), "run-3")
    assert moved.changed == {"ToyMember": 0, "ToyCard": 1}
    assert graph(neo4j_driver, tenant[1]) == ["b2-HOLDS->c1", "c1-ASSIGNED->m1", "c1-HOLDS->i1"]
    stub, _, _ = neo4j_driver.execute_query(
        "MATCH (n:ToyBoard:ToyContainer {projectId: $p, externalId: 'b2'}) RETURN n.stub AS stub", p=tenant[1]
    )
    assert [r["stub"] for r in stub] == [True]

    # An older version of the card is dropped by the monotonic guard.
    stale = await writer.write(card("c1", "b1", T0, name="old"), "run-4")
    assert stale.changed == {"ToyCard": 0}
    assert graph(neo4j_driver, tenant[1])[0] == "b2-HOLDS->c1"

    assert await writer.totals() == {"toyboard": 2, "toymember": 1, "toycard": 1, "toyitem": 1}


async def test_a_delete_cascades_as_declared_and_its_tombstones_stop_late_updates(
    writer: GraphWriter, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    await writer.write(combine(board("b1"), card("c1", "b1", T0, member="m1"), item("i1", "c1")), "run-1")
    await writer.write(combine(board("b9"), card("c9", "b9", T0)), "run-1")
    assert await writer.delete("ToyBoard", "b1", "event-1") == 3
    tombstones, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Tombstone {projectId: $p, source: 'toy'}) RETURN t.kind + ':' + t.externalId AS t, "
        "t.syncRunId AS run ORDER BY t",
        p=tenant[1],
    )
    assert [(r["t"], r["run"]) for r in tombstones] == [
        ("ToyBoard:b1", "event-1"),
        ("ToyCard:c1", "event-1"),
        ("ToyItem:i1", "event-1"),
    ]
    assert graph(neo4j_driver, tenant[1]) == ["b9-HOLDS->c9"]  # the member stays: it is not deletable
    late = await writer.write(card("c1", "b1", T0 + timedelta(minutes=5)), "run-2")
    assert late.changed == {"ToyCard": 0}
    assert late.nodes_created == 0
    with pytest.raises(ValueError, match="cannot delete a ToyMember"):
        await writer.delete("ToyMember", "m1", "event-2")


async def test_a_complete_run_sweeps_the_declared_kinds_it_did_not_see(
    writer: GraphWriter, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    await writer.write(combine(board("b1"), card("c1", "b1", T0, member="m1"), card("c2", "b1", T0)), "run-1")
    removed = await writer.sweep(["w1"], {"ToyBoard": {"b1"}, "ToyCard": {"c1"}})
    assert removed == {"ToyItem": 0, "ToyCard": 1, "ToyBoard": 0}
    assert graph(neo4j_driver, tenant[1]) == ["b1-HOLDS->c1", "c1-ASSIGNED->m1"]
    assert await writer.sweep(["another-scope"], {}) == {"ToyItem": 0, "ToyCard": 0, "ToyBoard": 0}


async def test_a_delete_of_what_the_project_never_held_still_stops_a_page_read_before_it(
    writer: GraphWriter, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    """An import that has not reached a task yet when its deletion arrives, then writes a page read
    before it: neither the task nor a stub of it (for an edge pointing at it) may come back."""
    await writer.write(board("b1"), "run-1")
    assert await writer.delete("ToyCard", "c7", "event-1") == 0
    stale_page = combine(card("c7", "b1", T0), item("i1", "c7"))
    written = await writer.write(stale_page, "run-1")
    assert written.changed == {"ToyCard": 0, "ToyItem": 1}
    assert written.nodes_created == 1, "the item alone"
    cards, _, _ = neo4j_driver.execute_query("MATCH (n:ToyCard {projectId: $p}) RETURN count(n) AS n", p=tenant[1])
    assert cards[0]["n"] == 0
    assert graph(neo4j_driver, tenant[1]) == []
    assert await writer.delete("ToyCard", "c7", "event-2") == 0, "a repeated deletion is harmless"


async def test_a_complete_run_sweeps_the_stubs_it_did_not_see_when_the_schema_says_so(
    graph_driver: neo4j.AsyncDriver, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    """A page read before its target was deleted (with a parent the import never reached) leaves a
    stub no event will remove; a kind whose references stay in their container sweeps it."""
    schema = dataclasses.replace(TOY, stubs_swept=("ToyCard",))
    writer = GraphWriter(graph_driver, "neo4j", *tenant, schema)
    other_scope = Rows([NodeRow("ToyItem", "i9", "w2", {"name": "i9"})])
    other_scope.edges.append(EdgeRow("HOLDS", "ToyCard", "c8", "ToyItem", "i9", owner_is_from=False))
    await writer.write(combine(board("b1"), card("c1", "b1", T0), item("i1", "c7"), item("i2", "c1")), "run-1")
    await writer.write(other_scope, "run-1")
    assert graph(neo4j_driver, tenant[1]) == ["b1-HOLDS->c1", "c1-HOLDS->i2", "c7-HOLDS->i1", "c8-HOLDS->i9"]
    seen = {"ToyBoard": {"b1"}, "ToyCard": {"c1"}, "ToyItem": {"i1", "i2"}}
    await writer.sweep(["w1"], seen)
    assert graph(neo4j_driver, tenant[1]) == ["b1-HOLDS->c1", "c1-HOLDS->i2", "c8-HOLDS->i9"], (
        "the unseen stub of the swept scope went with its edge; one another scope points to stays"
    )
    tombstones, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Tombstone {projectId: $p, externalId: 'c7'}) RETURN count(t) AS n", p=tenant[1]
    )
    assert tombstones[0]["n"] == 0, "no tombstone: a later record still pointing there makes the stub again"


async def test_a_write_of_what_the_graph_already_holds_takes_no_lock(
    writer: GraphWriter, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    """An unchanged page (a re-import) is decided by one read: it neither waits for the project's
    lock nor opens a write transaction; a changed one still does both."""
    rows = combine(board("b1"), card("c1", "b1", T0, member="m1"), item("i1", "c1"))
    await writer.write(rows, "run-1")
    with neo4j_driver.session() as session, session.begin_transaction() as holder:
        holder.run(
            "MERGE (l:ProjectWriteLock {projectId: $p}) SET l.lockTakenAt = datetime.transaction()", p=tenant[1]
        ).consume()
        again = await asyncio.wait_for(writer.write(rows, "run-2"), 20)
        assert again.changed == {"ToyBoard": 0, "ToyMember": 0, "ToyCard": 0, "ToyItem": 0}
        changed = asyncio.create_task(writer.write(card("c1", "b1", T0 + timedelta(minutes=1), name="new"), "run-3"))

        def blocked() -> bool:
            records, _, _ = neo4j_driver.execute_query(
                "SHOW TRANSACTIONS YIELD currentQuery, status "
                "WHERE currentQuery CONTAINS 'ProjectWriteLock' AND status STARTS WITH 'Blocked' RETURN count(*) AS n"
            )
            return bool(records[0]["n"])

        await asyncio.to_thread(wait_until, blocked, 20, "the changed write to wait for the lock")
        holder.commit()
    assert (await asyncio.wait_for(changed, 20)).changed == {"ToyCard": 1}


async def test_a_sweep_waits_for_a_write_in_progress(
    writer: GraphWriter, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    """A write holds the project's lock from its tombstone checks to its commit; a sweep that
    deleted under it could see a stub of what it swept made again (the 1-in-N kill-test failure)."""
    await writer.write(combine(board("b1"), card("c1", "b1", T0), card("c2", "b1", T0)), "run-1")
    with neo4j_driver.session() as session, session.begin_transaction() as holder:
        holder.run(
            "MERGE (l:ProjectWriteLock {projectId: $p}) SET l.lockTakenAt = datetime.transaction()", p=tenant[1]
        ).consume()
        sweep = asyncio.create_task(writer.sweep(["w1"], {"ToyBoard": {"b1"}, "ToyCard": {"c1"}}))

        def blocked() -> bool:
            records, _, _ = neo4j_driver.execute_query(
                "SHOW TRANSACTIONS YIELD currentQuery, status "
                "WHERE currentQuery CONTAINS 'Tombstone' AND status STARTS WITH 'Blocked' RETURN count(*) AS n"
            )
            return bool(records[0]["n"])

        await asyncio.to_thread(wait_until, blocked, 20, "the sweep to wait for the lock")
        assert not sweep.done()
        assert graph(neo4j_driver, tenant[1]) == ["b1-HOLDS->c1", "b1-HOLDS->c2"], "nothing swept yet"
        holder.commit()
    assert await asyncio.wait_for(sweep, 20) == {"ToyItem": 0, "ToyCard": 1, "ToyBoard": 0}
    assert graph(neo4j_driver, tenant[1]) == ["b1-HOLDS->c1"]


async def test_rows_of_an_undeclared_kind_are_refused(writer: GraphWriter) -> None:
    rows = board("b1")
    rows.edges.append(EdgeRow("HOLDS", "ToyBoard", "b1", "Elsewhere", "x"))
    with pytest.raises(ValueError, match=r"toy rows use undeclared kinds: \['Elsewhere'\]"):
        await writer.write(rows, "run-1")


LINKED = GraphSchema(
    source="toy",
    kinds=(NodeKind("ToyCard", owns_out=("TOY_LINK",), labels_when=(("ToyUrgent", "level", 1),)),),
    swept=("ToyCard",),
)


def linked_card(card_id: str, level: int, updated: datetime, links: list[tuple[str, str]]) -> Rows:
    rows = Rows([NodeRow("ToyCard", card_id, "w1", {"name": card_id, "level": level}, updated)])
    for link_id, other in links:
        rows.edges.append(
            EdgeRow("TOY_LINK", "ToyCard", card_id, "ToyCard", other, props=(("id", link_id),), key=link_id)
        )
    return rows


async def test_keyed_edges_between_the_same_nodes_stay_apart_and_conditional_labels_follow_the_record(
    graph_driver: neo4j.AsyncDriver, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    writer = GraphWriter(graph_driver, "neo4j", *tenant, LINKED)
    await writer.write(linked_card("c1", 1, T0, [("L1", "c2"), ("L2", "c2")]), "run-1")
    await writer.write(linked_card("c2", 0, T0, []), "run-1")

    def state() -> tuple[list[str], list[str]]:
        links, _, _ = neo4j_driver.execute_query(
            "MATCH (:ToyCard {projectId: $p})-[r:TOY_LINK]->(:ToyCard) RETURN r.id AS id ORDER BY id", p=tenant[1]
        )
        urgent, _, _ = neo4j_driver.execute_query(
            "MATCH (n:ToyUrgent {projectId: $p}) RETURN n.externalId AS id ORDER BY id", p=tenant[1]
        )
        return [r["id"] for r in links], [r["id"] for r in urgent]

    assert state() == (["L1", "L2"], ["c1"]), "two links between one pair are two edges; level 1 is labelled"
    again = await writer.write(linked_card("c1", 1, T0, [("L1", "c2"), ("L2", "c2")]), "run-2")
    assert (again.properties_set, again.relationships_created) == (0, 0), "unchanged: nothing written"

    later = T0 + timedelta(minutes=1)
    await writer.write(linked_card("c1", 0, later, [("L2", "c2")]), "run-3")
    await writer.write(linked_card("c2", 1, later, []), "run-3")
    assert state() == (["L2"], ["c2"]), "the removed link is gone and the label moved with the property"


async def test_what_a_delete_would_take_and_what_records_point_to_are_read_without_writing(
    writer: GraphWriter, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    await writer.write(combine(board("b1"), card("c1", "b1", T0, member="m1"), item("i1", "c1")), "run-1")
    before = graph(neo4j_driver, tenant[1])
    assert await writer.held_by("ToyBoard", ["b1"]) == {"ToyBoard": {"b1"}, "ToyCard": {"c1"}, "ToyItem": {"i1"}}
    assert await writer.held_by("ToyBoard", []) == {}
    assert await writer.referenced_by("ToyCard", ["c1"]) == {"ToyMember": {"m1"}}
    assert await writer.live_ids("ToyCard") == {"c1"}
    assert graph(neo4j_driver, tenant[1]) == before, "nothing was written"
