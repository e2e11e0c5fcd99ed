"""The rows a source's transform hands to the writer: nodes and the relationships they own.

Rows are source-neutral data; a source's transform (API JSON -> rows) lives with its plugin, so
the writer never sees API JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class NodeRow:
    """One node. ``workspace_id`` is the top container it belongs to: the scope a sweep covers."""

    label: str
    external_id: str
    workspace_id: str | None
    props: dict[str, Any]
    source_updated_at: datetime | None = None
    # A thin reference (a task's assignee, say): may create the node, never overwrite it.
    reference: bool = False

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(node_payload(self).encode()).hexdigest()


def node_payload(node: NodeRow) -> str:
    """What a node's content hash covers (its kind, scope and properties), as canonical JSON."""
    return json.dumps([node.label, node.workspace_id, node.props], sort_keys=True, default=str)


@dataclass(frozen=True)
class EdgeRow:
    """``owner`` is the end whose record decides the edge: it is rebuilt when that node changes."""

    type: str
    from_label: str
    from_id: str
    to_label: str
    to_id: str
    owner_is_from: bool = True
    props: tuple[tuple[str, Any], ...] = ()
    # Edges of one type between the same two nodes are one edge (their props combined) unless their
    # keys differ: a source with several typed links between two records keys each by its own id.
    key: str = ""


@dataclass
class Rows:
    nodes: list[NodeRow] = field(default_factory=list)
    edges: list[EdgeRow] = field(default_factory=list)
    issues: Counter[str] = field(default_factory=Counter)

    def extend(self, other: Rows) -> None:
        self.nodes.extend(other.nodes)
        self.edges.extend(other.edges)
        self.issues.update(other.issues)
