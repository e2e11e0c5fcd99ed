"""The webhook inbox: every verified delivery, stored once, before anyone answers 2xx.

Deduplication is a uniqueness constraint on ``dedupeKey`` (never check-then-insert): a
redelivered event MERGEs onto the stored one and is reported as a duplicate.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j

from graph.connection import to_datetime
from graph.projects import lock


@dataclass(frozen=True)
class EventFilter:
    """Which of a project's events a listing shows; None: any."""

    state: str | None = None
    integration: str | None = None
    received_after: datetime | None = None  # inclusive
    received_before: datetime | None = None  # exclusive
    newest_first: bool = False


@dataclass(frozen=True)
class InboxEvent:
    id: str
    integration: str
    webhook_id: str
    event: str
    object_id: str
    state: str
    attempts: int
    last_error: str
    received_at: datetime | None
    applied_at: datetime | None
    org_id: str | None
    project_id: str | None
    body: str = ""  # the delivery's exact text, for the plugin that applies it


def _event(node: Any) -> InboxEvent:
    return InboxEvent(
        id=node["id"],
        integration=node["integration"],
        webhook_id=node["webhookId"],
        event=node["event"],
        object_id=node.get("objectId", ""),
        state=node["state"],
        attempts=int(node.get("attempts", 0)),
        last_error=node.get("lastError", ""),
        received_at=to_datetime(node.get("receivedAt")),
        applied_at=to_datetime(node.get("appliedAt")),
        org_id=node.get("orgId"),
        project_id=node.get("projectId"),
        body=node.get("body") or "",
    )


@dataclass(frozen=True)
class DeadLetter:
    id: str
    integration: str
    body: str
    headers: dict[str, str]
    received_ms: int


def _headers(stored: Any) -> dict[str, str]:
    """The headers kept with a delivery (a JSON object of strings); anything else reads as none."""
    try:
        value = json.loads(stored) if isinstance(stored, str) else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


# Which events a replay means: the ids given, or else those received in [start, end).
_SELECTED = """e.receivedAt IS NOT NULL
              AND ((size($ids) > 0 AND e.id IN $ids)
                   OR (size($ids) = 0 AND ($start IS NULL OR e.receivedAt >= $start)
                       AND ($end IS NULL OR e.receivedAt < $end)))"""


class WebhookInbox:
    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def store_many(self, rows: list[dict[str, Any]]) -> list[tuple[str, bool]]:
        """Store deliveries in one transaction (group commit); per row (event id, duplicate).

        Rows carry integration, webhook_id, event, object_id, dedupe_key, body, headers,
        received_at, org_id, project_id, reapply_duplicate, state (PENDING, or DEAD_LETTERED for one
        that cannot be applied as it is) and last_error. Two rows with one key in a batch store one
        event: the second is its duplicate.
        """
        params = [{**row, "new_id": uuid.uuid4().hex} for row in rows]
        records, _, _ = await self._driver.execute_query(
            """
            UNWIND $rows AS row
            MERGE (e:WebhookEvent {dedupeKey: row.dedupe_key})
            ON CREATE SET e.id = row.new_id, e.integration = row.integration, e.webhookId = row.webhook_id,
                          e.event = row.event, e.objectId = row.object_id, e.body = row.body, e.headers = row.headers,
                          e.receivedAt = row.received_at, e.storedAt = datetime(), e.attempts = 0,
                          e.lastError = coalesce(row.last_error, ''), e.orgId = row.org_id,
                          e.projectId = row.project_id, e.state = coalesce(row.state, 'PENDING')
            ON MATCH SET e.deliveries = coalesce(e.deliveries, 1) + 1,
                         e.state = CASE WHEN coalesce(row.reapply_duplicate, false) AND e.state = 'APPLIED'
                                        THEN 'PENDING' ELSE e.state END
            RETURN row.new_id AS requested, e.id AS id
            """,
            rows=params,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return [(str(r["id"]), r["id"] != r["requested"]) for r in records]

    async def list_events(
        self, org_id: str, project_id: str, where: EventFilter, offset: int, limit: int
    ) -> list[InboxEvent]:
        order = "DESC" if where.newest_first else ""
        records, _, _ = await self._driver.execute_query(
            f"""
            MATCH (e:WebhookEvent {{orgId: $org, projectId: $project}})
            WHERE e.receivedAt IS NOT NULL AND ($state IS NULL OR e.state = $state)
              AND ($integration IS NULL OR e.integration = $integration)
              AND ($after IS NULL OR e.receivedAt >= $after) AND ($before IS NULL OR e.receivedAt < $before)
            RETURN e ORDER BY e.receivedAt {order}, e.id {order} SKIP $offset LIMIT $limit
            """,
            org=org_id,
            project=project_id,
            state=where.state,
            integration=where.integration,
            after=where.received_after,
            before=where.received_before,
            offset=offset,
            limit=limit,
            database_=self._database,
            routing_=neo4j.RoutingControl.READ,
        )
        return [_event(r["e"]) for r in records]

    async def claim(self, owner: str, limit: int, lease_seconds: int = 60) -> list[InboxEvent]:
        """Pending events, oldest first, leased to ``owner``; a project importing right now is skipped.

        Holding them until the import ends (and then going through the monotonic guard) is what
        makes import and live sync safe together: no gap, no double apply, nothing older wins.
        The index hint matters: left to itself the planner scanned every event ever received
        (the OR on nextAttemptAt), which cost 50-130 ms per claim with 90k events in the inbox.
        Each chosen event's write lock is taken before its lease is read again: two replicas
        claiming at once both chose the same free events, and the second overwrote the first's
        lease after it committed, so both applied them (see ``graph.projects.lock``).
        """
        records, _, _ = await self._driver.execute_query(
            f"""
            MATCH (e:WebhookEvent)
            USING INDEX e:WebhookEvent(state, receivedAt)
            WHERE e.state = 'PENDING' AND e.receivedAt IS NOT NULL
            WITH e
            WHERE (e.nextAttemptAt IS NULL OR e.nextAttemptAt <= datetime())
              AND (e.leaseUntil IS NULL OR e.leaseUntil < datetime())
              AND NOT EXISTS {{ MATCH (:ActiveImport {{orgId: e.orgId, projectId: e.projectId}}) }}
            WITH e ORDER BY e.receivedAt, e.storedAt LIMIT $limit
            {lock("e")}
            WITH e WHERE e.state = 'PENDING' AND (e.leaseUntil IS NULL OR e.leaseUntil < datetime())
            SET e.leaseOwner = $owner, e.leaseUntil = datetime() + duration({{seconds: $lease}})
            RETURN e
            """,
            owner=owner,
            limit=limit,
            lease=lease_seconds,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return [_event(r["e"]) for r in records]

    async def renew(self, event_ids: list[str], owner: str, lease_seconds: int) -> set[str]:
        """Extend ``owner``'s lease of claimed events that are still its own; returns those ids. A
        worker renews what is left of its batch as it goes, so none of it runs out (and is claimed
        by another replica) while the events before it are applied."""
        records, _, _ = await self._driver.execute_query(
            """
            UNWIND $ids AS id
            MATCH (e:WebhookEvent {id: id})
            WHERE e.leaseOwner = $owner AND e.state = 'PENDING' AND e.leaseUntil >= datetime()
            SET e.leaseUntil = datetime() + duration({seconds: $lease})
            RETURN e.id AS id
            """,
            ids=event_ids,
            owner=owner,
            lease=lease_seconds,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return {str(r["id"]) for r in records}

    async def applied(self, event_id: str, outcome: str) -> None:
        await self._driver.execute_query(
            "MATCH (e:WebhookEvent {id: $id}) SET e.state = 'APPLIED', e.appliedAt = datetime(), e.outcome = $outcome, "
            "e.attempts = e.attempts + 1, e.leaseUntil = null, e.lastError = ''",
            id=event_id,
            outcome=outcome,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def failed_attempt(self, event_id: str, error: str, max_attempts: int) -> str:
        """Count a failed attempt; retry later with backoff, or FAILED after ``max_attempts``."""
        records, _, _ = await self._driver.execute_query(
            """
            MATCH (e:WebhookEvent {id: $id})
            SET e.attempts = e.attempts + 1, e.lastError = $error, e.leaseUntil = null,
                e.state = CASE WHEN e.attempts + 1 >= $max THEN 'FAILED' ELSE 'PENDING' END,
                e.nextAttemptAt = datetime() + duration({seconds: 2 ^ (e.attempts + 1)})
            RETURN e.state AS state
            """,
            id=event_id,
            error=error[:2000],
            max=max_attempts,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return str(records[0]["state"]) if records else "UNKNOWN"

    async def hold(self, event_id: str, reason: str) -> None:
        """Keep an event without applying it or counting an attempt (its integration is paused)."""
        await self._driver.execute_query(
            "MATCH (e:WebhookEvent {id: $id}) SET e.state = 'HELD', e.lastError = $reason, e.leaseUntil = null",
            id=event_id,
            reason=reason[:2000],
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def release_held(self, org_id: str, project_id: str, integration: str) -> int:
        """Queue the held events of a paused integration again, in their order; returns how many."""
        records, _, _ = await self._driver.execute_query(
            """
            MATCH (e:WebhookEvent {orgId: $org, projectId: $project})
            WHERE e.integration = $integration AND e.state = 'HELD'
            SET e.state = 'PENDING', e.nextAttemptAt = null, e.leaseUntil = null, e.lastError = ''
            RETURN count(e) AS n
            """,
            org=org_id,
            project=project_id,
            integration=integration,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return int(records[0]["n"]) if records else 0

    async def replay(
        self, org_id: str, project_id: str, event_ids: list[str], start: datetime | None, end: datetime | None
    ) -> int:
        """Queue events again (FAILED ones above all); a re-fetch makes re-applying harmless. Dead
        letters are not touched here: they are read again first (``dead_letters``, ``revive``)."""
        records, _, _ = await self._driver.execute_query(
            f"""
            MATCH (e:WebhookEvent {{orgId: $org, projectId: $project}})
            WHERE {_SELECTED} AND e.state <> 'DEAD_LETTERED'
            SET e.state = 'PENDING', e.nextAttemptAt = null, e.leaseUntil = null, e.replayedAt = datetime()
            RETURN count(e) AS n
            """,
            org=org_id,
            project=project_id,
            ids=event_ids,
            start=start,
            end=end,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return int(records[0]["n"])

    async def dead_letters(
        self, org_id: str, project_id: str, event_ids: list[str], start: datetime | None, end: datetime | None
    ) -> list[DeadLetter]:
        """The dead letters a replay selects, with the body to read again (from a follower, maybe a moment
        behind: ``revive`` and ``keep_dead`` act only on an event the leader still holds as dead)."""
        records, _, _ = await self._driver.execute_query(
            f"""
            MATCH (e:WebhookEvent {{orgId: $org, projectId: $project}})
            WHERE {_SELECTED} AND e.state = 'DEAD_LETTERED'
            RETURN e.id AS id, e.integration AS integration, e.body AS body, e.headers AS headers,
                   e.receivedAt.epochMillis AS received
            ORDER BY e.receivedAt, e.id
            """,
            org=org_id,
            project=project_id,
            ids=event_ids,
            start=start,
            end=end,
            database_=self._database,
            routing_=neo4j.RoutingControl.READ,
        )
        return [
            DeadLetter(
                str(r["id"]),
                str(r["integration"] or ""),
                str(r["body"] or ""),
                _headers(r["headers"]),
                int(r["received"] or 0),
            )
            for r in records
        ]

    async def revive(self, event_id: str, event: str, object_id: str) -> None:
        """A dead letter that now reads cleanly: queued with what it says."""
        await self._driver.execute_query(
            """
            MATCH (e:WebhookEvent {id: $id, state: 'DEAD_LETTERED'})
            SET e.state = 'PENDING', e.event = $event, e.objectId = $object, e.lastError = '',
                e.nextAttemptAt = null, e.leaseUntil = null, e.replayedAt = datetime()
            """,
            id=event_id,
            event=event,
            object=object_id,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def keep_dead(self, event_id: str, error: str) -> None:
        await self._driver.execute_query(
            "MATCH (e:WebhookEvent {id: $id, state: 'DEAD_LETTERED'}) "
            "SET e.lastError = $error, e.replayedAt = datetime()",
            id=event_id,
            error=error[:2000],
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def depth_by_state(self) -> dict[str, int]:
        """Events per state without reading every event: the states that wait are counted through
        the state index, APPLIED (which only grows) is the label's stored count minus those."""
        records, _, _ = await self._driver.execute_query(
            """
            CALL {
              UNWIND ['PENDING', 'HELD', 'FAILED', 'DEAD_LETTERED'] AS state
              CALL (state) {
                MATCH (e:WebhookEvent) WHERE e.state = state AND e.receivedAt IS NOT NULL RETURN count(e) AS n
              }
              RETURN collect([state, n]) AS waiting
            }
            CALL { MATCH (e:WebhookEvent) RETURN count(e) AS total }
            RETURN waiting, total
            """,
            database_=self._database,
            routing_=neo4j.RoutingControl.READ,
        )
        waiting = {str(state): int(n) for state, n in records[0]["waiting"]}
        return {**waiting, "APPLIED": int(records[0]["total"]) - sum(waiting.values())}


@dataclass(frozen=True)
class WebhookRegistration:
    integration: str
    webhook_id: str
    org_id: str
    project_id: str
    workspace_id: str
    secret_ciphertext: str


@dataclass(frozen=True)
class WebhookHealth:
    """A registered webhook of a project as last checked: the third party's status and fail count."""

    webhook_id: str
    workspace_id: str
    status: str
    fail_count: int
    checked_at: datetime | None


class WebhookRegistry:
    """Which project a third-party webhook belongs to, and its signing secret (sealed)."""

    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def save(self, registration: WebhookRegistration) -> None:
        await self._driver.execute_query(
            """
            MERGE (w:WebhookRegistration {integration: $integration, webhookId: $webhook})
            SET w.orgId = $org, w.projectId = $project, w.workspaceId = $workspace, w.secretCiphertext = $secret,
                w.updatedAt = datetime()
            """,
            integration=registration.integration,
            webhook=registration.webhook_id,
            org=registration.org_id,
            project=registration.project_id,
            workspace=registration.workspace_id,
            secret=registration.secret_ciphertext,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def for_project(self, org_id: str, project_id: str, integration: str) -> list[WebhookHealth]:
        records, _, _ = await self._driver.execute_query(
            """
            MATCH (w:WebhookRegistration {integration: $integration, orgId: $org, projectId: $project})
            RETURN w.webhookId AS id, w.workspaceId AS workspace, coalesce(w.status, 'active') AS status,
                   coalesce(w.failCount, 0) AS fails, w.checkedAt AS checked
            ORDER BY w.workspaceId
            """,
            integration=integration,
            org=org_id,
            project=project_id,
            database_=self._database,
            routing_=neo4j.RoutingControl.READ,
        )
        return [
            WebhookHealth(
                str(r["id"]), str(r["workspace"]), str(r["status"]), int(r["fails"]), to_datetime(r["checked"])
            )
            for r in records
        ]

    async def all_registrations(self) -> list[WebhookRegistration]:
        records, _, _ = await self._driver.execute_query(
            "MATCH (w:WebhookRegistration) RETURN w", database_=self._database, routing_=neo4j.RoutingControl.READ
        )
        return [
            WebhookRegistration(
                n["integration"], n["webhookId"], n["orgId"], n["projectId"], n["workspaceId"], n["secretCiphertext"]
            )
            for n in (r["w"] for r in records)
        ]

    async def record_health(self, integration: str, webhook_id: str, status: str, fail_count: int) -> None:
        await self._driver.execute_query(
            "MATCH (w:WebhookRegistration {integration: $integration, webhookId: $webhook}) "
            "SET w.status = $status, w.failCount = $fails, w.checkedAt = datetime()",
            integration=integration,
            webhook=webhook_id,
            status=status,
            fails=fail_count,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def remove(self, integration: str, webhook_id: str) -> None:
        await self._driver.execute_query(
            "MATCH (w:WebhookRegistration {integration: $integration, webhookId: $webhook}) DELETE w",
            integration=integration,
            webhook=webhook_id,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def get(self, integration: str, webhook_id: str) -> WebhookRegistration | None:
        # On the leader: a delivery is routed (and the gateway gets the signing secret) by this lookup, often
        # just after another replica registered the webhook; a follower's "not registered" refuses it.
        records, _, _ = await self._driver.execute_query(
            "MATCH (w:WebhookRegistration {integration: $integration, webhookId: $webhook}) RETURN w",
            integration=integration,
            webhook=webhook_id,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        if not records:
            return None
        node = records[0]["w"]
        return WebhookRegistration(
            integration, webhook_id, node["orgId"], node["projectId"], node["workspaceId"], node["secretCiphertext"]
        )
