"""What a source writes to the graph, declared as data: the writer, sweep and delete read it.

A source declares one ``GraphSchema`` next to its plugin (Cartography's node schemas are the
model): its node kinds, in the order they are written, with extra labels, the relationships each
kind owns (dropped and rebuilt when a node of that kind changes), which kinds a complete run
sweeps, and what a delete takes with it. Every node is keyed on ``(projectId, source,
externalId)``; the labels and types named here are interpolated into Cypher, so they are checked
to be plain identifiers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import cached_property

_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class Direction(Enum):
    OUT = "out"
    IN = "in"


@dataclass(frozen=True)
class NodeKind:
    label: str
    extra_labels: tuple[str, ...] = ()  # added on create (e.g. ``:Space:Project``)
    owns_out: tuple[str, ...] = ()  # outgoing relationship types this kind's record decides
    owns_in: tuple[str, ...] = ()  # incoming ones (a child owns its parent's CONTAINS)
    deletable: bool = False  # may be deleted (with tombstones) by an event
    # Labels a node carries while one of its own properties has a value (``("Epic", "hierarchyLevel",
    # 1)``): set or removed each time the node is written, so they follow the record.
    labels_when: tuple[tuple[str, str, int | str | bool], ...] = ()


@dataclass(frozen=True)
class Step:
    """One hop pattern of a cascade: ``type`` in ``direction``, ``min_hops..max_hops`` (None: any)."""

    type: str
    direction: Direction = Direction.OUT
    min_hops: int = 1
    max_hops: int | None = 1
    label: str | None = None  # the kind the step must end on


@dataclass(frozen=True)
class GraphSchema:
    source: str  # the ``source`` property of every node; never shown as a label
    kinds: tuple[NodeKind, ...]  # in write order: parents before children
    swept: tuple[str, ...] = ()  # kinds a complete run tombstones when it did not see them
    # Swept kinds whose every reference stays inside its container (a ClickUp task's parent and
    # dependencies are in its workspace): a stub of one that a complete run did not see is a reference
    # read before its target was deleted, and goes with the edges to it. Not for kinds a record may
    # point to across containers (a Jira issue linked to one of a project not imported).
    stubs_swept: tuple[str, ...] = ()
    # Paths from a deleted node to what goes with it; each ends on a deletable kind.
    cascades: tuple[tuple[Step, ...], ...] = ()

    def __post_init__(self) -> None:
        labels = [kind.label for kind in self.kinds]
        names = [*labels, *(x for kind in self.kinds for x in kind.extra_labels)]
        names += [part for kind in self.kinds for (label, prop, _) in kind.labels_when for part in (label, prop)]
        names += [t for kind in self.kinds for t in (*kind.owns_out, *kind.owns_in)]
        steps = [step for path in self.cascades for step in path]
        names += [step.type for step in steps] + [step.label for step in steps if step.label]
        names += [v for kind in self.kinds for (_, _, v) in kind.labels_when if isinstance(v, str)]
        bad = [name for name in names if not _IDENTIFIER.fullmatch(name)]
        if bad:
            raise ValueError(f"schema {self.source!r}: not plain identifiers: {bad}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"schema {self.source!r}: a kind is declared twice")
        unknown = [label for label in (*self.swept, *self.stubs_swept) if label not in labels]
        if unknown:
            raise ValueError(f"schema {self.source!r}: swept kinds {unknown} are not declared")

    def kind(self, label: str) -> NodeKind:
        found = self._by_label.get(label)
        if found is None:
            raise ValueError(f"{self.source} has no {label} nodes")
        return found

    @cached_property
    def _by_label(self) -> dict[str, NodeKind]:
        """The writer asks for a kind per edge of a write: a lookup, not a scan of the kinds."""
        return {kind.label: kind for kind in self.kinds}

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(kind.label for kind in self.kinds)

    @property
    def deletable(self) -> tuple[str, ...]:
        return tuple(kind.label for kind in self.kinds if kind.deletable)
