"""The writer's Python side: the shortcuts it takes must give the text and the hashes the slow way gave.

A content hash that changed with this code would make every stored node look changed on the next
import (a full rewrite instead of zero writes), so the formula is pinned here against its original.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from graph.batch import edge_key, prepare
from graph.rows import EdgeRow, NodeRow, Rows
from graph.schema import GraphSchema, NodeKind
from graph.text import storable, storable_value

SCHEMA = GraphSchema(
    source="toy",
    kinds=(
        NodeKind("ToyBoard"),
        NodeKind("ToyMember"),
        NodeKind("ToyCard", owns_in=("HOLDS",), owns_out=("ASSIGNED",)),
    ),
)
NOW = datetime(2026, 1, 1, tzinfo=UTC)
TEXTS = ["plain", "é and 😀", 'quote " back\\slash', "a\\ud800 literal", "lone \ud800", "\x00\n\t", ""]


@pytest.mark.parametrize("text", TEXTS)
def test_an_edge_key_is_the_json_the_hash_always_used(text: str) -> None:
    edge = EdgeRow("ASSIGNED", "ToyCard", text, "ToyMember", f"m-{text}")
    assert edge_key(edge) == json.dumps([edge.type, edge.from_id, edge.to_id, list(edge.props)], default=str)


def _original_hash(node: NodeRow, edges: list[EdgeRow]) -> str:
    """The writer's formula before the fast path: storable rows, then sha256 of node hash and edge keys."""
    workspace = None if node.workspace_id is None else storable(node.workspace_id)
    payload = json.dumps([node.label, workspace, storable_value(node.props)], sort_keys=True, default=str)
    keys = sorted(
        json.dumps([e.type, storable(e.from_id), storable(e.to_id), list(storable_value(e.props))], default=str)
        for e in edges
    )
    node_hash = hashlib.sha256(payload.encode()).hexdigest()
    return hashlib.sha256((node_hash + "|".join(keys)).encode()).hexdigest()


@pytest.mark.parametrize("text", TEXTS)
def test_content_hashes_and_stored_text_are_what_the_original_writer_made(text: str) -> None:
    card = NodeRow("ToyCard", f"c-{text}", "w1", {"name": text, "tags": [text, "x"], "at": NOW}, NOW)
    edges = [
        EdgeRow("HOLDS", "ToyBoard", f"b-{text}", "ToyCard", f"c-{text}", owner_is_from=False),
        EdgeRow("ASSIGNED", "ToyCard", f"c-{text}", "ToyMember", "m1", props=(("role", text),)),
    ]
    batch = prepare(Rows([card], edges), SCHEMA, "run-1", NOW)
    [row] = batch.nodes[("ToyCard", False)]
    assert row["props"]["contentHash"] == _original_hash(card, edges)
    assert row["id"] == storable(card.external_id)
    assert row["props"]["name"] == storable(text)
    assert row["props"]["tags"] == [storable(text), "x"]
    assert batch.shared == {"now": NOW, "run": "run-1"}
    assert not {"projectId", "orgId", "source", "syncedAt", "syncRunId"} & set(row["props"])


def test_the_last_full_record_wins_and_repeated_edges_count_once() -> None:
    member = NodeRow("ToyMember", "m1", None, {"name": "full"})
    reference = NodeRow("ToyMember", "m1", None, {"name": "thin"}, reference=True)
    edge = EdgeRow("ASSIGNED", "ToyCard", "c1", "ToyMember", "m1")
    card = NodeRow("ToyCard", "c1", "w1", {"name": "c"})
    batch = prepare(Rows([member, reference, card], [edge, edge]), SCHEMA, "run-1", NOW)
    assert [r["props"]["name"] for r in batch.nodes[("ToyMember", False)]] == ["full"]
    assert ("ToyMember", True) not in batch.nodes
    assert batch.owned[("ToyCard", "c1")] == [edge]
    assert batch.nodes[("ToyCard", False)][0]["props"]["contentHash"] == _original_hash(card, [edge])
