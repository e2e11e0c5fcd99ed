"""The per-project integration state: one ``(:Integration)`` node per (orgId, projectId, name).

Settings arrive here already encrypted; this module stores opaque ciphertext and never sees
a secret. Writes are compare-and-set on a ``version`` counter so two concurrent updates of
the same integration cannot silently overwrite each other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import neo4j

from graph.connection import to_datetime
from graph.projects import CLAIM, ProjectOfAnotherOrg


@dataclass(frozen=True)
class IntegrationKey:
    org_id: str
    project_id: str
    name: str


@dataclass(frozen=True)
class FieldMappingRow:
    """How one custom field of the third party is stored as a property (see the plugins' field map)."""

    field_id: str
    property: str = ""  # empty: the default name
    type: str = "NATURAL"
    skip: bool = False


def _field_mappings(raw: Any) -> tuple[FieldMappingRow, ...]:
    rows = json.loads(raw) if isinstance(raw, str) and raw else []
    return tuple(
        FieldMappingRow(
            str(r["fieldId"]), str(r.get("property", "")), str(r.get("type", "NATURAL")), bool(r.get("skip"))
        )
        for r in rows
        if isinstance(r, dict) and "fieldId" in r
    )


@dataclass(frozen=True)
class IntegrationRecord:
    key: IntegrationKey
    enabled: bool = False
    settings_ciphertext: str | None = None
    settings_key_id: str | None = None
    connection_status: str = "UNKNOWN"
    last_error: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_tested_at: datetime | None = None
    last_request_id: str = ""
    version: int = 0
    # Not secret, so beside the sealed settings, not in them: a settings update keeps it.
    field_mappings: tuple[FieldMappingRow, ...] = ()

    @property
    def configured(self) -> bool:
        return self.settings_ciphertext is not None

    def __repr__(self) -> str:  # the ciphertext is not secret, but it is noise in logs
        return (
            f"IntegrationRecord(key={self.key!r}, enabled={self.enabled}, "
            f"configured={self.configured}, version={self.version})"
        )

    def with_changes(self, **changes: Any) -> IntegrationRecord:
        return replace(self, **changes)


class ConcurrentUpdateError(RuntimeError):
    """The record changed between read and write; re-read and try again."""


def _record(node: Any) -> IntegrationRecord:
    return IntegrationRecord(
        key=IntegrationKey(node["orgId"], node["projectId"], node["name"]),
        enabled=bool(node.get("enabled", False)),
        settings_ciphertext=node.get("settingsCiphertext"),
        settings_key_id=node.get("settingsKeyId"),
        connection_status=node.get("connectionStatus", "UNKNOWN"),
        last_error=node.get("lastError", ""),
        created_at=to_datetime(node.get("createdAt")),
        updated_at=to_datetime(node.get("updatedAt")),
        last_tested_at=to_datetime(node.get("lastTestedAt")),
        last_request_id=node.get("lastRequestId", ""),
        version=int(node.get("version", 0)),
        field_mappings=_field_mappings(node.get("fieldMappings")),
    )


class IntegrationStore:
    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def get(self, key: IntegrationKey) -> IntegrationRecord | None:
        # From a follower: ``save`` compares the version on the leader, so a read that lags costs a retry
        # (ConcurrentUpdateError), never a lost update.
        records, _, _ = await self._driver.execute_query(
            "MATCH (i:Integration {orgId: $org, projectId: $project, name: $name}) RETURN i",
            org=key.org_id,
            project=key.project_id,
            name=key.name,
            database_=self._database,
            routing_=neo4j.RoutingControl.READ,
        )
        return _record(records[0]["i"]) if records else None

    async def list_for_project(self, org_id: str, project_id: str) -> list[IntegrationRecord]:
        records, _, _ = await self._driver.execute_query(
            "MATCH (i:Integration {orgId: $org, projectId: $project}) RETURN i ORDER BY i.name",
            org=org_id,
            project=project_id,
            database_=self._database,
            routing_=neo4j.RoutingControl.READ,
        )
        return [_record(r["i"]) for r in records]

    async def enabled_keys(self) -> list[IntegrationKey]:
        """Every enabled integration of every project (the live-sync supervisor's reconcile pass)."""
        records, _, _ = await self._driver.execute_query(
            "MATCH (i:Integration) WHERE i.enabled RETURN i.orgId AS org, i.projectId AS project, i.name AS name "
            "ORDER BY org, project, name",
            database_=self._database,
            routing_=neo4j.RoutingControl.READ,
        )
        return [IntegrationKey(r["org"], r["project"], r["name"]) for r in records]

    async def save(self, record: IntegrationRecord) -> IntegrationRecord:
        """Write ``record`` if the stored version still equals ``record.version`` and its project is
        this org's (claimed in the same transaction when nobody has claimed it yet)."""
        now = datetime.now(UTC)
        props = {
            "enabled": record.enabled,
            "settingsCiphertext": record.settings_ciphertext,
            "settingsKeyId": record.settings_key_id,
            "connectionStatus": record.connection_status,
            "lastError": record.last_error,
            "lastTestedAt": record.last_tested_at,
            "lastRequestId": record.last_request_id,
            "fieldMappings": json.dumps(
                [
                    {"fieldId": r.field_id, "property": r.property, "type": r.type, "skip": r.skip}
                    for r in record.field_mappings
                ]
            ),
        }
        records, _, _ = await self._driver.execute_query(
            CLAIM
            + """
            WITH owner, owner.orgId = $org AS owned
            OPTIONAL CALL (owned) {
                WITH owned WHERE owned
                MERGE (i:Integration {orgId: $org, projectId: $project, name: $name})
                ON CREATE SET i.version = 0, i.createdAt = $now
                WITH i
                WHERE i.version = $expected
                SET i += $props, i.version = i.version + 1, i.updatedAt = $now
                RETURN i
            }
            RETURN owned, i
            """,
            org=record.key.org_id,
            project=record.key.project_id,
            name=record.key.name,
            expected=record.version,
            props=props,
            now=now,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        if not records[0]["owned"]:
            raise ProjectOfAnotherOrg(record.key.project_id)
        if records[0]["i"] is None:
            raise ConcurrentUpdateError(f"integration {record.key.name} changed concurrently")
        return _record(records[0]["i"])
