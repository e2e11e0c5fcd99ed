"""Import jobs in Neo4j: state, progress, checkpoints, leases, and the ids each page saw.

One active import per integration is a uniqueness constraint on ``(:ActiveImport)``, never a
check-then-insert. A job is owned through a lease that its runner renews; a job whose lease
ran out (its server died) is claimed by the next runner and resumed from its checkpoint. The
ids each committed page saw are kept as ``(:ImportPage)`` rows so a resumed run still knows,
at the end, what exists and what must be swept.

A ``request_id`` (AIP-155) is bound to the job it was answered with by an ``(:ImportRequest)`` row
under a uniqueness constraint, so a retried start returns that job even after it ended. Watermarks
are one ``(:SyncWatermark)`` row per workspace, only ever moved forward (a per-workspace maximum
taken in Cypher), so neither a resumed import nor a gap repair can move one back or drop it.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import neo4j

from graph.connection import to_datetime

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})


# What a job does (its ``kind``): an import from the third party, or a re-map of what is imported.
IMPORT = "IMPORT"
FIELD_REMAP = "FIELD_REMAP"
# How an import reads (its ``mode``): everything and a sweep, or what changed since the watermarks.
FULL = "FULL"
INCREMENTAL = "INCREMENTAL"


@dataclass(frozen=True)
class ImportJobRecord:
    id: str
    org_id: str
    project_id: str
    integration: str
    state: str
    counters: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0
    rate_limit_waits: int = 0
    pages: int = 0
    phase: str = ""
    error: str = ""
    checkpoint: dict[str, Any] = field(default_factory=dict)
    cancel_requested: bool = False
    request_id: str = ""
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    kind: str = IMPORT  # IMPORT, or FIELD_REMAP: the nodes already written mapped anew
    mode: str = FULL  # of an import: FULL or INCREMENTAL

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


def _job(node: Any) -> ImportJobRecord:
    return ImportJobRecord(
        id=node["id"],
        org_id=node["orgId"],
        project_id=node["projectId"],
        integration=node["integration"],
        state=node["state"],
        counters=json.loads(node.get("counters") or "{}"),
        api_calls=int(node.get("apiCalls", 0)),
        rate_limit_waits=int(node.get("rateLimitWaits", 0)),
        pages=int(node.get("pages", 0)),
        phase=node.get("phase", ""),
        error=node.get("error", ""),
        checkpoint=json.loads(node.get("checkpoint") or "{}"),
        cancel_requested=bool(node.get("cancelRequested")),
        request_id=node.get("requestId") or "",
        created_at=to_datetime(node.get("createdAt")),
        started_at=to_datetime(node.get("startedAt")),
        finished_at=to_datetime(node.get("finishedAt")),
        kind=node.get("kind") or IMPORT,
        mode=node.get("mode") or FULL,
    )


@dataclass(frozen=True)
class Progress:
    counters: dict[str, int]
    api_calls: int
    rate_limit_waits: int
    pages: int
    phase: str
    checkpoint: dict[str, Any]


@dataclass(frozen=True)
class SyncState:
    """What the imports of one integration left behind: when, how much, and how far each
    workspace's changes have been read (the watermarks gap repair starts from)."""

    last_full_import_at: datetime | None
    last_import_started_at: datetime | None
    last_import_job_id: str
    imported_workspaces: tuple[str, ...] | None  # None: recorded before imports said which
    watermarks: dict[str, datetime]
    totals: dict[str, int]
    last_error: str


class LeaseLost(RuntimeError):
    """Another runner owns the job now (ours expired): stop working on it."""


class RequestIdReused(ValueError):
    """A ``request_id`` already answered a start of another integration's import."""

    def __init__(self, request_id: str, integration: str) -> None:
        super().__init__(
            f"{request_id!r} was already used to start an import of {integration!r}; send a new request_id"
        )
        self.integration = integration


_CREATE_ATTEMPTS = 5


class ImportJobStore:
    def __init__(self, driver: neo4j.AsyncDriver, database: str, lease_seconds: float = 30.0) -> None:
        self._driver = driver
        self._database = database
        self.lease_seconds = lease_seconds

    async def _write(self, query: str, **params: Any) -> list[neo4j.Record]:
        """On the leader: writes, and the reads that a start, a lease or a sweep decides on."""
        records, _, _ = await self._driver.execute_query(
            query, params, database_=self._database, routing_=neo4j.RoutingControl.WRITE
        )
        return records

    async def _read(self, query: str, **params: Any) -> list[neo4j.Record]:
        """Maybe on a follower: causally after this process's own writes (the driver's bookmarks),
        but possibly behind another replica's latest."""
        records, _, _ = await self._driver.execute_query(
            query, params, database_=self._database, routing_=neo4j.RoutingControl.READ
        )
        return records

    async def create(
        self,
        org_id: str,
        project_id: str,
        integration: str,
        request_id: str = "",
        kind: str = IMPORT,
        mode: str = FULL,
    ) -> tuple[ImportJobRecord, bool]:
        """A new QUEUED job, or the active one (created=False). Inherits a failed job's checkpoint.

        With a ``request_id`` the answer is bound to it: the same id returns the same job for good
        (even once it ended), and ``RequestIdReused`` if the id started another integration's import.
        """
        for _ in range(_CREATE_ATTEMPTS):
            if request_id:
                earlier = await self.for_request(org_id, project_id, integration, request_id)
                if earlier is not None:
                    return earlier, False
            try:
                return await self._create(org_id, project_id, integration, request_id, kind, mode), True
            except neo4j.exceptions.ConstraintError:
                pass  # an import is active, or a concurrent start with this request_id won
            active = await self.active(org_id, project_id, integration)
            if active is None:
                continue  # it finished between our attempt and this read (or the request row is new)
            if not request_id:
                return active, False
            bound = await self._bind_request(org_id, project_id, integration, request_id, active.id)
            if bound is not None:
                return bound, False
        raise RuntimeError(f"could not start or find an import of {integration} for {org_id}/{project_id}")

    async def _create(
        self, org_id: str, project_id: str, integration: str, request_id: str, kind: str, mode: str
    ) -> ImportJobRecord:
        job_id = uuid.uuid4().hex
        records = await self._write(
            """
            CREATE (a:ActiveImport {orgId: $org, projectId: $project, integration: $name, jobId: $id})
            CREATE (j:ImportJob {id: $id, orgId: $org, projectId: $project, integration: $name,
                                 state: 'QUEUED', createdAt: datetime(), counters: '{}', checkpoint: '{}',
                                 apiCalls: 0, rateLimitWaits: 0, pages: 0, phase: 'queued', error: '',
                                 requestId: $request, kind: $kind, mode: $mode})
            FOREACH (_ IN CASE WHEN $request = '' THEN [] ELSE [1] END |
                CREATE (:ImportRequest {orgId: $org, projectId: $project, requestId: $request,
                                        integration: $name, jobId: $id, createdAt: datetime()}))
            WITH j
            OPTIONAL MATCH (f:ImportJob {orgId: $org, projectId: $project, integration: $name, state: 'FAILED'})
            WHERE f.checkpoint <> '{}' AND f.resumedBy IS NULL AND coalesce(f.kind, 'IMPORT') = $kind
              AND coalesce(f.mode, 'FULL') = $mode
            WITH j, f ORDER BY f.createdAt DESC LIMIT 1
            FOREACH (_ IN CASE WHEN f IS NULL THEN [] ELSE [1] END |
                SET j.checkpoint = f.checkpoint, j.resumedFrom = f.id, f.resumedBy = j.id,
                    j.chainStartedAt = coalesce(f.chainStartedAt, f.startedAt))
            WITH j, f
            CALL (f, j) {
                WITH f, j WHERE f IS NOT NULL
                MATCH (p:ImportPage {jobId: f.id}) SET p.jobId = j.id
            }
            RETURN j
            """,
            org=org_id,
            project=project_id,
            name=integration,
            id=job_id,
            request=request_id,
            kind=kind,
            mode=mode,
        )
        return _job(records[0]["j"])

    async def for_request(
        self, org_id: str, project_id: str, integration: str, request_id: str
    ) -> ImportJobRecord | None:
        """The job a ``request_id`` was answered with, if any; ``RequestIdReused`` for another integration."""
        # On the leader: read right after losing a uniqueness race to another replica's start, which a
        # follower may not have yet (a failed write brings no bookmark).
        records = await self._write(
            "MATCH (r:ImportRequest {orgId: $org, projectId: $project, requestId: $request}) "
            "OPTIONAL MATCH (j:ImportJob {id: r.jobId}) RETURN r.integration AS integration, j",
            org=org_id,
            project=project_id,
            request=request_id,
        )
        if not records:
            return None
        if records[0]["integration"] != integration:
            raise RequestIdReused(request_id, str(records[0]["integration"]))
        return _job(records[0]["j"]) if records[0]["j"] is not None else None

    async def _bind_request(
        self, org_id: str, project_id: str, integration: str, request_id: str, job_id: str
    ) -> ImportJobRecord | None:
        """Answer ``request_id`` with the active job; a concurrent binding of the same id wins."""
        with contextlib.suppress(neo4j.exceptions.ConstraintError):  # two MERGEs raced: the winner's row is read
            await self._write(
                """
                MERGE (r:ImportRequest {orgId: $org, projectId: $project, requestId: $request})
                ON CREATE SET r.integration = $name, r.jobId = $job, r.createdAt = datetime()
                """,
                org=org_id,
                project=project_id,
                request=request_id,
                name=integration,
                job=job_id,
            )
        return await self.for_request(org_id, project_id, integration, request_id)

    async def active(self, org_id: str, project_id: str, integration: str) -> ImportJobRecord | None:
        # On the leader, as for_request: what ``create`` answers after losing the ActiveImport race.
        records = await self._write(
            "MATCH (a:ActiveImport {orgId: $org, projectId: $project, integration: $name}) "
            "MATCH (j:ImportJob {id: a.jobId}) RETURN j",
            org=org_id,
            project=project_id,
            name=integration,
        )
        return _job(records[0]["j"]) if records else None

    async def get(self, job_id: str) -> ImportJobRecord | None:
        records = await self._read("MATCH (j:ImportJob {id: $id}) RETURN j", id=job_id)
        return _job(records[0]["j"]) if records else None

    async def list_jobs(
        self, org_id: str, project_id: str, integration: str | None, offset: int, limit: int
    ) -> list[ImportJobRecord]:
        records = await self._read(
            """
            MATCH (j:ImportJob {orgId: $org, projectId: $project})
            WHERE $name IS NULL OR j.integration = $name
            RETURN j ORDER BY j.createdAt DESC, j.id SKIP $offset LIMIT $limit
            """,
            org=org_id,
            project=project_id,
            name=integration,
            offset=offset,
            limit=limit,
        )
        return [_job(r["j"]) for r in records]

    async def claim(self, job_id: str, owner: str) -> ImportJobRecord | None:
        """Take the job if it is unowned or its lease ran out; marks it RUNNING."""
        records = await self._write(
            """
            MATCH (j:ImportJob {id: $id}) WHERE j.state IN ['QUEUED', 'RUNNING']
              AND (j.leaseOwner IS NULL OR j.leaseOwner = $owner OR j.leaseExpiresAt < datetime())
            SET j.leaseOwner = $owner, j.leaseExpiresAt = datetime() + duration({milliseconds: $lease}),
                j.state = 'RUNNING', j.startedAt = coalesce(j.startedAt, datetime()), j.phase = 'starting',
                j.chainStartedAt = coalesce(j.chainStartedAt, j.startedAt, datetime()),
                j.attempts = coalesce(j.attempts, 0) + 1
            RETURN j
            """,
            id=job_id,
            owner=owner,
            lease=int(self.lease_seconds * 1000),
        )
        return _job(records[0]["j"]) if records else None

    async def orphans(self) -> list[str]:
        records = await self._read(
            "MATCH (j:ImportJob) WHERE j.state IN ['QUEUED', 'RUNNING'] "
            "AND (j.leaseExpiresAt IS NULL OR j.leaseExpiresAt < datetime()) RETURN j.id AS id"
        )
        return [r["id"] for r in records]

    async def heartbeat(self, job_id: str, owner: str) -> bool:
        """Renew the lease; returns whether cancellation was requested. Raises LeaseLost."""
        records = await self._write(
            "MATCH (j:ImportJob {id: $id, leaseOwner: $owner}) WHERE j.state = 'RUNNING' "
            "SET j.leaseExpiresAt = datetime() + duration({milliseconds: $lease}) "
            "RETURN coalesce(j.cancelRequested, false) AS cancel",
            id=job_id,
            owner=owner,
            lease=int(self.lease_seconds * 1000),
        )
        if not records:
            raise LeaseLost(job_id)
        return bool(records[0]["cancel"])

    async def save_progress(
        self, job_id: str, owner: str, progress: Progress, page: dict[str, list[str]] | None = None
    ) -> bool:
        """Checkpoint after a committed page (and record the ids it saw); returns cancel-requested."""
        records = await self._write(
            """
            MATCH (j:ImportJob {id: $id, leaseOwner: $owner}) WHERE j.state = 'RUNNING'
            SET j.counters = $counters, j.apiCalls = $calls, j.rateLimitWaits = $waits, j.pages = $pages,
                j.phase = $phase, j.checkpoint = $checkpoint,
                j.leaseExpiresAt = datetime() + duration({milliseconds: $lease})
            FOREACH (_ IN CASE WHEN $seen IS NULL THEN [] ELSE [1] END |
                CREATE (:ImportPage {jobId: $id, seq: $pages, seen: $seen}))
            RETURN coalesce(j.cancelRequested, false) AS cancel
            """,
            id=job_id,
            owner=owner,
            counters=json.dumps(progress.counters, sort_keys=True),
            calls=progress.api_calls,
            waits=progress.rate_limit_waits,
            pages=progress.pages,
            phase=progress.phase,
            checkpoint=json.dumps(progress.checkpoint, sort_keys=True),
            lease=int(self.lease_seconds * 1000),
            seen=None if page is None else json.dumps(page, sort_keys=True),
        )
        if not records:
            raise LeaseLost(job_id)
        return bool(records[0]["cancel"])

    async def seen(self, job_id: str) -> dict[str, set[str]]:
        # On the leader: the final sweep removes whatever no page saw, so a missing page would delete data.
        records = await self._write("MATCH (p:ImportPage {jobId: $id}) RETURN p.seen AS seen", id=job_id)
        merged: dict[str, set[str]] = {}
        for record in records:
            for label, ids in json.loads(record["seen"]).items():
                merged.setdefault(label, set()).update(ids)
        return merged

    async def prune(self, org_id: str, project_id: str, integration: str, before: datetime, keep: int) -> int:
        """Forget ended jobs of an integration created before ``before``, but never its ``keep`` newest
        ended ones: the scheduled sync adds a job per interval (96 a day at the default), which would
        otherwise pile up for good. Their request ids go with them (a retry after that long starts a
        new job) and a failed one's checkpoint too (the next start then begins afresh, which is always
        correct). Returns how many were forgotten."""
        records = await self._write(
            """
            MATCH (j:ImportJob {orgId: $org, projectId: $project})
            WHERE j.integration = $name AND j.state IN ['SUCCEEDED', 'FAILED', 'CANCELLED']
            WITH j ORDER BY j.createdAt DESC
            WITH collect(j)[$keep..] AS older
            UNWIND older AS old
            WITH old WHERE old.createdAt < $before
            CALL (old) {
                OPTIONAL MATCH (r:ImportRequest {orgId: old.orgId, projectId: old.projectId})
                WHERE r.jobId = old.id
                DELETE r
            }
            CALL (old) {
                OPTIONAL MATCH (p:ImportPage {jobId: old.id})
                DELETE p
            }
            DETACH DELETE old
            RETURN count(*) AS forgotten
            """,
            org=org_id,
            project=project_id,
            name=integration,
            before=before,
            keep=keep,
        )
        return int(records[0]["forgotten"])

    async def finish(self, job_id: str, owner: str | None, state: str, error: str = "") -> ImportJobRecord | None:
        records = await self._write(
            """
            MATCH (j:ImportJob {id: $id}) WHERE NOT j.state IN ['SUCCEEDED', 'FAILED', 'CANCELLED']
              AND ($owner IS NULL OR j.leaseOwner = $owner)
            SET j.state = $state, j.error = $error, j.finishedAt = datetime(), j.leaseOwner = null,
                j.phase = toLower($state)
            WITH j
            OPTIONAL MATCH (a:ActiveImport {jobId: j.id}) DELETE a
            WITH j
            CALL (j) {
                WITH j WHERE j.state <> 'FAILED'
                MATCH (p:ImportPage {jobId: j.id}) DELETE p
            }
            RETURN j
            """,
            id=job_id,
            owner=owner,
            state=state,
            error=error[:2000],
        )
        return _job(records[0]["j"]) if records else None

    async def request_cancel(self, job_id: str) -> ImportJobRecord | None:
        records = await self._write(
            "MATCH (j:ImportJob {id: $id}) WHERE NOT j.state IN ['SUCCEEDED', 'FAILED', 'CANCELLED'] "
            "SET j.cancelRequested = true RETURN j",
            id=job_id,
        )
        if records and records[0]["j"]["state"] == "QUEUED" and records[0]["j"].get("leaseOwner") is None:
            return await self.finish(job_id, None, "CANCELLED", "cancelled before it started")
        return await self.get(job_id)

    # ------------------------------------------------------------ sync state

    async def save_sync_state(
        self,
        org_id: str,
        project_id: str,
        integration: str,
        job_id: str,
        workspace_ids: list[str],
        watermarks: dict[str, datetime],
        totals: dict[str, int],
        full: bool = True,
    ) -> None:
        """An import succeeded: record it (as the last full one if it was), and move each workspace's
        watermark up to what it saw.

        ``lastImportStartedAt`` is when the first job of a resume chain started: every change after
        it may be missing from pages read earlier, so it is where a workspace without a watermark
        is repaired from.
        """
        legacy = await self._legacy_watermarks(org_id, project_id, integration)
        await self._write(
            """
            MERGE (s:SyncState {orgId: $org, projectId: $project, integration: $name})
            WITH s
            OPTIONAL MATCH (j:ImportJob {id: $job})
            SET s.lastFullImportAt = CASE WHEN $full THEN datetime() ELSE s.lastFullImportAt END,
                s.lastImportJobId = $job, s.lastError = '',
                s.lastImportStartedAt = coalesce(j.chainStartedAt, j.startedAt, datetime()),
                s.importedWorkspaces = $workspaces, s.totals = $totals
            REMOVE s.watermarks
            WITH s
            CALL (s) {
                UNWIND $marks AS mark
                MERGE (w:SyncWatermark {orgId: s.orgId, projectId: s.projectId, integration: s.integration,
                                        workspaceId: mark.workspace})
                SET w.at = CASE WHEN w.at IS NULL OR mark.at > w.at THEN mark.at ELSE w.at END
            }
            """,
            org=org_id,
            project=project_id,
            name=integration,
            job=job_id,
            workspaces=list(workspace_ids),
            totals=json.dumps(totals, sort_keys=True),
            marks=_marks(_newest(legacy, watermarks)),
            full=full,
        )

    async def advance_watermark(
        self, org_id: str, project_id: str, integration: str, workspace_id: str, mark: datetime
    ) -> None:
        """Move a workspace's watermark forward (never back) after a gap repair."""
        await self._write(
            """
            MERGE (w:SyncWatermark {orgId: $org, projectId: $project, integration: $name, workspaceId: $workspace})
            SET w.at = CASE WHEN w.at IS NULL OR $at > w.at THEN $at ELSE w.at END
            """,
            org=org_id,
            project=project_id,
            name=integration,
            workspace=workspace_id,
            at=mark,
        )

    async def record_sync_error(self, org_id: str, project_id: str, integration: str, error: str) -> None:
        await self._write(
            "MERGE (s:SyncState {orgId: $org, projectId: $project, integration: $name}) SET s.lastError = $error",
            org=org_id,
            project=project_id,
            name=integration,
            error=error[:2000],
        )

    async def _legacy_watermarks(self, org_id: str, project_id: str, integration: str) -> dict[str, datetime]:
        """Watermarks kept as one JSON property before they had rows of their own (folded in on save)."""
        records = await self._write(  # read-modify-write with save_sync_state: on the leader
            "MATCH (s:SyncState {orgId: $org, projectId: $project, integration: $name}) RETURN s.watermarks AS w",
            org=org_id,
            project=project_id,
            name=integration,
        )
        raw = records[0]["w"] if records else None
        return {k: datetime.fromisoformat(v) for k, v in json.loads(raw).items()} if raw else {}

    async def sync_state(self, org_id: str, project_id: str, integration: str) -> SyncState | None:
        records = await self._read(
            """
            OPTIONAL MATCH (s:SyncState {orgId: $org, projectId: $project, integration: $name})
            OPTIONAL MATCH (w:SyncWatermark {orgId: $org, projectId: $project, integration: $name})
            RETURN s, collect([w.workspaceId, w.at]) AS marks
            """,
            org=org_id,
            project=project_id,
            name=integration,
        )
        node, rows = records[0]["s"], records[0]["marks"]
        marks = {str(ws): at for ws, at in ((r[0], to_datetime(r[1])) for r in rows) if at is not None}
        if node is None and not marks:
            return None
        legacy = json.loads(node.get("watermarks") or "{}") if node is not None else {}
        marks = _newest({k: datetime.fromisoformat(v) for k, v in legacy.items()}, marks)
        node = node or {}
        imported = node.get("importedWorkspaces")
        return SyncState(
            last_full_import_at=to_datetime(node.get("lastFullImportAt")),
            last_import_started_at=to_datetime(node.get("lastImportStartedAt")),
            last_import_job_id=node.get("lastImportJobId", ""),
            imported_workspaces=None if imported is None else tuple(str(w) for w in imported),
            watermarks=marks,
            totals=json.loads(node.get("totals") or "{}"),
            last_error=node.get("lastError", ""),
        )


def _newest(old: dict[str, datetime], new: dict[str, datetime]) -> dict[str, datetime]:
    """Per workspace, the later of two watermark maps."""
    return {ws: max(d for d in (old.get(ws), new.get(ws)) if d is not None) for ws in old.keys() | new.keys()}


def _marks(watermarks: dict[str, datetime]) -> list[dict[str, Any]]:
    return [{"workspace": ws, "at": at} for ws, at in sorted(watermarks.items())]
