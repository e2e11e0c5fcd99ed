"""Text no UTF-8 store can hold (a lone surrogate from a JSON "\\ud800" escape in a provider's answer)
costs one replaced character, never a failed page (issue 9, item 1's class of bug, on the import path)."""

from __future__ import annotations

import neo4j

from graph.rows import EdgeRow, NodeRow, Rows
from graph.text import storable, storable_value
from graph.writer import GraphWriter
from server.integrations.clickup.schema import SCHEMA as CLICKUP_SCHEMA


def test_storable_replaces_only_lone_surrogates() -> None:
    assert storable("ok é 😀") == "ok é 😀"
    assert storable("a\ud800b\udfff") == "a\ufffdb\ufffd"
    assert storable_value({"k\ud800": ["x\ud800", 1, None]}) == {"k\ufffd": ["x\ufffd", 1, None]}


async def test_a_page_with_a_lone_surrogate_is_written_with_the_rest(
    graph_driver: neo4j.AsyncDriver, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    rows = Rows()
    rows.nodes.append(NodeRow("Workspace", "ws-1", "ws-1", {"name": "Workspace"}))
    rows.nodes.append(NodeRow("Space", "sp\ud800", "ws-1", {"name": "Sp\udc00ce", "tags": ["a\ud800"]}))
    rows.edges.append(EdgeRow("CONTAINS", "Workspace", "ws-1", "Space", "sp\ud800", owner_is_from=False))
    written = await GraphWriter(graph_driver, "neo4j", *tenant, CLICKUP_SCHEMA).write(rows, "run-1")
    assert written.changed == {"Workspace": 1, "Space": 1}
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (:Workspace {projectId: $p})-[:CONTAINS]->(s:Space) RETURN s.externalId AS id, s.name AS name, "
        "s.tags AS tags",
        p=tenant[1],
    )
    assert [(r["id"], r["name"], r["tags"]) for r in records] == [("sp\ufffd", "Sp\ufffdce", ["a\ufffd"])]
