"""Background duties done by one replica per period: supervising a webhook, reconciling an
integration with its saved state, repairing a gap.

Every replica runs the same loops; before a duty, a replica claims it for a period. The claim is a
lease row in Neo4j, taken only when free or run out, and it is not given back when the duty is done:
it stays until the period is over, so the duty runs once per period whichever replica gets there
first. A replica that dies holds its duties no longer than their period; another one then takes them.
"""

from __future__ import annotations

import neo4j


class DutyLeases:
    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def claim(self, duty: str, owner: str, seconds: float) -> bool:
        """Take ``duty`` for ``seconds`` if nobody holds it. The first SET takes the row's write lock
        before the holder is read, so of two concurrent claims the second sees the first's (see
        ``graph.projects.lock``)."""
        records, _, _ = await self._driver.execute_query(
            """
            MERGE (l:DutyLease {duty: $duty})
            SET l.lockTakenAt = datetime.transaction()
            WITH l
            WHERE l.until IS NULL OR l.until < datetime()
            SET l.owner = $owner, l.until = datetime() + duration({milliseconds: $ms})
            RETURN l.owner AS owner
            """,
            duty=duty,
            owner=owner,
            ms=max(1, int(seconds * 1000)),
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return bool(records)

    async def free(self, duty: str, owner: str) -> None:
        """Give a duty back early (its work must be done again soon, by anyone)."""
        await self._driver.execute_query(
            "MATCH (l:DutyLease {duty: $duty}) WHERE l.owner = $owner REMOVE l.owner, l.until",
            duty=duty,
            owner=owner,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
