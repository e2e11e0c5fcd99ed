"""What a ClickUp import writes to the graph (a contract; see the README's graph section).

    (:Workspace:Organization)-[:CONTAINS]->(:Space:Project)-[:CONTAINS]->(:Folder:Collection)
        -[:CONTAINS]->(:List:Collection)-[:CONTAINS]->(:Task)      (home list; subtasks too)
    (:Space)-[:CONTAINS]->(:List)   folderless lists        (:List)-[:INCLUDES]->(:Task)   other lists
    (:Task)-[:SUBTASK_OF|DEPENDS_ON|LINKED_TO]->(:Task)     (:Task)-[:ASSIGNED_TO|CREATED_BY]->(:Person)
    (:Task)-[:TAGGED]->(:Tag)       (:Person)-[:MEMBER_OF {role}]->(:Workspace)
    (:Comment)-[:ON]->(:Task)       (:Comment)-[:AUTHORED_BY]->(:Person)

A child owns the ``CONTAINS`` into it (a moved task changes its own record, not its old list's);
a deleted space, folder or list takes its contents, a deleted task its subtasks. People are not
swept: they can belong to several workspaces.
"""

from __future__ import annotations

from graph.schema import Direction, GraphSchema, NodeKind, Step

SCHEMA = GraphSchema(
    source="clickup",
    kinds=(
        NodeKind("Workspace", ("Organization",), owns_in=("MEMBER_OF",)),
        NodeKind("Person"),
        NodeKind("Space", ("Project",), owns_in=("CONTAINS",), deletable=True),
        NodeKind("Folder", ("Collection",), owns_in=("CONTAINS",), deletable=True),
        NodeKind("List", ("Collection",), owns_in=("CONTAINS",), deletable=True),
        NodeKind("Tag"),
        NodeKind(
            "Task",
            owns_out=("SUBTASK_OF", "CREATED_BY", "ASSIGNED_TO", "TAGGED", "DEPENDS_ON", "LINKED_TO"),
            owns_in=("CONTAINS", "INCLUDES"),
            deletable=True,
        ),
        NodeKind("Comment", owns_out=("ON", "AUTHORED_BY")),
    ),
    swept=("Comment", "Task", "Tag", "List", "Folder", "Space"),
    stubs_swept=("Task",),
    cascades=(
        (Step("CONTAINS", min_hops=0, max_hops=3),),
        (
            Step("CONTAINS", min_hops=0, max_hops=3, label="Task"),
            Step("SUBTASK_OF", Direction.IN, min_hops=1, max_hops=None, label="Task"),
        ),
    ),
)
