"""What a Jira import writes to the graph (issue 12, item 3: the same reading as ClickUp's).

    (:Site:Organization)-[:CONTAINS]->(:JiraProject:Project)-[:CONTAINS]->(:Issue:Task)
    (:JiraProject)-[:CONTAINS]->(:Component:Collection|:Version:Collection)
    (:Board)-[:SHOWS]->(:JiraProject)           (:Board)-[:CONTAINS]->(:Sprint:Collection)  origin board
    (:Issue)-[:SUBTASK_OF]->(:Issue)            every ``parent``: subtask → issue, issue → epic
    (:Issue)-[:ASSIGNED_TO|CREATED_BY|REPORTED_BY]->(:Person)
    (:Issue)-[:TAGGED]->(:Tag)   (:Issue)-[:IN_COMPONENT]->(:Component)   (:Issue)-[:FIX_VERSION]->(:Version)
    (:Issue)-[:IN_SPRINT]->(:Sprint)
    (blocked:Issue)-[:DEPENDS_ON {linkId}]->(blocker:Issue)        "Blocks" links
    (outward:Issue)-[:LINKED_TO {linkId, type, outward, inward}]->(inward:Issue)   other links
    (:Comment)-[:ON]->(:Issue)   (:Comment)-[:AUTHORED_BY]->(:Person)

Ownership: a child owns the ``CONTAINS`` into it (a moved issue changes its own record). Jira lists
a link on both issues with the same id; the *outward* issue owns it (one edge per link, V9), so an
issue owns its outgoing ``LINKED_TO`` and, being the blocker of a "Blocks" link, the incoming
``DEPENDS_ON``. A board owns its ``SHOWS``.

Deletes: a project takes its issues, components and versions, a board its sprints, an issue its
comments. Subtasks are not cascaded: ``SUBTASK_OF`` also joins issues to epics, whose children
survive the epic in Jira, and a cascade step cannot tell the two apart; a deleted subtask arrives
as its own event or is swept.

Epics also carry ``:Epic`` while their ``hierarchyLevel`` is 1 (a conditional label, set or removed
with each write). Links are keyed by their id, so two links of different types between the same two
issues stay two edges (V9: one edge per link).

People are not swept (the same account is seen on several sites and projects), nor is the site.
"""

from __future__ import annotations

from graph.schema import Direction, GraphSchema, NodeKind, Step

ISSUE_OWNS_OUT = (
    "SUBTASK_OF",
    "ASSIGNED_TO",
    "CREATED_BY",
    "REPORTED_BY",
    "TAGGED",
    "IN_COMPONENT",
    "FIX_VERSION",
    "IN_SPRINT",
    "LINKED_TO",
)

SCHEMA = GraphSchema(
    source="jira",
    kinds=(
        NodeKind("Site", ("Organization",)),
        NodeKind("Person"),
        NodeKind("JiraProject", ("Project",), owns_in=("CONTAINS",), deletable=True),
        NodeKind("Component", ("Collection",), owns_in=("CONTAINS",), deletable=True),
        NodeKind("Version", ("Collection",), owns_in=("CONTAINS",), deletable=True),
        NodeKind("Board", owns_out=("SHOWS",), deletable=True),
        NodeKind("Sprint", ("Collection",), owns_in=("CONTAINS",), deletable=True),
        NodeKind("Tag"),
        NodeKind(
            "Issue",
            ("Task",),
            owns_out=ISSUE_OWNS_OUT,
            owns_in=("CONTAINS", "DEPENDS_ON"),
            deletable=True,
            labels_when=(("Epic", "hierarchyLevel", 1),),
        ),
        NodeKind("Comment", owns_out=("ON", "AUTHORED_BY"), deletable=True),
    ),
    swept=("Comment", "Issue", "Sprint", "Board", "Version", "Component", "Tag", "JiraProject"),
    cascades=(
        (Step("CONTAINS", min_hops=0, max_hops=1),),
        (
            Step("CONTAINS", min_hops=0, max_hops=1, label="Issue"),
            Step("ON", Direction.IN, label="Comment"),
        ),
    ),
)
