"""The one graph writer for every source: full imports and webhook events both use it.

Each ``write`` is one transaction: nodes first (one ``UNWIND … MERGE`` per kind, in the schema's
order), then the relationships of the nodes that changed. A node changes only when its content
hash (its properties plus the relationships it owns) differs *and* its ``sourceUpdatedAt`` is not
older than the stored one, so replaying old data or re-importing an unchanged source writes
nothing. Every transaction first locks the project's ``(:ProjectWriteLock)``: writers of one
project take turns instead of deadlocking on shared nodes. What a source writes (kinds, extra
labels, owned relationships, sweep and delete rules) is its ``GraphSchema``; nothing here names one.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import neo4j

from graph import cleanup
from graph.projects import OWNER, check_owner
from graph.rows import EdgeRow, NodeRow, Rows
from graph.schema import GraphSchema
from graph.text import storable, storable_value


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


class _Statements:
    """The Cypher of one schema, built once per writer (labels and types are schema identifiers)."""

    def __init__(self, schema: GraphSchema) -> None:
        self._extra = {kind.label: "".join(f":{x}" for x in kind.extra_labels) for kind in schema.kinds}

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
            WITH n, row, n.contentHash IS NULL AS fresh
            SET n = row.props
            RETURN row.id AS id, fresh
        """
        return f"""
            UNWIND $rows AS row
            WITH row WHERE {self.not_tombstoned(label, "row.id", "row.updated")}
            MERGE (n:{self.key(label)}){extra}
            WITH n, row
            WHERE n.contentHash IS NULL OR (n.contentHash <> row.props.contentHash AND (n.sourceUpdatedAt IS NULL
                  OR (row.updated IS NOT NULL AND row.updated >= n.sourceUpdatedAt)))
            WITH n, row, n.contentHash IS NULL AS fresh
            SET n = row.props
            RETURN row.id AS id, fresh
        """

    def edge(self, edge_type: str, from_label: str, to_label: str, owner_is_from: bool) -> str:
        other_label = to_label if owner_is_from else from_label
        owner = "a" if owner_is_from else "b"
        other = "b" if owner_is_from else "a"
        extra = f", {other}{self._extra[other_label]}" if self._extra.get(other_label) else ""
        owner_label = from_label if owner_is_from else to_label
        return f"""
            UNWIND $rows AS row
            MATCH ({owner}:{owner_label} {{projectId: $projectId, source: $source, externalId: row.owner}})
            WITH {owner}, row WHERE {self.not_tombstoned(other_label, "row.other")}
            MERGE ({other}:{other_label} {{projectId: $projectId, source: $source, externalId: row.other}})
            ON CREATE SET {other}.orgId = $orgId, {other}.workspaceId = row.workspaceId, {other}.stub = true{extra}
            MERGE (a)-[r:{edge_type}]->(b)
            SET r += row.props
        """


def _owner(edge: EdgeRow) -> tuple[str, str]:
    return (edge.from_label, edge.from_id) if edge.owner_is_from else (edge.to_label, edge.to_id)


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
        rows = _storable(rows)
        undeclared = {n.label for n in rows.nodes} - set(self._schema.labels)
        undeclared |= {label for e in rows.edges for label in (e.from_label, e.to_label)} - set(self._schema.labels)
        if undeclared:
            raise ValueError(f"{self._schema.source} rows use undeclared kinds: {sorted(undeclared)}")
        nodes: dict[tuple[str, str], NodeRow] = {}
        for node in rows.nodes:  # the last full record of a node wins over thin references
            key = (node.label, node.external_id)
            if key not in nodes or not node.reference or nodes[key].reference:
                nodes[key] = node
        owned: dict[tuple[str, str], list[EdgeRow]] = defaultdict(list)
        for edge in dict.fromkeys(rows.edges):
            owned[_owner(edge)].append(edge)
        now = datetime.now(UTC)
        by_label: dict[tuple[str, bool], list[dict[str, Any]]] = defaultdict(list)
        for (label, external_id), node in nodes.items():
            params = self._node_params(node, owned.get((label, external_id), []), run_id, now)
            by_label[(label, node.reference)].append(params)
        return await self._run(by_label, owned)

    def _node_params(self, node: NodeRow, edges: list[EdgeRow], run_id: str, now: datetime) -> dict[str, Any]:
        edge_keys = sorted(json.dumps([e.type, e.from_id, e.to_id, list(e.props)], default=str) for e in edges)
        content_hash = hashlib.sha256((node.content_hash + "|".join(edge_keys)).encode()).hexdigest()
        props = {
            **node.props,
            "projectId": self._project_id,
            "orgId": self._org_id,
            "source": self._schema.source,
            "externalId": node.external_id,
            "workspaceId": node.workspace_id,
            "contentHash": content_hash,
            "syncedAt": now,
            "syncRunId": run_id,
        }
        return {"id": node.external_id, "updated": node.source_updated_at, "props": props}

    async def _run(
        self, by_label: dict[tuple[str, bool], list[dict[str, Any]]], owned: dict[tuple[str, str], list[EdgeRow]]
    ) -> WriteResult:
        params: dict[str, Any] = {"projectId": self._project_id, "orgId": self._org_id, "source": self._schema.source}

        async def work(tx: neo4j.AsyncManagedTransaction) -> WriteResult:
            result = WriteResult()
            lock = await tx.run("MERGE (l:ProjectWriteLock {projectId: $projectId}) REMOVE l.lockedBy", params)
            await lock.consume()
            claim = await (await tx.run(OWNER, params)).single()
            check_owner(claim["owner"] if claim else None, self._org_id, self._project_id)
            changed: set[tuple[str, str]] = set()
            fresh: set[tuple[str, str]] = set()  # changed because new (or a stub): no old edges to drop
            for label in self._schema.labels:
                for reference in (False, True):
                    batch = by_label.get((label, reference))
                    if not batch:
                        continue
                    cursor = await tx.run(self._cypher.upsert(label, reference=reference), {**params, "rows": batch})
                    records = [record async for record in cursor]
                    result.add((await cursor.consume()).counters)
                    result.changed[label] = result.changed.get(label, 0) + len(records)
                    changed.update((label, r["id"]) for r in records)
                    fresh.update((label, r["id"]) for r in records if r["fresh"])
            await self._rebuild_edges(tx, changed, fresh, owned, params, result)
            return result

        async with self._driver.session(database=self._database) as session:
            return await session.execute_write(work)

    async def _rebuild_edges(
        self,
        tx: neo4j.AsyncManagedTransaction,
        changed: set[tuple[str, str]],
        fresh: set[tuple[str, str]],
        owned: dict[tuple[str, str], list[EdgeRow]],
        params: dict[str, Any],
        result: WriteResult,
    ) -> None:
        ids_by_label: dict[str, list[str]] = defaultdict(list)
        for label, external_id in changed - fresh:
            ids_by_label[label].append(external_id)
        for label, ids in ids_by_label.items():
            kind = self._schema.kind(label)
            # One statement per direction (types as alternatives): a live event writes one node,
            # and each round trip inside the transaction is latency the event waits for.
            if kind.owns_out:
                await self._consume(
                    tx,
                    result,
                    f"MATCH (n:{label} {{projectId: $projectId, source: $source}})"
                    f"-[r:{'|'.join(kind.owns_out)}]->() WHERE n.externalId IN $ids DELETE r",
                    ids=ids,
                    **params,
                )
            if kind.owns_in:
                await self._consume(
                    tx,
                    result,
                    f"MATCH ()-[r:{'|'.join(kind.owns_in)}]->(n:{label} {{projectId: $projectId, "
                    f"source: $source}}) WHERE n.externalId IN $ids DELETE r",
                    ids=ids,
                    **params,
                )
        groups: dict[tuple[str, str, str, bool], list[dict[str, Any]]] = defaultdict(list)
        for owner in changed:
            for edge in owned.get(owner, []):
                other = edge.to_id if edge.owner_is_from else edge.from_id
                groups[(edge.type, edge.from_label, edge.to_label, edge.owner_is_from)].append(
                    {"owner": owner[1], "other": other, "props": dict(edge.props), "workspaceId": None}
                )
        for (edge_type, from_label, to_label, owner_is_from), rows in groups.items():
            query = self._cypher.edge(edge_type, from_label, to_label, owner_is_from)
            await self._consume(tx, result, query, rows=rows, **params)

    async def delete(self, label: str, external_id: str, run_id: str) -> int:
        """Remove a node and what the schema's cascades take with it, leaving tombstones."""
        return await cleanup.delete(
            self._driver, self._database, self._schema, self._org_id, self._project_id, label, external_id, run_id
        )

    async def sweep(self, workspace_ids: list[str], seen: dict[str, set[str]]) -> dict[str, int]:
        return await cleanup.sweep(self._driver, self._database, self._schema, self._project_id, workspace_ids, seen)

    async def totals(self) -> dict[str, int]:
        return await cleanup.totals(self._driver, self._database, self._schema, self._project_id)

    @staticmethod
    async def _consume(tx: neo4j.AsyncManagedTransaction, result: WriteResult, query: str, **params: Any) -> None:
        cursor = await tx.run(query, params)
        result.add((await cursor.consume()).counters)


def _storable(rows: Rows) -> Rows:
    """Rows whose text Neo4j can store: a lone surrogate in one name must not fail the whole page."""
    nodes = [
        replace(
            node,
            external_id=storable(node.external_id),
            workspace_id=None if node.workspace_id is None else storable(node.workspace_id),
            props=storable_value(node.props),
        )
        for node in rows.nodes
    ]
    edges = [
        replace(
            edge,
            from_id=storable(edge.from_id),
            to_id=storable(edge.to_id),
            props=tuple((storable(k), storable_value(v)) for k, v in edge.props),
        )
        for edge in rows.edges
    ]
    return Rows(nodes, edges, rows.issues)
