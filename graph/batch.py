"""Rows → the parameters of one write: storable text, one record per node, content hashes.

This is the writer's Python side, and on a full import it runs for every row: the common case
(text that UTF-8 can hold) takes one ``json.dumps`` per node, the one the content hash needs anyway;
only a node whose JSON shows a surrogate escape is rebuilt with ``storable`` text.

Times travel as ISO-8601 text, and the statement turns them back into ``datetime`` values: the
driver's own encoding of a Python ``datetime`` runs in Python, about 30 µs each, and was most of
the writer's CPU time (a task has three to five). A time with a named zone (not a fixed offset)
keeps the driver's encoding, which is the only one that keeps the zone's name.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timezone
from json.encoder import encode_basestring_ascii as _quote  # what json.dumps writes for a str
from typing import Any

from graph.rows import EdgeRow, NodeRow, Rows, node_payload
from graph.schema import GraphSchema
from graph.text import storable, storable_value

# ``json.dumps`` escapes every surrogate code point as ``\udXXX`` (pairs of a non-BMP character
# too, and a literal backslash can precede "ud8"): a match only sends the node down the slow path.
_SURROGATE_ESCAPE = re.compile(r"\\ud[89a-f]")


@dataclass(frozen=True)
class Batch:
    """One write's rows: node parameters by ``(label, reference)``, edges by the node that owns them."""

    nodes: dict[tuple[str, bool], list[dict[str, Any]]]
    owned: dict[tuple[str, str], list[EdgeRow]]
    # What every node of the write shares, sent once as parameters ($now, $run), not once per row.
    shared: dict[str, Any]


def prepare(rows: Rows, schema: GraphSchema, run_id: str, now: datetime) -> Batch:
    """Checks the kinds, keeps the last full record of each node, and hashes each with its edges."""
    labels = set(schema.labels)
    undeclared = {n.label for n in rows.nodes} - labels
    undeclared |= {label for e in rows.edges for label in (e.from_label, e.to_label)} - labels
    if undeclared:
        raise ValueError(f"{schema.source} rows use undeclared kinds: {sorted(undeclared)}")
    nodes: dict[tuple[str, str], NodeRow] = {}
    for node in rows.nodes:  # the last full record of a node wins over thin references
        key = (node.label, storable(node.external_id))
        if key not in nodes or not node.reference or nodes[key].reference:
            nodes[key] = node
    owned: dict[tuple[str, str], list[EdgeRow]] = defaultdict(list)
    for edge in dict.fromkeys(_storable_edge(edge) for edge in rows.edges):
        owned[(edge.from_label, edge.from_id) if edge.owner_is_from else (edge.to_label, edge.to_id)].append(edge)
    by_label: dict[tuple[str, bool], list[dict[str, Any]]] = defaultdict(list)
    for key, raw in nodes.items():
        node, payload = _storable_node(raw)
        edge_keys = sorted(edge_key(e) for e in owned[key])
        node_hash = hashlib.sha256(payload.encode()).hexdigest()
        props, dates = _without_times(node.props)
        props |= {  # projectId, orgId, source, syncedAt and syncRunId are added by the statement
            "externalId": node.external_id,
            "workspaceId": node.workspace_id,
            "contentHash": hashlib.sha256((node_hash + "|".join(edge_keys)).encode()).hexdigest(),
        }
        by_label[(node.label, node.reference)].append(
            {"id": node.external_id, "updated": _instant(node.source_updated_at), "props": props, "dates": dates}
        )
    return Batch(dict(by_label), dict(owned), {"now": now, "run": run_id})


def _without_times(props: dict[str, Any]) -> tuple[dict[str, Any], list[list[str]]]:
    """The properties but their fixed-offset times, and those as ``[name, ISO-8601 text]`` pairs
    (what the statement's ``datetime()`` reads back to the same value)."""
    dates = [
        [key, value.isoformat()]
        for key, value in props.items()
        if type(value) is datetime and type(value.tzinfo) is timezone
    ]
    if not dates:
        return dict(props), dates
    timed = {key for key, _ in dates}
    return {key: value for key, value in props.items() if key not in timed}, dates


def _instant(value: datetime | None) -> str | None:
    """A source's update time as UTC ISO-8601 text: only compared (the monotonic guard, tombstones),
    so only its instant matters; a naive time is taken as UTC."""
    if value is None:
        return None
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).isoformat()


def edge_key(edge: EdgeRow) -> str:
    """An edge's part of its owner's content hash: ``json.dumps([type, from, to, props])``, written out
    for the common edge without props (a tenth of the time, and the same text)."""
    if edge.props:
        return json.dumps([edge.type, edge.from_id, edge.to_id, list(edge.props)], default=str)
    return f"[{_quote(edge.type)}, {_quote(edge.from_id)}, {_quote(edge.to_id)}, []]"


def _storable_node(node: NodeRow) -> tuple[NodeRow, str]:
    """The node with text Neo4j can store (a lone surrogate must not fail the whole page), and its
    content payload."""
    payload = node_payload(node)
    if _SURROGATE_ESCAPE.search(payload) is None and storable(node.external_id) is node.external_id:
        return node, payload
    node = replace(
        node,
        external_id=storable(node.external_id),
        workspace_id=None if node.workspace_id is None else storable(node.workspace_id),
        props=storable_value(node.props),
    )
    return node, node_payload(node)


def _storable_edge(edge: EdgeRow) -> EdgeRow:
    from_id, to_id = storable(edge.from_id), storable(edge.to_id)
    props = tuple((storable(k), storable_value(v)) for k, v in edge.props) if edge.props else edge.props
    if from_id is edge.from_id and to_id is edge.to_id and props == edge.props:
        return edge
    return replace(edge, from_id=from_id, to_id=to_id, props=props)
