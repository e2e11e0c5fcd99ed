"""Versioned, idempotent schema migrations, recorded in the graph.

Each migration is a numbered list of schema statements written with ``IF NOT EXISTS``.
Applied versions are stored as ``(:SchemaMigration {scope, version, name, checksum})``;
editing an applied migration is refused (checksum mismatch). Two processes starting at
once serialise on a lease held on ``(:SchemaLock)``: schema commands cannot share a
transaction with data writes, so a lease (with expiry, in case a holder dies) is the lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import neo4j

logger = logging.getLogger(__name__)

DEFAULT_SCOPE = "integration-hub"
LEASE_SECONDS = 60


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]

    @property
    def checksum(self) -> str:
        return hashlib.sha256("\n".join(self.statements).encode()).hexdigest()


class MigrationError(RuntimeError):
    """The schema cannot be brought to the expected version; the message says why."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "integration store",
        (
            "CREATE CONSTRAINT integration_key IF NOT EXISTS FOR (i:Integration) "
            "REQUIRE (i.orgId, i.projectId, i.name) IS UNIQUE",
            "CREATE INDEX integration_key_id IF NOT EXISTS FOR (i:Integration) ON (i.settingsKeyId)",
        ),
    ),
    Migration(
        2,
        "source graph keys (projectId, source, externalId), tombstones and import jobs",
        (
            "CREATE CONSTRAINT workspace_key IF NOT EXISTS FOR (n:Workspace) "
            "REQUIRE (n.projectId, n.source, n.externalId) IS UNIQUE",
            "CREATE CONSTRAINT space_key IF NOT EXISTS FOR (n:Space) "
            "REQUIRE (n.projectId, n.source, n.externalId) IS UNIQUE",
            "CREATE CONSTRAINT folder_key IF NOT EXISTS FOR (n:Folder) "
            "REQUIRE (n.projectId, n.source, n.externalId) IS UNIQUE",
            "CREATE CONSTRAINT list_key IF NOT EXISTS FOR (n:List) "
            "REQUIRE (n.projectId, n.source, n.externalId) IS UNIQUE",
            "CREATE CONSTRAINT task_key IF NOT EXISTS FOR (n:Task) "
            "REQUIRE (n.projectId, n.source, n.externalId) IS UNIQUE",
            "CREATE CONSTRAINT person_key IF NOT EXISTS FOR (n:Person) "
            "REQUIRE (n.projectId, n.source, n.externalId) IS UNIQUE",
            "CREATE CONSTRAINT tag_key IF NOT EXISTS FOR (n:Tag) "
            "REQUIRE (n.projectId, n.source, n.externalId) IS UNIQUE",
            "CREATE CONSTRAINT comment_key IF NOT EXISTS FOR (n:Comment) "
            "REQUIRE (n.projectId, n.source, n.externalId) IS UNIQUE",
            "CREATE CONSTRAINT tombstone_key IF NOT EXISTS FOR (n:Tombstone) "
            "REQUIRE (n.projectId, n.source, n.kind, n.externalId) IS UNIQUE",
            "CREATE CONSTRAINT import_job_id IF NOT EXISTS FOR (j:ImportJob) REQUIRE j.id IS UNIQUE",
            "CREATE CONSTRAINT active_import_key IF NOT EXISTS FOR (a:ActiveImport) "
            "REQUIRE (a.orgId, a.projectId, a.integration) IS UNIQUE",
            "CREATE CONSTRAINT project_write_lock IF NOT EXISTS FOR (l:ProjectWriteLock) REQUIRE l.projectId IS UNIQUE",
            "CREATE INDEX import_job_scope IF NOT EXISTS FOR (j:ImportJob) ON (j.orgId, j.projectId)",
            "CREATE INDEX import_page_job IF NOT EXISTS FOR (p:ImportPage) ON (p.jobId)",
            "CREATE INDEX task_workspace IF NOT EXISTS FOR (n:Task) ON (n.projectId, n.workspaceId)",
        ),
    ),
    Migration(
        3,
        "webhook inbox and registrations",
        (
            "CREATE CONSTRAINT webhook_event_dedupe IF NOT EXISTS FOR (e:WebhookEvent) REQUIRE e.dedupeKey IS UNIQUE",
            "CREATE CONSTRAINT webhook_event_id IF NOT EXISTS FOR (e:WebhookEvent) REQUIRE e.id IS UNIQUE",
            "CREATE INDEX webhook_event_state IF NOT EXISTS FOR (e:WebhookEvent) ON (e.state, e.receivedAt)",
            "CREATE CONSTRAINT webhook_registration_key IF NOT EXISTS FOR (w:WebhookRegistration) "
            "REQUIRE (w.integration, w.webhookId) IS UNIQUE",
        ),
    ),
    Migration(
        4,
        "webhook events by project (listing and replay without scanning the whole inbox)",
        (
            "CREATE INDEX webhook_event_project IF NOT EXISTS FOR (e:WebhookEvent) "
            "ON (e.orgId, e.projectId, e.receivedAt)",
        ),
    ),
    Migration(
        5,
        "a project id belongs to one org",
        ("CREATE CONSTRAINT project_owner_key IF NOT EXISTS FOR (o:ProjectOwner) REQUIRE o.projectId IS UNIQUE",),
    ),
    Migration(
        6,
        "import request ids and per-workspace watermarks",
        (
            "CREATE CONSTRAINT import_request_key IF NOT EXISTS FOR (r:ImportRequest) "
            "REQUIRE (r.orgId, r.projectId, r.requestId) IS UNIQUE",
            "CREATE CONSTRAINT sync_watermark_key IF NOT EXISTS FOR (w:SyncWatermark) "
            "REQUIRE (w.orgId, w.projectId, w.integration, w.workspaceId) IS UNIQUE",
        ),
    ),
    Migration(
        7,
        "sign-in states (single use, by hash) and credential refresh leases",
        (
            "CREATE CONSTRAINT authorization_state_key IF NOT EXISTS FOR (s:AuthorizationState) "
            "REQUIRE s.stateHash IS UNIQUE",
            "CREATE INDEX authorization_state_expiry IF NOT EXISTS FOR (s:AuthorizationState) ON (s.expiresAt)",
            "CREATE CONSTRAINT refresh_lease_key IF NOT EXISTS FOR (l:RefreshLease) "
            "REQUIRE (l.orgId, l.projectId, l.integration) IS UNIQUE",
        ),
    ),
    Migration(
        8,
        "background duties leased to one replica per period",
        ("CREATE CONSTRAINT duty_lease_key IF NOT EXISTS FOR (l:DutyLease) REQUIRE l.duty IS UNIQUE",),
    ),
    Migration(
        9,
        "providers' request budgets shared by the replicas using one token",
        ("CREATE CONSTRAINT rate_budget_key IF NOT EXISTS FOR (b:RateBudget) REQUIRE b.key IS UNIQUE",),
    ),
    Migration(
        10,
        "the audit trail: who changed what, per project",
        (
            "CREATE CONSTRAINT audit_record_key IF NOT EXISTS FOR (a:AuditRecord) REQUIRE a.id IS UNIQUE",
            "CREATE INDEX audit_record_scope IF NOT EXISTS FOR (a:AuditRecord) ON (a.orgId, a.projectId, a.at)",
        ),
    ),
    Migration(
        11,
        "data deletions: records, and one running per integration",
        (
            "CREATE CONSTRAINT data_deletion_key IF NOT EXISTS FOR (d:DataDeletion) REQUIRE d.id IS UNIQUE",
            "CREATE CONSTRAINT data_deletion_active IF NOT EXISTS FOR (d:DataDeletion) REQUIRE d.activeKey IS UNIQUE",
        ),
    ),
    Migration(
        12,
        "webhook secrets accepted during a regeneration's grace period, and webhooks being retired",
        (
            "CREATE INDEX webhook_previous_secret_key IF NOT EXISTS FOR (p:WebhookPreviousSecret) "
            "ON (p.integration, p.webhookId)",
            "CREATE INDEX webhook_previous_secret_until IF NOT EXISTS FOR (p:WebhookPreviousSecret) ON (p.until)",
            "CREATE CONSTRAINT webhook_retirement_key IF NOT EXISTS FOR (r:WebhookRetirement) "
            "REQUIRE (r.integration, r.webhookId) IS UNIQUE",
        ),
    ),
)

_BOOTSTRAP = (
    "CREATE CONSTRAINT schema_migration_key IF NOT EXISTS FOR (m:SchemaMigration) "
    "REQUIRE (m.scope, m.version) IS UNIQUE",
    "CREATE CONSTRAINT schema_lock_key IF NOT EXISTS FOR (l:SchemaLock) REQUIRE l.scope IS UNIQUE",
)

# Concurrent "IF NOT EXISTS" from two processes can still race inside Neo4j.
_ALREADY_EXISTS = (
    "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
    "Neo.ClientError.Schema.ConstraintAlreadyExists",
    "Neo.ClientError.Schema.IndexAlreadyExists",
    "Neo.ClientError.Schema.ConstraintWithNameAlreadyExists",
    "Neo.ClientError.Schema.IndexWithNameAlreadyExists",
)


async def _run_schema(driver: neo4j.AsyncDriver, database: str, statement: str) -> None:
    for attempt in range(5):
        try:
            async with driver.session(database=database) as session:
                result = await session.run(statement)
                await result.consume()
            return
        except neo4j.exceptions.ClientError as exc:
            if exc.code in _ALREADY_EXISTS:
                return
            raise
        except neo4j.exceptions.TransientError:
            await asyncio.sleep(0.2 * (attempt + 1))
    raise MigrationError(f"schema statement kept failing: {statement}")


async def _try_lease(driver: neo4j.AsyncDriver, database: str, scope: str, owner: str) -> bool:
    records, _, _ = await driver.execute_query(
        """
        MERGE (l:SchemaLock {scope: $scope})
        WITH l
        WHERE l.owner IS NULL OR l.owner = $owner OR l.expiresAt < datetime()
        SET l.owner = $owner, l.expiresAt = datetime() + duration({seconds: $lease})
        RETURN l.owner AS owner
        """,
        scope=scope,
        owner=owner,
        lease=LEASE_SECONDS,
        database_=database,
    )
    return bool(records)


async def _release(driver: neo4j.AsyncDriver, database: str, scope: str, owner: str) -> None:
    await driver.execute_query(
        "MATCH (l:SchemaLock {scope: $scope, owner: $owner}) SET l.owner = null, l.expiresAt = null",
        scope=scope,
        owner=owner,
        database_=database,
    )


async def applied_versions(driver: neo4j.AsyncDriver, database: str, scope: str = DEFAULT_SCOPE) -> dict[int, str]:
    records, _, _ = await driver.execute_query(
        "MATCH (m:SchemaMigration {scope: $scope}) RETURN m.version AS version, m.checksum AS checksum",
        scope=scope,
        database_=database,
    )
    return {int(r["version"]): str(r["checksum"]) for r in records}


async def migrate(
    driver: neo4j.AsyncDriver,
    database: str,
    migrations: Sequence[Migration] = MIGRATIONS,
    *,
    scope: str = DEFAULT_SCOPE,
    lock_timeout: float = 120.0,
) -> list[int]:
    """Apply every pending migration in order; returns the versions this call applied."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise MigrationError(f"migration versions must be unique and increasing: {versions}")
    for statement in _BOOTSTRAP:
        await _run_schema(driver, database, statement)

    owner = uuid.uuid4().hex
    deadline = time.monotonic() + lock_timeout
    while not await _try_lease(driver, database, scope, owner):
        if time.monotonic() >= deadline:
            raise MigrationError(f"another process has held the schema lock for over {lock_timeout:.0f}s")
        await asyncio.sleep(0.2)
    try:
        done = await applied_versions(driver, database, scope)
        applied: list[int] = []
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version} ({migration.name}) was changed after it was "
                        "applied; add a new migration instead"
                    )
                continue
            for statement in migration.statements:
                await _run_schema(driver, database, statement)
            await driver.execute_query(
                "CREATE (:SchemaMigration {scope: $scope, version: $version, name: $name, "
                "checksum: $checksum, appliedAt: datetime()})",
                scope=scope,
                version=migration.version,
                name=migration.name,
                checksum=migration.checksum,
                database_=database,
            )
            logger.info("applied schema migration %s (%s)", migration.version, migration.name)
            applied.append(migration.version)
        return applied
    finally:
        await _release(driver, database, scope, owner)
