"""The Jira graph schema declares issue 12's contract: kinds, extra labels, ownership, sweeps, cascades."""

from __future__ import annotations

from graph.cleanup import delete_query
from server.integrations.jira.schema import SCHEMA


def test_kinds_and_extra_labels() -> None:
    assert SCHEMA.source == "jira"
    assert {kind.label: kind.extra_labels for kind in SCHEMA.kinds} == {
        "Site": ("Organization",),
        "Person": (),
        "JiraProject": ("Project",),
        "Component": ("Collection",),
        "Version": ("Collection",),
        "Board": (),
        "Sprint": ("Collection",),
        "Tag": (),
        "Issue": ("Task",),
        "Comment": (),
    }
    order = SCHEMA.labels
    assert order.index("JiraProject") < order.index("Issue") < order.index("Comment")
    assert order.index("Board") < order.index("Sprint")


def test_ownership() -> None:
    issue = SCHEMA.kind("Issue")
    assert set(issue.owns_out) == {
        "SUBTASK_OF", "ASSIGNED_TO", "CREATED_BY", "REPORTED_BY", "TAGGED", "IN_COMPONENT", "FIX_VERSION",
        "IN_SPRINT", "LINKED_TO",
    }  # fmt: skip
    assert set(issue.owns_in) == {"CONTAINS", "DEPENDS_ON"}  # a blocker owns the DEPENDS_ON into it
    assert SCHEMA.kind("Board").owns_out == ("SHOWS",)
    for label in ("JiraProject", "Component", "Version", "Sprint"):
        assert SCHEMA.kind(label).owns_in == ("CONTAINS",)
    assert SCHEMA.kind("Comment").owns_out == ("ON", "AUTHORED_BY")


def test_sweeps_and_deletes() -> None:
    assert "Person" not in SCHEMA.swept
    assert "Site" not in SCHEMA.swept
    assert set(SCHEMA.deletable) == {"JiraProject", "Component", "Version", "Board", "Sprint", "Issue", "Comment"}
    query = delete_query(SCHEMA, "JiraProject")
    assert "(n)-[:CONTAINS*0..1]->(x)" in query
    assert "(n)-[:CONTAINS*0..1]->(:Issue)<-[:ON]-(x:Comment)" in query
    assert "SUBTASK_OF" not in query  # an epic's children survive it
