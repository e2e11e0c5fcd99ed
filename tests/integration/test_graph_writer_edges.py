"""How the writer writes edges: CREATE where the owner's edges are known to be gone, MERGE elsewhere.

A first import (every owner new) and a rewrite (owners changed, their edges dropped) must leave the
same graph; a pair repeated in a batch, a type two kinds own, a type no kind declares, and two
writers of one project racing must each leave one relationship, never two.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import neo4j
import pytest

from graph.rows import EdgeRow, NodeRow, Rows
from graph.schema import GraphSchema, NodeKind
from graph.writer import GraphWriter
from tests.integration.test_graph_writer import T0, TOY, board, card, combine, item

# Both ends own LINK: a stub PairB that becomes a full record must not get a second copy.
PAIR = GraphSchema(source="pair", kinds=(NodeKind("PairA", owns_out=("LINK",)), NodeKind("PairB", owns_in=("LINK",))))


@pytest.fixture
def driver(graph_driver: neo4j.AsyncDriver) -> neo4j.AsyncDriver:
    return graph_driver


def edges(neo4j_driver: neo4j.Driver, project: str) -> list[str]:
    """Every relationship of the project with its properties, duplicates kept (so they show)."""
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (a {projectId: $p})-[r]->(b) "
        "RETURN a.externalId + '-' + type(r) + '->' + b.externalId AS pair, properties(r) AS props",
        p=project,
    )
    return sorted(f"{r['pair']} {sorted(r['props'].items())}" if r["props"] else r["pair"] for r in records)


def stubs(neo4j_driver: neo4j.Driver, project: str) -> list[str]:
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n {projectId: $p}) WHERE n.stub RETURN n.externalId AS id ORDER BY id", p=project
    )
    return [r["id"] for r in records]


def rows(updated_minutes: int, board_id: str, member: str) -> Rows:
    """Two cards on one board, one holding an item, the other pointing at a parent card not written."""
    updated = T0 + timedelta(minutes=updated_minutes)
    parent = Rows([NodeRow("ToyCard", "c2", "w1", {"name": f"c2 v{updated_minutes}"}, updated)])
    parent.edges.append(EdgeRow("HOLDS", "ToyCard", "c9", "ToyCard", "c2", owner_is_from=False))
    return combine(board(board_id), card("c1", board_id, updated, member=member), item("i1", "c1"), parent)


async def test_a_first_import_and_a_rewrite_leave_the_same_edges(
    driver: neo4j.AsyncDriver, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    new = GraphWriter(driver, "neo4j", tenant[0], tenant[1], TOY)
    first = await new.write(rows(5, "b1", "m1"), "run-1")
    rewritten = GraphWriter(driver, "neo4j", tenant[0], tenant[1] + "-rewritten", TOY)
    await rewritten.write(rows(0, "b0", "m0"), "run-1")
    again = await rewritten.write(rows(5, "b1", "m1"), "run-2")
    assert again.changed["ToyCard"] == 2  # both cards changed: their old edges were dropped, not kept
    assert again.relationships_deleted == 3  # c1's HOLDS from b0 and ASSIGNED to m0, c2's HOLDS from c9
    expected = ["b1-HOLDS->c1", "c1-ASSIGNED->m1", "c1-HOLDS->i1", "c9-HOLDS->c2"]
    assert edges(neo4j_driver, tenant[1]) == expected
    assert edges(neo4j_driver, tenant[1] + "-rewritten") == expected
    assert stubs(neo4j_driver, tenant[1]) == ["c9"]
    assert first.relationships_created == 4


async def test_a_pair_repeated_in_one_batch_is_one_relationship_with_its_props_combined(
    driver: neo4j.AsyncDriver, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    rows = card("c1", "b1", T0, member="m1")
    rows.edges.append(EdgeRow("ASSIGNED", "ToyCard", "c1", "ToyMember", "m1", props=(("role", "owner"),)))
    rows.edges.append(EdgeRow("ASSIGNED", "ToyCard", "c1", "ToyMember", "m1", props=(("since", "2026"),)))
    written = await GraphWriter(driver, "neo4j", *tenant, TOY).write(rows, "run-1")
    assert written.relationships_created == 2
    assert edges(neo4j_driver, tenant[1]) == [
        "b1-HOLDS->c1",
        "c1-ASSIGNED->m1 [('role', 'owner'), ('since', '2026')]",
    ]


async def test_a_type_both_ends_own_and_a_type_no_kind_declares_are_merged(
    driver: neo4j.AsyncDriver, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    pair = GraphWriter(driver, "neo4j", *tenant, PAIR)
    link_from_a = Rows([NodeRow("PairA", "a1", "w1", {"name": "a1"})], [EdgeRow("LINK", "PairA", "a1", "PairB", "b1")])
    await pair.write(link_from_a, "run-1")
    assert stubs(neo4j_driver, tenant[1]) == ["b1"]
    link_from_b = Rows(
        [NodeRow("PairB", "b1", "w1", {"name": "b1"})],
        [EdgeRow("LINK", "PairA", "a1", "PairB", "b1", owner_is_from=False)],
    )
    await pair.write(link_from_b, "run-1")
    assert edges(neo4j_driver, tenant[1]) == ["a1-LINK->b1"]

    # MENTIONS is not one of a card's owned types: it is never dropped, so each rewrite merges it.
    toy = GraphWriter(driver, "neo4j", tenant[0], tenant[1] + "-toy", TOY)
    for minutes in (0, 1, 2):
        rows = card("c1", "b1", T0 + timedelta(minutes=minutes), name=f"v{minutes}")
        rows.edges.append(EdgeRow("MENTIONS", "ToyCard", "c1", "ToyMember", "m9"))
        assert (await toy.write(rows, f"run-{minutes}")).changed == {"ToyCard": 1}
    assert edges(neo4j_driver, tenant[1] + "-toy") == ["b1-HOLDS->c1", "c1-MENTIONS->m9"]


async def test_writers_of_one_project_racing_with_the_same_rows_leave_one_of_each(
    driver: neo4j.AsyncDriver, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    writers = [GraphWriter(driver, "neo4j", *tenant, TOY) for _ in range(4)]
    for minutes in (0, 1):  # first all new (CREATE), then all changed (drop and CREATE)
        batch = rows(minutes, "b1", f"m{minutes}")
        results = await asyncio.gather(*(writer.write(batch, f"run-{minutes}") for writer in writers))
        assert sorted(r.changed["ToyCard"] for r in results) == [0, 0, 0, 2]  # one wrote, three found it done
    assert edges(neo4j_driver, tenant[1]) == ["b1-HOLDS->c1", "c1-ASSIGNED->m1", "c1-HOLDS->i1", "c9-HOLDS->c2"]
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n {projectId: $p}) WITH n.externalId AS id, count(*) AS copies WHERE copies > 1 RETURN id",
        p=tenant[1],
    )
    assert records == []


async def test_an_edge_to_a_tombstoned_end_is_left_out_and_makes_no_stub(
    driver: neo4j.AsyncDriver, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    writer = GraphWriter(driver, "neo4j", *tenant, TOY)
    await writer.write(combine(board("b1"), card("c1", "b1", T0)), "run-1")
    assert await writer.delete("ToyBoard", "b1", "event-1") == 2
    written = await writer.write(combine(card("c5", "b1", T0, member="m1"), item("i5", "c5")), "run-2")
    assert written.changed == {"ToyMember": 1, "ToyCard": 1, "ToyItem": 1}
    assert edges(neo4j_driver, tenant[1]) == ["c5-ASSIGNED->m1", "c5-HOLDS->i5"]
    assert stubs(neo4j_driver, tenant[1]) == []
