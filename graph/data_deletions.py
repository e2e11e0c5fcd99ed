"""Data deletions as records: one ``(:DataDeletion)`` per request to remove what an integration
imported into a project, with its state, what it removed so far, and a lease.

At most one deletion per (org, project, integration) is RUNNING: ``activeKey`` is set while it
runs, under a uniqueness constraint, so two replicas asked at once create one. The runner holding
the lease renews it; a deletion whose lease ran out (its server died) is an orphan that any runner
resumes: removing what is left is the same work whoever does it. Cancelling is a flag the runner
reads between two batches.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import neo4j

TERMINAL = ("SUCCEEDED", "CANCELLED", "FAILED")


class DeletionLeaseLost(RuntimeError):
    """Another runner holds the deletion now: this one stops."""


@dataclass(frozen=True)
class DataDeletionRecord:
    id: str
    org_id: str
    project_id: str
    integration: str
    state: str
    actor: str
    created_at: datetime
    removed: dict[str, int] = field(default_factory=dict)
    relationships: int = 0
    batches: int = 0
    largest_batch: int = 0  # nodes + relationships of the biggest transaction so far
    finished_at: datetime | None = None
    error: str = ""
    cancel_requested: bool = False

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


def _record(node: Any) -> DataDeletionRecord:
    removed = json.loads(node.get("removed") or "{}")
    finished = node.get("finishedAt")
    return DataDeletionRecord(
        id=node["id"],
        org_id=node["orgId"],
        project_id=node["projectId"],
        integration=node["integration"],
        state=node["state"],
        actor=node.get("actor") or "",
        created_at=node["createdAt"].to_native(),
        removed={str(k): int(v) for k, v in removed.items()} if isinstance(removed, dict) else {},
        relationships=int(node.get("relationships") or 0),
        batches=int(node.get("batches") or 0),
        largest_batch=int(node.get("largestBatch") or 0),
        finished_at=finished.to_native() if finished is not None else None,
        error=node.get("error") or "",
        cancel_requested=bool(node.get("cancelRequested")),
    )


class DataDeletionStore:
    def __init__(self, driver: neo4j.AsyncDriver, database: str, lease_seconds: float = 30.0) -> None:
        self._driver = driver
        self._database = database
        self.lease_seconds = lease_seconds

    async def _write(self, query: str, **params: Any) -> list[neo4j.Record]:
        records, _, _ = await self._driver.execute_query(
            query, params, database_=self._database, routing_=neo4j.RoutingControl.WRITE
        )
        return records

    async def create(self, org_id: str, project_id: str, integration: str, actor: str) -> DataDeletionRecord:
        """A new RUNNING deletion, or the one already running for this integration."""
        key = "\x00".join((org_id, project_id, integration))
        try:
            records = await self._write(
                """
                CREATE (d:DataDeletion {id: $id, orgId: $org, projectId: $project, integration: $name,
                                        state: 'RUNNING', actor: $actor, createdAt: datetime(), activeKey: $key,
                                        removed: '{}', relationships: 0, batches: 0, largestBatch: 0})
                RETURN d
                """,
                id=str(uuid.uuid4()),
                org=org_id,
                project=project_id,
                name=integration,
                actor=actor,
                key=key,
            )
        except neo4j.exceptions.ConstraintError:
            records = await self._write("MATCH (d:DataDeletion {activeKey: $key}) RETURN d", key=key)
            if not records:  # it ended between the two statements: start another
                return await self.create(org_id, project_id, integration, actor)
        return _record(records[0]["d"])

    async def get(self, deletion_id: str) -> DataDeletionRecord | None:
        """On the leader: a watcher reads the runner's latest progress, whichever replica runs it."""
        records = await self._write("MATCH (d:DataDeletion {id: $id}) RETURN d", id=deletion_id)
        return _record(records[0]["d"]) if records else None

    async def running(self, org_id: str, project_id: str, integration: str) -> DataDeletionRecord | None:
        records = await self._write(
            "MATCH (d:DataDeletion {activeKey: $key}) RETURN d", key="\x00".join((org_id, project_id, integration))
        )
        return _record(records[0]["d"]) if records else None

    async def claim(self, deletion_id: str, owner: str) -> DataDeletionRecord | None:
        """Take the deletion if it runs unowned or its lease ran out."""
        records = await self._write(
            """
            MATCH (d:DataDeletion {id: $id}) WHERE d.state = 'RUNNING'
              AND (d.leaseOwner IS NULL OR d.leaseOwner = $owner OR d.leaseUntil < datetime())
            SET d.leaseOwner = $owner, d.leaseUntil = datetime() + duration({milliseconds: $ms})
            RETURN d
            """,
            id=deletion_id,
            owner=owner,
            ms=int(self.lease_seconds * 1000),
        )
        return _record(records[0]["d"]) if records else None

    async def heartbeat(self, deletion_id: str, owner: str) -> None:
        records = await self._write(
            """
            MATCH (d:DataDeletion {id: $id, leaseOwner: $owner}) WHERE d.state = 'RUNNING'
            SET d.leaseUntil = datetime() + duration({milliseconds: $ms})
            RETURN d.id
            """,
            id=deletion_id,
            owner=owner,
            ms=int(self.lease_seconds * 1000),
        )
        if not records:
            raise DeletionLeaseLost(deletion_id)

    async def progress(
        self, deletion_id: str, owner: str, removed: dict[str, int], relationships: int, batch_size: int
    ) -> bool:
        """Record one more batch: ``removed`` is the whole per-kind count so far (only the lease holder
        writes it), ``relationships`` this batch's. Returns whether a cancel was asked for; raises
        ``DeletionLeaseLost`` if another runner holds the deletion now."""
        records = await self._write(
            """
            MATCH (d:DataDeletion {id: $id, leaseOwner: $owner}) WHERE d.state = 'RUNNING'
            SET d.removed = $removed, d.relationships = d.relationships + $rels, d.batches = d.batches + 1,
                d.largestBatch = CASE WHEN d.largestBatch < $size THEN $size ELSE d.largestBatch END,
                d.leaseUntil = datetime() + duration({milliseconds: $ms})
            RETURN d.cancelRequested AS cancel
            """,
            id=deletion_id,
            owner=owner,
            removed=json.dumps(removed, sort_keys=True),
            rels=relationships,
            size=batch_size,
            ms=int(self.lease_seconds * 1000),
        )
        if not records:
            raise DeletionLeaseLost(deletion_id)
        return bool(records[0]["cancel"])

    async def cancel(self, deletion_id: str) -> DataDeletionRecord | None:
        records = await self._write(
            "MATCH (d:DataDeletion {id: $id}) WHERE d.state = 'RUNNING' SET d.cancelRequested = true RETURN d",
            id=deletion_id,
        )
        return _record(records[0]["d"]) if records else None

    async def finish(self, deletion_id: str, owner: str, state: str, error: str = "") -> None:
        await self._write(
            """
            MATCH (d:DataDeletion {id: $id, leaseOwner: $owner}) WHERE d.state = 'RUNNING'
            SET d.state = $state, d.error = $error, d.finishedAt = datetime()
            REMOVE d.activeKey, d.leaseOwner, d.leaseUntil
            """,
            id=deletion_id,
            owner=owner,
            state=state,
            error=error,
        )

    async def orphans(self) -> list[str]:
        """Running deletions nobody holds: their server died (or never picked them up)."""
        records = await self._write(
            """
            MATCH (d:DataDeletion) WHERE d.state = 'RUNNING' AND (d.leaseUntil IS NULL OR d.leaseUntil < datetime())
            RETURN d.id AS id
            """
        )
        return [record["id"] for record in records]
