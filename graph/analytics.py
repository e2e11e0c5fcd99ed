"""Per-day figures of one integration in one project, read from the records the service already
keeps: import jobs (what each wrote, its calls and waits) and the webhook inbox (received, applied,
failed, and how long an event took from the server to the graph).

Days are UTC. Imports count on the day they were created; events on the day they were received.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import neo4j


@dataclass(frozen=True)
class DayFigures:
    day: date
    imports: int = 0
    imports_failed: int = 0
    objects_written: int = 0
    api_calls: int = 0
    rate_limit_waits: int = 0
    events_received: int = 0
    events_applied: int = 0
    events_failed: int = 0
    latency_p50_seconds: float = 0.0
    latency_p95_seconds: float = 0.0


def _written(counters: Any) -> int:
    """A job's counters are kinds written (and removed, swept): the objects it wrote are the sum."""
    try:
        values = json.loads(counters or "{}")
    except ValueError:
        return 0
    return sum(int(v) for v in values.values() if isinstance(v, int | float)) if isinstance(values, dict) else 0


class AnalyticsStore:
    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def _read(self, query: str, **params: Any) -> list[neo4j.Record]:
        """Maybe on a follower: figures a moment behind are still the day's figures."""
        records, _, _ = await self._driver.execute_query(
            query, params, database_=self._database, routing_=neo4j.RoutingControl.READ
        )
        return records

    async def days(
        self, org_id: str, project_id: str, integration: str, start: datetime, end: datetime
    ) -> list[DayFigures]:
        """Every UTC day from ``start`` (inclusive) to ``end`` (exclusive), days without activity too."""
        figures: dict[date, DayFigures] = {}
        day = start.astimezone(UTC).date()
        while datetime(day.year, day.month, day.day, tzinfo=UTC) < end:
            figures[day] = DayFigures(day)
            day = date.fromordinal(day.toordinal() + 1)
        jobs = await self._read(
            """
            MATCH (j:ImportJob {orgId: $org, projectId: $project})
            WHERE j.integration = $name AND j.createdAt >= $start AND j.createdAt < $end
              AND coalesce(j.kind, 'IMPORT') = 'IMPORT'  // a field re-map is not a sync
            RETURN date(j.createdAt) AS day, j.state AS state, j.counters AS counters,
                   coalesce(j.apiCalls, 0) AS calls, coalesce(j.rateLimitWaits, 0) AS waits
            """,
            org=org_id,
            project=project_id,
            name=integration,
            start=start,
            end=end,
        )
        for job in jobs:
            key = job["day"].to_native()
            if key not in figures:
                continue
            old = figures[key]
            figures[key] = replace(
                old,
                imports=old.imports + 1,
                imports_failed=old.imports_failed + (job["state"] == "FAILED"),
                objects_written=old.objects_written + _written(job["counters"]),
                api_calls=old.api_calls + int(job["calls"]),
                rate_limit_waits=old.rate_limit_waits + int(job["waits"]),
            )
        events = await self._read(
            """
            MATCH (e:WebhookEvent {orgId: $org, projectId: $project})
            WHERE e.receivedAt >= $start AND e.receivedAt < $end AND e.integration = $name
            WITH date(e.receivedAt) AS day, e,
                 CASE WHEN e.appliedAt IS NOT NULL
                      THEN (e.appliedAt.epochMillis - e.receivedAt.epochMillis) / 1000.0 END AS latency
            RETURN day, count(e) AS received,
                   count(CASE WHEN e.state = 'APPLIED' THEN 1 END) AS applied,
                   count(CASE WHEN e.state IN ['FAILED', 'DEAD_LETTERED'] THEN 1 END) AS failed,
                   percentileCont(latency, 0.5) AS p50, percentileCont(latency, 0.95) AS p95
            """,
            org=org_id,
            project=project_id,
            name=integration,
            start=start,
            end=end,
        )
        for row in events:
            key = row["day"].to_native()
            if key not in figures:
                continue
            figures[key] = replace(
                figures[key],
                events_received=int(row["received"]),
                events_applied=int(row["applied"]),
                events_failed=int(row["failed"]),
                latency_p50_seconds=float(row["p50"] or 0.0),
                latency_p95_seconds=float(row["p95"] or 0.0),
            )
        return [figures[key] for key in sorted(figures)]
