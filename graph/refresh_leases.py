"""Who may spend a project's refresh token right now: one lease per (org, project, integration).

Rotating refresh tokens are single use (a short reuse leeway aside): two replicas that both see an
expiring token must not both refresh it. The one that takes the lease refreshes and seals the new
set; the others wait for the sealed set to change. A lease runs out by itself, so a replica that
dies while refreshing holds nobody up for longer than its TTL.
"""

from __future__ import annotations

import neo4j


class RefreshLeases:
    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def acquire(self, org_id: str, project_id: str, integration: str, owner: str, seconds: float) -> bool:
        """Take the lease if it is free or ran out. The first SET takes the node's write lock before the
        owner is read, so of two concurrent takers the second reads what the first wrote (see
        ``graph.projects.lock``)."""
        records, _, _ = await self._driver.execute_query(
            """
            MERGE (l:RefreshLease {orgId: $org, projectId: $project, integration: $integration})
            SET l.lockTakenAt = datetime.transaction()
            WITH l
            WHERE l.owner IS NULL OR l.owner = $owner OR l.until < datetime()
            SET l.owner = $owner, l.until = datetime() + duration({milliseconds: $ms})
            RETURN l.owner AS owner
            """,
            org=org_id,
            project=project_id,
            integration=integration,
            owner=owner,
            ms=int(seconds * 1000),
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return bool(records)

    async def release(self, org_id: str, project_id: str, integration: str, owner: str) -> None:
        await self._driver.execute_query(
            """
            MATCH (l:RefreshLease {orgId: $org, projectId: $project, integration: $integration})
            WHERE l.owner = $owner
            REMOVE l.owner, l.until
            """,
            org=org_id,
            project=project_id,
            integration=integration,
            owner=owner,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
