"""The schema model: what it refuses, and the Cypher a cascade turns into."""

from __future__ import annotations

import re

import pytest

from graph.cleanup import delete_query
from graph.schema import Direction, GraphSchema, NodeKind, Step
from server.integrations.clickup.schema import SCHEMA as CLICKUP_SCHEMA


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (lambda: GraphSchema("s", (NodeKind("Bad Label"),)), "not plain identifiers: ['Bad Label']"),
        (lambda: GraphSchema("s", (NodeKind("A", ("X`) DETACH DELETE",)),)), "not plain identifiers"),
        (lambda: GraphSchema("s", (NodeKind("A", owns_out=("HAS-IT",)),)), "not plain identifiers: ['HAS-IT']"),
        (lambda: GraphSchema("s", (NodeKind("A"),), cascades=((Step("R", label="B c"),),)), "['B c']"),
        (lambda: GraphSchema("s", (NodeKind("A"), NodeKind("A"))), "a kind is declared twice"),
        (lambda: GraphSchema("s", (NodeKind("A"),), swept=("B",)), "swept kinds ['B'] are not declared"),
    ],
)
def test_a_schema_refuses_what_cannot_be_written(schema: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        schema()  # type: ignore[operator]


def test_kind_lookup_names_the_source() -> None:
    with pytest.raises(ValueError, match="clickup has no Board nodes"):
        CLICKUP_SCHEMA.kind("Board")
    assert CLICKUP_SCHEMA.deletable == ("Space", "Folder", "List", "Task")


def test_cascades_become_the_paths_of_the_delete() -> None:
    query = delete_query(CLICKUP_SCHEMA, "Space")
    assert "MATCH (n)-[:CONTAINS*0..3]->(x) WHERE x:Space OR x:Folder OR x:List OR x:Task RETURN x" in query
    assert "MATCH (n)-[:CONTAINS*0..3]->(:Task)<-[:SUBTASK_OF*1..]-(x:Task) WHERE" in query
    assert "MATCH (n:Space {projectId: $projectId, source: $source, externalId: $id})" in query


def test_a_one_hop_step_has_no_range() -> None:
    schema = GraphSchema(
        "s", (NodeKind("A", deletable=True), NodeKind("B", deletable=True)), cascades=((Step("HAS", Direction.IN),),)
    )
    assert "MATCH (n)<-[:HAS]-(x) WHERE x:A OR x:B RETURN x" in delete_query(schema, "A")
