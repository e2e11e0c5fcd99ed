"""Running import jobs: claim, heartbeat, checkpoint, finish; resume the ones whose server died.

Every running job holds a lease in Neo4j that a heartbeat renews. A job whose lease ran out
is an orphan: any runner (this server after a restart, or another replica) claims it and the
plugin resumes from the job's checkpoint. Cancellation is a flag read at each checkpoint, so
nothing is half-written. Watchers are woken on every change of a job this process runs, and
poll otherwise (a job run by another replica).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

import neo4j

from graph.import_jobs import (
    FIELD_REMAP,
    FULL,
    INCREMENTAL,
    ImportJobRecord,
    ImportJobStore,
    LeaseLost,
    Progress,
    RequestIdReused,
    SyncState,
)
from graph.writer import GraphWriter
from server.errors import FailedPrecondition, InvalidArgument, ServiceError
from server.field_remap import remap_fields
from server.gallery import Gallery, IntegrationView
from server.integrations.base import ImportCancelled, ImportContext, ImportFailure, Outcome
from server.integrations.oauth import GrantRevoked
from server.leased_runs import LeasedRuns
from server.metrics import ServerMetrics
from server.metrics import job_id as job_id_var
from server.validation import require_name

logger = logging.getLogger(__name__)
# How a job stopped by a lost grant ends: FAILED with this prefix; a new sign-in resumes it.
PAUSED = "paused until a new sign-in: "
JOB_RETENTION = timedelta(days=90)  # ended jobs older than this are forgotten (IMPORT_JOB_RETENTION_DAYS)
KEEP_JOBS = 20  # ... but never an integration's newest ended ones


class ImportRunner(LeasedRuns):
    what = "import"

    def __init__(
        self,
        driver: neo4j.AsyncDriver,
        database: str,
        jobs: ImportJobStore,
        gallery: Gallery,
        owner: str | None = None,
        metrics: ServerMetrics | None = None,
        retention: timedelta = JOB_RETENTION,
    ) -> None:
        """``retention``: how long an ended job is kept (its integration's ``KEEP_JOBS`` newest always)."""
        super().__init__(jobs.lease_seconds)
        self._metrics = metrics or ServerMetrics()
        self._driver = driver
        self._database = database
        self.jobs = jobs
        self._gallery = gallery
        self.owner = owner or f"runner-{uuid.uuid4().hex[:12]}"
        self._retention = retention

    # ------------------------------------------------------------ API used by the handlers

    async def start(
        self, org_id: str, project_id: str, name: str, request_id: str = "", mode: str = FULL
    ) -> ImportJobRecord:
        """Queue an import, or return the active one; a repeated ``request_id`` returns its first answer."""
        require_name("name", name)
        if request_id:
            earlier = await self._for_request(org_id, project_id, name, request_id)
            if earlier is not None:
                return earlier  # AIP-155: the retry gets the first answer, whatever has happened since
        view = await self._gallery.get(org_id, project_id, name)
        if not view.plugin.supports_import:
            raise FailedPrecondition(f"{view.plugin.display_name} does not import data", reason="NOT_SUPPORTED")
        if view.record is None or view.settings is None or not view.record.enabled:
            raise FailedPrecondition(
                f"enable and configure {view.plugin.display_name} before importing", reason="NOT_ENABLED"
            )
        if view.record.connection_status == Outcome.NEEDS_REAUTHORIZATION.value:
            raise FailedPrecondition(
                f"{view.plugin.display_name} needs a new sign-in before it can import (the grant is gone)",
                reason="NEEDS_REAUTHORIZATION",
            )
        if mode == INCREMENTAL:
            await self._require_incremental(view)
        try:
            job, created = await self.jobs.create(org_id, project_id, name, request_id, mode=mode)
        except RequestIdReused as exc:
            raise InvalidArgument("request_id", str(exc), reason="REQUEST_ID_REUSED") from None
        if created:
            logger.info("import %s queued for %s/%s/%s", job.id, org_id, project_id, name)
            self._launch(job.id)
        elif job.kind == FIELD_REMAP:
            raise FailedPrecondition(
                f"a re-map of the custom fields ({job.id}) is running; import when it has ended", reason="JOB_RUNNING"
            )
        return job

    async def _require_incremental(self, view: IntegrationView) -> None:
        if not view.plugin.supports_incremental:
            raise FailedPrecondition(
                f"{view.plugin.display_name} imports in full only; start a FULL import", reason="NOT_SUPPORTED"
            )
        key = view.key
        state = await self.jobs.sync_state(key.org_id, key.project_id, key.name)
        if state is None or state.last_full_import_at is None:
            raise FailedPrecondition(
                f"an incremental import reads what changed since the last import: run a FULL import of "
                f"{view.plugin.display_name} first",
                reason="NO_FULL_IMPORT",
            )

    async def _since(self, job: ImportJobRecord) -> dict[str, datetime]:
        """Where an incremental job reads from: each container's watermark."""
        state = await self.jobs.sync_state(job.org_id, job.project_id, job.integration)
        return state.watermarks if state is not None else {}

    async def start_remap(self, org_id: str, project_id: str, name: str) -> ImportJobRecord | None:
        """Queue a re-map of the custom fields already imported; None when another job of the
        integration (an import, a re-map) got in first: the caller checked there was none."""
        job, created = await self.jobs.create(org_id, project_id, name, kind=FIELD_REMAP)
        if not created:
            logger.warning("field re-map of %s/%s/%s not queued: job %s runs", org_id, project_id, name, job.id)
            return None
        logger.info("field re-map %s queued for %s/%s/%s", job.id, org_id, project_id, name)
        self._launch(job.id)
        return job

    async def _for_request(self, org_id: str, project_id: str, name: str, request_id: str) -> ImportJobRecord | None:
        try:
            return await self.jobs.for_request(org_id, project_id, name, request_id)
        except RequestIdReused as exc:
            raise InvalidArgument("request_id", str(exc), reason="REQUEST_ID_REUSED") from None

    async def resume_paused(self, org_id: str, project_id: str, name: str) -> ImportJobRecord | None:
        """After a new sign-in: the import that the lost grant paused starts again, in its mode (from
        its checkpoint, as any import after a failed one of its mode does); None when the last one
        was not paused."""
        latest = await self.jobs.list_jobs(org_id, project_id, name, 0, 1)
        if not latest or latest[0].state != "FAILED" or not latest[0].error.startswith(PAUSED):
            return None
        job = await self.start(org_id, project_id, name, mode=latest[0].mode)
        logger.info("import %s resumes the import %s paused for a new sign-in", job.id, latest[0].id)
        return job

    async def job(self, job_id: str) -> ImportJobRecord | None:
        return await self.jobs.get(job_id)

    async def jobs_of(
        self, org_id: str, project_id: str, name: str | None, offset: int, limit: int
    ) -> list[ImportJobRecord]:
        return await self.jobs.list_jobs(org_id, project_id, name, offset, limit)

    async def active(self, org_id: str, project_id: str, name: str) -> ImportJobRecord | None:
        """The integration's queued or running import, if any."""
        return await self.jobs.active(org_id, project_id, name)

    async def cancel(self, job_id: str) -> ImportJobRecord | None:
        """Asks the job to stop at its next checkpoint; the job as it is then."""
        return await self.jobs.request_cancel(job_id)

    async def sync_state(self, org_id: str, project_id: str, name: str) -> SyncState | None:
        return await self.jobs.sync_state(org_id, project_id, name)

    async def _orphans(self) -> list[str]:
        return await self.jobs.orphans()

    # ------------------------------------------------------------ running one job

    async def _execute(self, job_id: str) -> None:
        job_id_var.set(job_id)  # every log line of this job carries its id
        job = await self.jobs.claim(job_id, self.owner)
        if job is None:
            return  # another runner has it, or it finished
        self._notify(job_id)
        heartbeat = asyncio.get_running_loop().create_task(
            self._heartbeat(job_id, lambda: self.jobs.heartbeat(job_id, self.owner), LeaseLost, asyncio.current_task())
        )
        try:
            await self._run(job)
        except LeaseLost:
            logger.warning("import %s: lease lost to another runner; stopping here", job_id)
        finally:
            heartbeat.cancel()
            self._notify(job_id)
        await self._prune(job)

    async def _prune(self, job: ImportJobRecord) -> None:
        """Forget the integration's jobs that ended longer than the retention ago, once one ends."""
        try:
            forgotten = await self.jobs.prune(
                job.org_id, job.project_id, job.integration, datetime.now(UTC) - self._retention, KEEP_JOBS
            )
        except Exception as exc:  # Neo4j away, say: the next job's end tries again; this one is done
            logger.warning("import %s: old jobs not pruned: %s: %s", job.id, type(exc).__name__, exc)
            return
        if forgotten:
            logger.info(
                "forgot %d job(s) of %s/%s/%s older than %s",
                forgotten,
                job.org_id,
                job.project_id,
                job.integration,
                self._retention,
            )

    async def _run(self, job: ImportJobRecord) -> None:
        try:
            view = await self._gallery.get(job.org_id, job.project_id, job.integration)
            if view.settings is None:
                raise FailedPrecondition("the integration has no settings any more", reason="NOT_CONFIGURED")
            writer = GraphWriter(self._driver, self._database, job.org_id, job.project_id, view.plugin.graph_schema)

            async def report(progress: Progress, page_seen: dict[str, list[str]] | None) -> None:
                cancel = await self.jobs.save_progress(job.id, self.owner, progress, page_seen)
                self._metrics.import_pages.inc()
                self._metrics.rate_limit_waits.labels(job.id).set(progress.rate_limit_waits)
                self._notify(job.id)
                if cancel:
                    raise ImportCancelled

            if job.kind == FIELD_REMAP:
                counters = await remap_fields(view.plugin, view.settings, writer, job, report)
                await self.jobs.finish(job.id, self.owner, "SUCCEEDED")
                logger.info("field re-map %s succeeded: %s", job.id, counters)
                return
            since = await self._since(job) if job.mode == INCREMENTAL else {}
            context = ImportContext(
                job, view.settings, writer, report, await self.jobs.seen(job.id), mode=job.mode, since=since
            )
            outcome = await view.plugin.run_import(context)
        except ImportCancelled:
            await self.jobs.finish(job.id, self.owner, "CANCELLED", "cancelled by request")
            logger.info("import %s cancelled", job.id)
            return
        except (LeaseLost, asyncio.CancelledError):
            raise
        except Exception as exc:
            if isinstance(exc, GrantRevoked):  # paused, not broken: a new sign-in lets it run again
                await self._gallery.needs_reauthorization(view.key, str(exc))
                message = f"{PAUSED}{exc}"
            elif isinstance(exc, ServiceError):
                message = exc.message
            elif isinstance(exc, ImportFailure):
                message = str(exc)
            else:
                logger.exception("import %s crashed", job.id)
                message = f"internal error ({type(exc).__name__}); see server logs"
            await self.jobs.finish(job.id, self.owner, "FAILED", message)
            if job.kind != FIELD_REMAP:  # a re-map reads no third party: the sync is not in error
                await self.jobs.record_sync_error(job.org_id, job.project_id, job.integration, message)
            logger.warning("import %s failed: %s", job.id, message)
            return
        await self.jobs.save_sync_state(
            job.org_id,
            job.project_id,
            job.integration,
            job.id,
            outcome.container_ids,
            outcome.watermarks,
            outcome.totals,
            full=job.mode == FULL,
        )
        await self.jobs.finish(job.id, self.owner, "SUCCEEDED")
        logger.info("import %s succeeded: %s; swept %s", job.id, outcome.totals, outcome.removed)
