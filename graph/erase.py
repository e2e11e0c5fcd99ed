"""Removing everything one source wrote for one project, a bounded batch per transaction.

A project that disables an integration and asks for its data to go may hold hundreds of thousands
of nodes: one ``DETACH DELETE`` of them all would be one giant transaction (heap, locks, a long
stall for everyone). Here each call removes at most ``batch`` nodes of one kind with their
relationships, in one transaction, children's kinds first; the caller loops until nothing is
left, and may stop between two calls: what is left is whole nodes with whole relationships.
The sync state (watermarks, last totals) goes last, so a later import starts from nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import neo4j

from graph.schema import GraphSchema

TOMBSTONE = "Tombstone"


@dataclass(frozen=True)
class ErasedBatch:
    label: str  # the kind removed from ("" when nothing was left)
    nodes: int
    relationships: int

    @property
    def done(self) -> bool:
        return self.nodes == 0


class GraphEraser:
    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def erase_batch(self, org_id: str, project_id: str, schema: GraphSchema, batch: int) -> ErasedBatch:
        """Remove up to ``batch`` nodes of the first kind (children first, tombstones last) that still
        has any for this project and source; ``done`` when none was left."""
        labels = [kind.label for kind in reversed(schema.kinds)] + [TOMBSTONE]
        for label in labels:
            # The existence tests let the planner seek the kind's key index (projectId, source,
            # [kind,] externalId) by its prefix, instead of scanning every node of the label.
            also = "AND n.kind IS NOT NULL " if label == TOMBSTONE else ""
            _, summary, _ = await self._driver.execute_query(
                f"""
                MATCH (n:{label})
                WHERE n.projectId = $project AND n.source = $source {also}AND n.externalId IS NOT NULL
                  AND n.orgId = $org
                WITH n LIMIT $batch
                DETACH DELETE n
                """,
                org=org_id,
                project=project_id,
                source=schema.source,
                batch=max(1, batch),
                database_=self._database,
                routing_=neo4j.RoutingControl.WRITE,
            )
            counters = summary.counters
            if counters.nodes_deleted:
                return ErasedBatch(label, counters.nodes_deleted, counters.relationships_deleted)
        return ErasedBatch("", 0, 0)

    async def forget_sync_state(self, org_id: str, project_id: str, integration: str) -> None:
        """The watermarks and last totals: without the data they describe, they would mislead."""
        await self._driver.execute_query(
            """
            OPTIONAL MATCH (s:SyncState {orgId: $org, projectId: $project, integration: $name})
            OPTIONAL MATCH (w:SyncWatermark {orgId: $org, projectId: $project, integration: $name})
            DETACH DELETE s, w
            """,
            org=org_id,
            project=project_id,
            name=integration,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
