"""Who changed what: one ``(:AuditRecord)`` per change made through the API, per project.

Records are written after the change took effect and never updated. Details are short strings
chosen by the caller (field names, flags, job ids); the store does not know what they mean, and
nothing secret is ever handed to it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import neo4j


@dataclass(frozen=True)
class AuditEntry:
    id: str
    org_id: str
    project_id: str
    integration: str
    action: str
    actor: str
    at: datetime
    details: Mapping[str, str]


def _entry(node: Any) -> AuditEntry:
    raw = json.loads(node.get("details") or "{}")
    details = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    return AuditEntry(
        id=node["id"],
        org_id=node["orgId"],
        project_id=node["projectId"],
        integration=node.get("integration") or "",
        action=node["action"],
        actor=node["actor"],
        at=node["at"].to_native(),
        details=details,
    )


class AuditLog:
    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def record(
        self, org_id: str, project_id: str, integration: str, action: str, actor: str, details: Mapping[str, str]
    ) -> AuditEntry:
        records, _, _ = await self._driver.execute_query(
            """
            CREATE (a:AuditRecord {id: $id, orgId: $org, projectId: $project, integration: $integration,
                                   action: $action, actor: $actor, at: datetime(), details: $details})
            RETURN a
            """,
            id=str(uuid.uuid4()),
            org=org_id,
            project=project_id,
            integration=integration,
            action=action,
            actor=actor,
            details=json.dumps(dict(details), sort_keys=True),
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return _entry(records[0]["a"])

    async def list_records(
        self, org_id: str, project_id: str, integration: str | None, offset: int, limit: int
    ) -> list[AuditEntry]:
        """Newest first; ``integration`` None: every integration's."""
        records, _, _ = await self._driver.execute_query(
            """
            MATCH (a:AuditRecord {orgId: $org, projectId: $project})
            WHERE $integration IS NULL OR a.integration = $integration
            RETURN a ORDER BY a.at DESC, a.id SKIP $offset LIMIT $limit
            """,
            org=org_id,
            project=project_id,
            integration=integration,
            offset=offset,
            limit=limit,
            database_=self._database,
            routing_=neo4j.RoutingControl.READ,
        )
        return [_entry(record["a"]) for record in records]
