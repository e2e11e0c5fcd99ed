"""What the Tracker plugin writes to the graph::

    (:TrackerBoard)-[:HAS_CARD]->(:TrackerCard)-[:HAS_ITEM]->(:TrackerChecklistItem)

A card owns the ``HAS_CARD`` into it (a card moved to another board changes its own record), an
item the ``HAS_ITEM`` into it. A deleted card takes its items, a deleted board its cards and their
items. Every kind is swept after a complete run.
"""

from __future__ import annotations

from graph.schema import GraphSchema, NodeKind, Step

SCHEMA = GraphSchema(
    source="tracker",
    kinds=(
        NodeKind("TrackerBoard", deletable=True),
        NodeKind("TrackerCard", owns_in=("HAS_CARD",), deletable=True),
        NodeKind("TrackerChecklistItem", owns_in=("HAS_ITEM",), deletable=True),
    ),
    swept=("TrackerChecklistItem", "TrackerCard", "TrackerBoard"),
    cascades=(
        (Step("HAS_CARD", min_hops=0, max_hops=1), Step("HAS_ITEM", label="TrackerChecklistItem")),
        (Step("HAS_CARD", label="TrackerCard"),),
    ),
)
