"""The one graph writer for every source: full imports and webhook events both use it.

Each ``write`` first reads, in one statement, the content hashes stored for its rows (and the
project's owner) and leaves out what the graph already holds as it is: an unchanged page (most of
a re-import, a duplicate webhook) costs that read and no write transaction. What is left is one
transaction. It locks the project's ``(:ProjectWriteLock)`` (writers of one
project take turns instead of deadlocking on shared nodes, and the uniqueness constraints back the
keys up), writes the nodes (one ``UNWIND … MERGE`` per kind, in the schema's order), then the
relationships of the nodes that changed. A node changes only when its content hash (its properties
plus the relationships it owns) differs *and* its ``sourceUpdatedAt`` is not older than the stored
one, so replaying old data or re-importing an unchanged source writes nothing.

Relationships cost no key lookups of their own: the node statements return the element ids of what
they wrote (in one list: the driver's cost per record was a tenth of an import's CPU), the other
ends of the batch are looked up (or made stubs) once, one statement per kind, and the edges of
every type go in one statement more. A changed node's own edges are gone by then (dropped, or it is
new), so they are CREATEd; MERGE is kept for a type another kind may also write.
What a source writes (kinds, extra labels, owned relationships, sweep and delete rules) is its
``GraphSchema``; nothing here names one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import neo4j

from graph import cleanup
from graph.batch import Batch, prepare
from graph.projects import OWNER, check_owner, lock, project_lock
from graph.rows import EdgeRow, Rows
from graph.schema import GraphSchema


@dataclass
class WriteResult:
    changed: dict[str, int] = field(default_factory=dict)
    nodes_created: int = 0
    nodes_deleted: int = 0
    relationships_created: int = 0
    relationships_deleted: int = 0
    properties_set: int = 0

    def add(self, counters: neo4j.SummaryCounters) -> None:
        self.nodes_created += counters.nodes_created
        self.nodes_deleted += counters.nodes_deleted
        self.relationships_created += counters.relationships_created
        self.relationships_deleted += counters.relationships_deleted
        self.properties_set += counters.properties_set

    def merge(self, other: WriteResult) -> None:
        for label, count in other.changed.items():
            self.changed[label] = self.changed.get(label, 0) + count
        self.nodes_created += other.nodes_created
        self.nodes_deleted += other.nodes_deleted
        self.relationships_created += other.relationships_created
        self.relationships_deleted += other.relationships_deleted
        self.properties_set += other.properties_set


# A node's properties: its row's, and those every node of the write shares (one parameter each).
_SHARED = "props{.*, projectId: $projectId, orgId: $orgId, source: $source, syncedAt: $now, syncRunId: $run}"
# Its times, sent as text (``graph/batch.py`` says why), set back as ``datetime`` values.
_DATES = "\n            FOREACH (d IN row.dates | SET n[d[0]] = datetime(d[1]))"


class _Statements:
    """The Cypher of one schema, built once per writer (labels and types are schema identifiers)."""

    def __init__(self, schema: GraphSchema) -> None:
        self._extra = {kind.label: "".join(f":{x}" for x in kind.extra_labels) for kind in schema.kinds}
        self._when = {kind.label: "".join(map(_label_when, kind.labels_when)) for kind in schema.kinds}

    @staticmethod
    def key(label: str) -> str:
        return f"{label} {{projectId: $projectId, source: $source, externalId: row.id}}"

    @staticmethod
    def not_tombstoned(label: str, id_expr: str, updated_expr: str = "null") -> str:
        return (
            f"NOT EXISTS {{ MATCH (tb:Tombstone {{projectId: $projectId, source: $source, kind: '{label}', "
            f"externalId: {id_expr}}}) WHERE {updated_expr} IS NULL OR tb.deletedAt >= {updated_expr} }}"
        )

    def upsert(self, label: str, *, reference: bool = False) -> str:
        extra = f" ON CREATE SET n{self._extra[label]}" if self._extra[label] else ""
        if reference:  # thin references fill a new (or stub) node, never overwrite a full record
            return f"""
            UNWIND $rows AS row
            WITH row WHERE {self.not_tombstoned(label, "row.id")}
            MERGE (n:{self.key(label)}){extra}
            WITH n, row WHERE n.contentHash IS NULL
            WITH n, row, n.contentHash IS NULL AS fresh, row.props AS props
            SET n = {_SHARED}{_DATES}
            RETURN collect([row.id, fresh, elementId(n)]) AS written
        """
        return f"""
            UNWIND $rows AS row
            WITH row, datetime(row.updated) AS updated
            WITH row, updated WHERE {self.not_tombstoned(label, "row.id", "updated")}
            MERGE (n:{self.key(label)}){extra}
            WITH n, row, updated
            WHERE n.contentHash IS NULL OR (n.contentHash <> row.props.contentHash AND (n.sourceUpdatedAt IS NULL
                  OR (updated IS NOT NULL AND updated >= n.sourceUpdatedAt)))
            WITH n, row, n.contentHash IS NULL AS fresh, row.props AS props
            SET n = {_SHARED}{_DATES}{self._when[label]}
            RETURN collect([row.id, fresh, elementId(n)]) AS written
        """

    def ends(self, label: str) -> str:
        """The other ends of one kind in a batch's edges, each looked up once: a stub when missing, none
        when tombstoned. One statement per kind, not one for all the kinds a batch happens to hold: its
        text is then fixed per schema, so Neo4j plans it once (a UNION over the kinds present had a new
        text, and a 100-300 ms plan, for each mix, which live events paid for in their latency)."""
        extra = f", n{self._extra[label]}" if self._extra[label] else ""
        return f"""
            UNWIND $ids AS id
            WITH id WHERE {self.not_tombstoned(label, "id")}
            MERGE (n:{label} {{projectId: $projectId, source: $source, externalId: id}})
            ON CREATE SET n.orgId = $orgId, n.stub = true{extra}
            RETURN collect([id, elementId(n)]) AS found
        """

    def stored_hashes(self, labels: tuple[str, ...]) -> str:
        """The content hash stored for each node a batch holds (one list parameter per kind, in the
        schema's order, so the text is fixed per schema), and the project's owner: one round trip."""
        branches = "\n                UNION ALL\n                ".join(
            f"UNWIND $ids{index} AS id MATCH (n:{label} {{projectId: $projectId, source: $source, externalId: id}}) "
            f"RETURN {index} AS kind, id, n.contentHash AS hash"
            for index, label in enumerate(labels)
        )
        return f"""
            CALL () {{
                {branches}
            }}
            WITH collect([kind, id, hash]) AS stored
            OPTIONAL MATCH (owner:ProjectOwner {{projectId: $projectId}})
            RETURN owner.orgId AS owner, stored
        """

    @staticmethod
    def edges(*, merge: bool, props: bool) -> str:
        """Edges of every type between nodes this transaction holds (element ids, the type a parameter
        of each row): CREATE when the owner's own edges of that type are known to be gone, MERGE when
        another kind may have written one. Without props there is no SET (nor its Eager)."""
        if merge:
            write = "MERGE (a)-[r:$(row.type)]->(b)" + (" SET r += row.props" if props else "")
        else:
            write = "CREATE (a)-[r:$(row.type)]->(b)" + (" SET r = row.props" if props else "")
        return f"""
            UNWIND $rows AS row
            MATCH (a) WHERE elementId(a) = row.a
            MATCH (b) WHERE elementId(b) = row.b
            {write}
        """

    @staticmethod
    def drop(types: tuple[str, ...], *, out: bool) -> str:
        """The owned edges of changed nodes, dropped before they are rebuilt."""
        pattern = f"(n)-[r:{'|'.join(types)}]->()" if out else f"()-[r:{'|'.join(types)}]->(n)"
        return f"UNWIND $elements AS element MATCH (n) WHERE elementId(n) = element MATCH {pattern} DELETE r"


# The project's write lock, then its owner: one round trip at the start of every write.
_LOCK_AND_OWNER = f"""
MERGE (l:ProjectWriteLock {{projectId: $projectId}}) {lock("l")}
WITH l
{OWNER}
"""


def _label_when(rule: tuple[str, str, int | str | bool]) -> str:
    """Set ``label`` while ``n.<prop>`` equals the value, remove it otherwise (the value is a literal:
    schema data, never input; JSON's int, bool and plain-string literals are Cypher's too)."""
    label, prop, value = rule
    literal = json.dumps(value)
    return (
        f"\n            FOREACH (_ IN CASE WHEN n.{prop} = {literal} THEN [1] ELSE [] END | SET n:{label})"
        f"\n            FOREACH (_ IN CASE WHEN n.{prop} = {literal} THEN [] ELSE [1] END | REMOVE n:{label})"
    )


def _other(edge: EdgeRow) -> tuple[str, str]:
    return (edge.to_label, edge.to_id) if edge.owner_is_from else (edge.from_label, edge.from_id)


def _plan(
    schema: GraphSchema, changed: dict[tuple[str, str], str], owned: dict[tuple[str, str], list[EdgeRow]]
) -> list[tuple[str, str, str, EdgeRow, dict[str, Any], bool]]:
    """The edges to write: ``(other label, other id, owner element, edge, props, merge)``, one per pair
    (and edge key).

    A changed node has none of the edges it owns left (they were dropped, or it is new), so its edges
    are created, the props of a repeated pair combined as ``SET +=`` would. MERGE stays for a type the
    owner's kind does not declare as its own, or that the other end's kind owns too: such an edge may
    already exist.
    """
    planned: dict[tuple[str, ...], tuple[str, str, str, EdgeRow, dict[str, Any], bool]] = {}
    for owner, element in changed.items():
        kind = schema.kind(owner[0])
        for edge in owned.get(owner, []):
            other_label, other_id = _other(edge)
            other_kind = schema.kind(other_label)
            if edge.owner_is_from:
                merge = edge.type not in kind.owns_out or edge.type in other_kind.owns_in
            else:
                merge = edge.type not in kind.owns_in or edge.type in other_kind.owns_out
            key = (edge.type, "out" if edge.owner_is_from else "in", other_label, other_id, edge.key)
            pair = (*owner, *key)
            if pair in planned:
                planned[pair][4].update(edge.props)
            else:
                planned[pair] = (other_label, other_id, element, edge, dict(edge.props), merge)
    return list(planned.values())


@dataclass(frozen=True)
class NodeProps:
    """A node's external id and all its properties, as stored."""

    id: str
    props: dict[str, Any]


class GraphWriter:
    def __init__(
        self, driver: neo4j.AsyncDriver, database: str, org_id: str, project_id: str, schema: GraphSchema
    ) -> None:
        self._driver = driver
        self._database = database
        self._org_id = org_id
        self._project_id = project_id
        self._schema = schema
        self._cypher = _Statements(schema)

    @property
    def schema(self) -> GraphSchema:
        return self._schema

    async def write(self, rows: Rows, run_id: str) -> WriteResult:
        batch = prepare(rows, self._schema, run_id, datetime.now(UTC))
        return await self._run(batch)

    async def _run(self, batch: Batch) -> WriteResult:
        params: dict[str, Any] = {"projectId": self._project_id, "orgId": self._org_id, "source": self._schema.source}
        present = {label for (label, _), rows in batch.nodes.items() if rows}
        batch = await self._changed_only(batch, params)
        if not any(batch.nodes.values()):  # nothing new: no transaction, no lock
            return WriteResult(changed=dict.fromkeys(present, 0))

        async def work(tx: neo4j.AsyncManagedTransaction) -> WriteResult:
            result = WriteResult(changed=dict.fromkeys(present, 0))
            claim = await (await tx.run(_LOCK_AND_OWNER, params)).single()
            check_owner(claim["owner"] if claim else None, self._org_id, self._project_id)
            changed: dict[tuple[str, str], str] = {}  # node -> its element id in this transaction
            fresh: set[tuple[str, str]] = set()  # changed because new (or a stub): no old edges to drop
            for label in self._schema.labels:
                for reference in (False, True):
                    rows = batch.nodes.get((label, reference))
                    if not rows:
                        continue
                    query = self._cypher.upsert(label, reference=reference)
                    cursor = await tx.run(query, {**params, **batch.shared, "rows": rows})
                    written = (await cursor.single(strict=True))["written"]
                    result.add((await cursor.consume()).counters)
                    result.changed[label] = result.changed.get(label, 0) + len(written)
                    changed.update(((label, node_id), element) for node_id, _, element in written)
                    fresh.update((label, node_id) for node_id, is_fresh, _ in written if is_fresh)
            await self._rebuild_edges(tx, changed, fresh, batch.owned, params, result)
            return result

        # The driver's bookmark manager, shared with execute_query: a read after this write (an import's
        # totals, a follower included) sees it.
        async with self._driver.session(
            database=self._database, bookmark_manager=self._driver.execute_query_bookmark_manager
        ) as session:
            return await session.execute_write(work)

    async def _changed_only(self, batch: Batch, params: dict[str, Any]) -> Batch:
        """The batch without the rows the graph already holds as they are: a full record whose stored
        content hash is its own, a reference to a node that is more than a stub. One read decides, so
        an unchanged page (a re-import) costs no write transaction at all.

        Read outside the write, from the leader: a node changed after this read was changed by a
        writer with a record at least as new (the monotonic guard), so leaving ours out loses nothing.
        """
        labels = self._schema.labels
        ids = {
            f"ids{index}": sorted({row["id"] for (lb, _), rows in batch.nodes.items() if lb == label for row in rows})
            for index, label in enumerate(labels)
        }
        records, _, _ = await self._driver.execute_query(
            self._cypher.stored_hashes(labels),
            {**params, **ids},
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        check_owner(records[0]["owner"], self._org_id, self._project_id)
        stored = {(labels[kind], node_id): stored_hash for kind, node_id, stored_hash in records[0]["stored"]}
        nodes: dict[tuple[str, bool], list[dict[str, Any]]] = {}
        for (label, reference), rows in batch.nodes.items():
            if reference:
                kept = [row for row in rows if stored.get((label, row["id"])) is None]
            else:
                kept = [row for row in rows if stored.get((label, row["id"])) != row["props"]["contentHash"]]
            if kept:
                nodes[(label, reference)] = kept
        return Batch(nodes, batch.owned, batch.shared)  # edges are read for the changed nodes only

    async def _rebuild_edges(
        self,
        tx: neo4j.AsyncManagedTransaction,
        changed: dict[tuple[str, str], str],
        fresh: set[tuple[str, str]],
        owned: dict[tuple[str, str], list[EdgeRow]],
        params: dict[str, Any],
        result: WriteResult,
    ) -> None:
        """Drop the owned edges of changed nodes that had some, then write each changed node's edges.

        The other ends are looked up once per batch and kind (stubs made, tombstoned ones left out) and
        every end is then addressed by element id, so an edge costs no key lookup of its own.
        """
        stale: dict[str, list[str]] = defaultdict(list)
        for node, element in changed.items():
            if node not in fresh:
                stale[node[0]].append(element)
        for label, elements in stale.items():
            kind = self._schema.kind(label)
            # One statement per direction (types as alternatives): a live event writes one node,
            # and each round trip inside the transaction is latency the event waits for.
            for types, out in ((kind.owns_out, True), (kind.owns_in, False)):
                if types:
                    await self._consume(tx, result, self._cypher.drop(types, out=out), elements=elements)
        planned = _plan(self._schema, changed, owned)
        others: dict[str, set[str]] = defaultdict(set)
        for other_label, other_id, *_ in planned:
            others[other_label].add(other_id)
        ends: dict[tuple[str, str], str] = {}
        for label in sorted(others):
            cursor = await tx.run(self._cypher.ends(label), {**params, "ids": sorted(others[label])})
            ends.update(((label, node_id), element) for node_id, element in (await cursor.single(strict=True))["found"])
            result.add((await cursor.consume()).counters)
        groups: dict[tuple[bool, bool], list[dict[str, Any]]] = defaultdict(list)
        for other_label, other_id, owner_element, edge, props, merge in planned:
            other_element = ends.get((other_label, other_id))
            if other_element is None:  # tombstoned: no edge, no stub
                continue
            a, b = (owner_element, other_element) if edge.owner_is_from else (other_element, owner_element)
            groups[(merge, bool(props))].append({"type": edge.type, "a": a, "b": b, "props": props})
        for (merge, props_set), rows in groups.items():
            await self._consume(tx, result, self._cypher.edges(merge=merge, props=props_set), rows=rows)

    async def node_page(self, label: str, after: str, limit: int) -> list[NodeProps]:
        """A page of one kind's nodes (not stubs) in external-id order after ``after``, with every
        property: what a re-map of derived properties reads."""
        records, _, _ = await self._driver.execute_query(
            f"MATCH (n:{self._schema.kind(label).label}) WHERE n.projectId = $projectId AND n.source = $source "
            "AND n.externalId > $after AND n.stub IS NULL "
            "RETURN n.externalId AS id, properties(n) AS props ORDER BY n.externalId LIMIT $limit",
            projectId=self._project_id,
            source=self._schema.source,
            after=after,
            limit=limit,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,  # its hashes guard the rewrite: the leader's latest
        )
        return [NodeProps(r["id"], dict(r["props"])) for r in records]

    async def rewrite_properties(self, label: str, nodes: list[NodeProps]) -> int:
        """Replace the properties of nodes read by ``node_page`` (edges and labels untouched), each
        only if its content hash is still the one read: a node a writer changed meanwhile was written
        with what is current. Returns how many were rewritten."""
        if not nodes:
            return 0
        records, _, _ = await self._driver.execute_query(
            f"""
            {project_lock()}
            UNWIND $rows AS row
            MATCH (n:{self._schema.kind(label).label} {{projectId: $projectId, source: $source, externalId: row.id}})
            WHERE n.contentHash = row.props.contentHash
            SET n = row.props
            RETURN count(n) AS rewritten
            """,
            projectId=self._project_id,
            source=self._schema.source,
            rows=[{"id": node.id, "props": node.props} for node in nodes],
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return int(records[0]["rewritten"])

    async def delete(self, label: str, external_id: str, run_id: str) -> int:
        """Remove a node and what the schema's cascades take with it, leaving tombstones."""
        return await cleanup.delete(
            self._driver, self._database, self._schema, self._org_id, self._project_id, label, external_id, run_id
        )

    async def sweep(
        self, workspace_ids: list[str], seen: dict[str, set[str]], kinds: tuple[str, ...] | None = None
    ) -> dict[str, int]:
        """Tombstone what a complete listing did not see: every swept kind, or only ``kinds`` (a
        source that re-lists some kinds on their own, because they send no events)."""
        return await cleanup.sweep(
            self._driver, self._database, self._schema, self._project_id, workspace_ids, seen, kinds
        )

    async def held_by(self, label: str, ids: list[str]) -> dict[str, set[str]]:
        """What deleting ``ids`` would take with it, by kind (read only; see ``cleanup.held_by``)."""
        return await cleanup.held_by(self._driver, self._database, self._schema, self._project_id, label, ids)

    async def referenced_by(self, label: str, ids: list[str]) -> dict[str, set[str]]:
        """What ``ids`` point to through the relationships their kind owns, by kind."""
        return await cleanup.referenced_by(self._driver, self._database, self._schema, self._project_id, label, ids)

    async def live_ids(self, label: str) -> set[str]:
        """The external ids of ``label``'s nodes in this project."""
        return await cleanup.live_ids(self._driver, self._database, self._schema, self._project_id, label)

    async def totals(self) -> dict[str, int]:
        return await cleanup.totals(self._driver, self._database, self._schema, self._project_id)

    @staticmethod
    async def _consume(tx: neo4j.AsyncManagedTransaction, result: WriteResult, query: str, **params: Any) -> None:
        cursor = await tx.run(query, params)
        result.add((await cursor.consume()).counters)
