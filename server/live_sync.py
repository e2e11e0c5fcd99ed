"""Keeping live sync alive: webhooks registered while auto-sync is on, watched, revived, gaps repaired.

Third parties drop webhooks quietly (ClickUp suspends one after 100 failed events or one 410) and
never re-send what they dropped. So the supervisor polls each webhook's health through its plugin,
re-activates a suspended one (or replaces one that is gone), and at once repairs that workspace's
gap by having the plugin re-read every record changed since the container's watermark (minus an
overlap, for sources whose "changed since" bound is fuzzy) through the same writer.

A change no webhook told of (an event lost in transit) is read by the scheduled sync: on the
integration's sync interval the supervisor starts an INCREMENTAL import job (``server/imports.py``),
so it is listed, watched and resumed like any import and never runs beside another job of the
integration. An incremental run sweeps nothing (it sees only what changed), so once the last full
import is ``full_import_every`` old (a day by default) the scheduled job is a FULL import, whose
sweep removes what was deleted without a word. A plugin that cannot import incrementally gets each
webhook's gap repair on that interval instead.

Every replica runs this supervisor; each duty (checking one webhook, reconciling one integration,
starting one scheduled sync, repairing one gap) is claimed for its period through a lease in Neo4j
(``graph/duty_leases.py``), so it runs once per period whichever replica gets there first, and a
dead replica's duties pass to another when its leases run out.

A webhook replaced by a secret regeneration (``server/secret_rotation.py``) is left alone (no check,
repair or replacement) while its grace period runs, then deleted in the third party and forgotten.

Each project gets its own webhook endpoint (``WebhookTarget``): the gateway's URL for the
integration plus a route derived from (org, project, integration), which the plugin puts in the
query or the path as its signing scheme needs. A third party that allows one webhook per account
and endpoint (ClickUp) can then feed two projects from one account, and every registration's
``(integration, webhookId)`` key still feeds exactly one project.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import neo4j
from google.protobuf import field_mask_pb2

from graph.duty_leases import DutyLeases
from graph.import_jobs import FULL, INCREMENTAL, ImportJobStore
from graph.integration_store import IntegrationKey
from graph.webhook_inbox import WebhookHealth, WebhookRegistration
from graph.webhook_secrets import WebhookSecrets
from graph.writer import GraphWriter
from integrations.v1 import integration_service_pb2 as pb
from server.errors import FailedPrecondition, NotFound, ServiceError, Unavailable
from server.gallery import Gallery, IntegrationView
from server.imports import ImportRunner
from server.integrations.base import Outcome
from server.integrations.oauth import GrantRevoked
from server.integrations.settings import WebhookTarget
from server.webhooks import WebhookDesk

logger = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)
DEFAULT_INTERVAL_SECONDS = 15 * 60
# A check's claim lasts this share of the check interval: the next round (of any replica) finds it
# free, a replica whose loop runs a little behind finds it taken.
CHECK_CLAIM_SHARE = 0.8
RECONCILE_CLAIM_SECONDS = 120.0  # the longest a reconcile may take before another replica may step in
RECONCILE_WAIT_SECONDS = 0.2
CHECK_CONCURRENCY = 8  # webhooks checked side by side, per replica
# The scheduled sync is a FULL import (whose sweep removes what no webhook told of) once the last full
# import is this old; FULL_IMPORT_EVERY_HOURS.
DEFAULT_FULL_IMPORT_EVERY = timedelta(hours=24)
# A scheduled sync's duty, and the prefix of its job's request id (the job's ``requestId`` says who asked).
SCHEDULED_SYNC = "scheduled-sync"


def webhook_target(public_url: str, key: IntegrationKey) -> WebhookTarget:
    """Where the project's webhooks for ``key.name`` go: the gateway's endpoint for that integration
    and a route stable per (org, project, integration)."""
    return WebhookTarget.of(public_url, key.org_id, key.project_id, key.name)


def project_endpoint(public_url: str, key: IntegrationKey) -> str:
    """The project's own endpoint with the route in the query (the form body-keyed schemes use)."""
    return webhook_target(public_url, key).in_query()


def wants_live_sync(view: IntegrationView) -> bool:
    return bool(view.record and view.record.enabled and view.settings and view.settings.sync.auto_sync)


def _paused(view: IntegrationView) -> bool:
    """Waiting for a new sign-in: no health checks, repairs or registrations until then."""
    return view.record is not None and view.record.connection_status == Outcome.NEEDS_REAUTHORIZATION.value


def _duty(kind: str, *scope: str) -> str:
    """A duty's lease key: what is done, and for which project, integration (and webhook)."""
    return "|".join((kind, *scope))


def _describe(error: BaseException) -> str:
    return error.message if isinstance(error, ServiceError) else f"{type(error).__name__}: {error}"


class LiveSync:
    def __init__(
        self,
        desk: WebhookDesk,
        gallery: Gallery,
        jobs: ImportJobStore,
        driver: neo4j.AsyncDriver,
        database: str,
        public_url: str | None,
        check_seconds: float = 60.0,
        leases: DutyLeases | None = None,
        secrets: WebhookSecrets | None = None,
        imports: ImportRunner | None = None,
        full_import_every: timedelta | None = DEFAULT_FULL_IMPORT_EVERY,
    ) -> None:
        """``leases`` None: this process is the only one supervising (every duty is its own).
        ``secrets`` None: no webhook is ever retired after a secret regeneration here.
        ``imports`` None: no scheduled sync is started here. ``full_import_every`` None: the scheduled
        sync is always incremental (deletions no webhook told of then wait for a full import by hand)."""
        self._desk = desk
        self._gallery = gallery
        self._jobs = jobs
        self._driver = driver
        self._database = database
        self._public_url = public_url
        self._check_seconds = check_seconds
        self._leases = leases
        self._secrets = secrets
        self._imports = imports
        self._full_import_every = full_import_every
        self._owner = f"live-sync-{uuid.uuid4().hex[:12]}"
        self._task: asyncio.Task[None] | None = None

    async def reconcile(self, view: IntegrationView) -> None:
        """After an update: webhooks exist exactly while the integration is enabled with auto-sync.

        Called once the update is saved. If the webhooks cannot be set up, auto-sync is saved back
        to off (and the reason recorded in the sync state) before the error is raised, so no saved
        state ever claims a live sync that does not exist. One replica at a time per integration (a
        lease, waited for), against the state as saved then: two updates on two replicas cannot
        register its webhooks twice.
        """
        if not view.plugin.supports_live_sync:
            return
        key = view.key
        async with self.exclusive(key):
            await self._reconcile(await self._gallery.get(key.org_id, key.project_id, key.name))

    @contextlib.asynccontextmanager
    async def exclusive(self, key: IntegrationKey) -> AsyncIterator[None]:
        """Hold the integration's reconcile lease (waited for): one replica at a time changes its webhooks."""
        duty = _duty("reconcile", key.org_id, key.project_id, key.name)
        deadline = time.monotonic() + RECONCILE_CLAIM_SECONDS
        while not await self._claim(duty, RECONCILE_CLAIM_SECONDS):
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"another replica is still setting up live sync of {key.name}; try again", reason="LIVE_SYNC_BUSY"
                )
            await asyncio.sleep(RECONCILE_WAIT_SECONDS)
        try:
            yield
        finally:
            await self._free(duty)

    def endpoint(self, key: IntegrationKey) -> str:
        """The gateway's endpoint for the integration, or "" without WEBHOOK_PUBLIC_URL."""
        return webhook_target(self._public_url, key).url if self._public_url else ""

    def target(self, key: IntegrationKey) -> WebhookTarget:
        """Where the project's webhooks go; FAILED_PRECONDITION without WEBHOOK_PUBLIC_URL."""
        if not self._public_url:
            raise FailedPrecondition(
                "live sync needs WEBHOOK_PUBLIC_URL (the gateway's public address) on the server",
                reason="NO_PUBLIC_URL",
            )
        return webhook_target(self._public_url, key)

    async def _free(self, duty: str) -> None:
        if self._leases is not None:
            await self._leases.free(duty, self._owner)

    async def _reconcile(self, view: IntegrationView) -> None:
        if not view.plugin.supports_live_sync or _paused(view):
            return  # a paused integration keeps its webhooks (their events are held) until a new sign-in
        key = view.key
        existing = await self._desk.health(key.org_id, key.project_id, key.name)
        if wants_live_sync(view):
            try:
                await self._register(view, existing)
            except Exception as exc:
                await self._turn_off(view, exc)
        elif existing:
            await self._unregister(view, existing)

    async def _register(self, view: IntegrationView, existing: list[WebhookHealth]) -> None:
        key, settings, plugin = view.key, view.settings, view.plugin
        assert settings is not None
        have = {hook.workspace_id: hook.webhook_id for hook in existing}
        selected = list(plugin.containers(settings.options))
        missing = [w for w in selected if w not in have]
        stale = [hook for hook in existing if selected and hook.workspace_id not in selected]
        if have and not missing:
            await self._unregister(view, stale)
            return
        if not self._public_url:
            raise FailedPrecondition(
                "auto_sync needs WEBHOOK_PUBLIC_URL (the gateway's public address) on the server",
                reason="NO_PUBLIC_URL",
            )
        wanted = settings.with_options(plugin.with_containers(settings.options, missing)) if have else settings
        hooks = await plugin.register_webhooks(wanted, webhook_target(self._public_url, key))
        fresh = [hook for hook in hooks if hook.webhook_id not in have.values()]
        try:
            for hook in fresh:
                owner = await self._desk.registration(key.name, hook.webhook_id)
                if owner is not None and (owner.org_id, owner.project_id) != (key.org_id, key.project_id):
                    raise FailedPrecondition(
                        f"webhook {hook.webhook_id} already feeds another project", reason="WEBHOOK_OF_ANOTHER_PROJECT"
                    )
                await self._desk.register(
                    key.name, hook.webhook_id, key.org_id, key.project_id, hook.container_id, hook.secret
                )
                logger.info("registered %s webhook %s for %s", key.name, hook.webhook_id, hook.container_id)
        except BaseException:
            for hook in fresh:  # nothing half-done: neither in the third party nor in our registry
                with contextlib.suppress(Exception):
                    await plugin.delete_webhook(settings, hook.webhook_id)
                with contextlib.suppress(Exception):
                    await self._desk.unregister(key.name, hook.webhook_id)
            raise
        await self._unregister(view, stale)

    async def _turn_off(self, view: IntegrationView, error: Exception) -> None:
        """Save auto_sync=false again, record why, and raise a clear FAILED_PRECONDITION."""
        key = view.key
        problem = _describe(error)
        if not isinstance(error, ServiceError):
            logger.warning(
                "live sync of %s for %s/%s could not be set up: %s", key.name, key.org_id, key.project_id, problem
            )
        off = pb.Integration(
            name=key.name, settings=pb.IntegrationSettings(sync_settings=pb.SyncSettings(auto_sync=False))
        )
        try:
            await self._gallery.update(
                key.org_id,
                key.project_id,
                off,
                field_mask_pb2.FieldMask(paths=["settings.sync_settings.auto_sync"]),
                "",
            )
        except Exception:
            logger.exception("could not save auto_sync=false for %s/%s/%s", key.org_id, key.project_id, key.name)
        await self._jobs.record_sync_error(
            key.org_id, key.project_id, key.name, f"live sync is off: it could not be set up ({problem})"
        )
        reason = error.reason if isinstance(error, FailedPrecondition) else "LIVE_SYNC_FAILED"
        raise FailedPrecondition(
            f"auto_sync was saved as off: live sync could not be set up ({problem}); the other changes were saved",
            reason=reason,
        ) from None

    async def _unregister(self, view: IntegrationView, hooks: list[WebhookHealth]) -> None:
        """Delete webhooks in the third party and forget them; one that cannot be deleted stays
        registered (and visible in GetIntegration), with the reason in the sync state."""
        key = view.key
        for hook in hooks:
            try:
                if view.settings is not None:
                    await view.plugin.delete_webhook(view.settings, hook.webhook_id)
            except Exception as exc:
                problem = f"webhook {hook.webhook_id} could not be deleted: {_describe(exc)}"
                logger.warning("%s/%s %s: %s", key.org_id, key.project_id, key.name, problem)
                await self._jobs.record_sync_error(key.org_id, key.project_id, key.name, problem)
                continue
            await self._desk.unregister(key.name, hook.webhook_id)
            logger.info("deleted %s webhook %s", key.name, hook.webhook_id)

    async def health(self, org_id: str, project_id: str, name: str) -> list[WebhookHealth]:
        return await self._desk.health(org_id, project_id, name)

    async def _claim(self, duty: str, seconds: float) -> bool:
        return self._leases is None or await self._leases.claim(duty, self._owner, seconds)

    async def check_once(self) -> None:
        await self.reconcile_all()
        retiring = await self.retire_due()
        slots = asyncio.Semaphore(CHECK_CONCURRENCY)

        async def supervise(registration: WebhookRegistration) -> None:
            async with slots:
                await self._supervise(registration)

        # Side by side: a third party that does not answer (retries, backoff) holds up its own
        # webhooks' checks, not everyone's. A webhook being retired is neither checked nor repaired
        # (its replacement is), nor replaced should it vanish.
        registrations = [r for r in await self._desk.registrations() if (r.integration, r.webhook_id) not in retiring]
        await asyncio.gather(*(supervise(r) for r in registrations))
        # Last: a re-activated webhook's gap was repaired at once above (a repair leaves the gap to an
        # import already running), and the sync then reads on from the watermark the repair moved.
        await self.sync_all()

    async def sync_all(self) -> None:
        """Start the scheduled sync of every integration that wants live sync and imports
        incrementally: an INCREMENTAL import once per sync interval (one replica each, by lease)."""
        if self._imports is None:
            return
        keys = sorted(await self._gallery.enabled(), key=lambda k: (k.org_id, k.project_id, k.name))
        for key in keys:
            try:
                await self._scheduled_sync(self._imports, key)
            except ServiceError as exc:  # settings unreadable, say: reconcile_all reports it too
                logger.warning(
                    "scheduled incremental sync of %s for %s/%s not started: %s [%s]",
                    key.name,
                    key.org_id,
                    key.project_id,
                    exc.message,
                    exc.reason,
                )
            except Exception:
                logger.exception(
                    "scheduled incremental sync of %s for %s/%s failed", key.name, key.org_id, key.project_id
                )

    async def _scheduled_sync(self, imports: ImportRunner, key: IntegrationKey) -> None:
        """Queue the integration's scheduled import if its interval is due: INCREMENTAL, or FULL when
        the last full import is old enough (``_scheduled_mode``). A job already active
        (an import, a re-map) covers this round; a project never fully imported is told so once per
        interval (a WARNING and the sync state's last error), not every check."""
        view = await self._gallery.get(key.org_id, key.project_id, key.name)
        if view.settings is None or not view.plugin.supports_incremental or not wants_live_sync(view) or _paused(view):
            return
        interval = view.settings.sync.interval_seconds or DEFAULT_INTERVAL_SECONDS
        if not await self._claim(_duty(SCHEDULED_SYNC, key.org_id, key.project_id, key.name), interval):
            return  # started in this interval already (here or by another replica)
        where = f"{key.org_id}/{key.project_id}/{key.name}"
        active = await imports.active(key.org_id, key.project_id, key.name)
        if active is not None:
            logger.info("scheduled incremental sync of %s not started: job %s is active", where, active.id)
            return
        request_id = f"{SCHEDULED_SYNC}:{uuid.uuid4().hex}"
        mode = await self._scheduled_mode(key)
        try:
            job = await imports.start(key.org_id, key.project_id, key.name, request_id, mode=mode)
        except FailedPrecondition as exc:
            if exc.reason == "JOB_RUNNING":  # a re-map started since we looked
                logger.info("scheduled incremental sync of %s not started: %s", where, exc.message)
                return
            if exc.reason != "NO_FULL_IMPORT":
                raise
            problem = f"scheduled incremental sync not started: {exc.message}"
            logger.warning("%s: %s", where, problem)
            await self._jobs.record_sync_error(key.org_id, key.project_id, key.name, problem)
            return
        if job.request_id != request_id:  # an import started since we looked: start answered with it
            logger.info("scheduled incremental sync of %s not started: job %s is active", where, job.id)
            return
        if mode == FULL:
            logger.info(
                "scheduled full import %s queued for %s: its sweep removes what no webhook told of", job.id, where
            )
        else:
            logger.info("scheduled incremental sync %s queued for %s", job.id, where)

    async def _scheduled_mode(self, key: IntegrationKey) -> str:
        """INCREMENTAL, or FULL once the last full import is ``full_import_every`` old: an incremental run
        sees only what changed, so a deletion no webhook told of leaves with a full import's sweep. Never
        the first full import: that one is the project's to start (NO_FULL_IMPORT says so)."""
        if self._full_import_every is None:
            return INCREMENTAL
        state = await self._jobs.sync_state(key.org_id, key.project_id, key.name)
        last = state.last_full_import_at if state is not None else None
        if last is not None and datetime.now(UTC) - last >= self._full_import_every:
            return FULL
        return INCREMENTAL

    async def retire_due(self) -> set[tuple[str, str]]:
        """Webhooks replaced by a secret regeneration (``server/secret_rotation.py``) whose grace period
        is over: deleted in the third party and forgotten here (one replica each, by lease). Returns
        the (integration, webhook id) of those still retiring. Expired previous secrets are purged."""
        secrets = self._secrets
        if secrets is None:
            return set()
        now = datetime.now(UTC)
        await secrets.purge_expired(now)
        waiting: set[tuple[str, str]] = set()
        for due in await secrets.retirements():
            waiting.add((due.integration, due.webhook_id))
            if due.until > now or not await self._claim(_duty("retire", due.integration, due.webhook_id), 60):
                continue
            try:
                await self._retire(due.integration, due.webhook_id)
            except Exception as exc:
                logger.warning(
                    "webhook %s of %s could not be retired yet: %s", due.webhook_id, due.integration, _describe(exc)
                )
        return waiting

    async def _retire(self, integration: str, webhook_id: str) -> None:
        reg = await self._desk.registration(integration, webhook_id)
        if reg is not None:
            try:
                view: IntegrationView | None = await self._gallery.get(reg.org_id, reg.project_id, integration)
            except NotFound:
                view = None  # the integration is gone: nothing left to delete it with
            if view is not None and view.settings is not None:
                await view.plugin.delete_webhook(view.settings, webhook_id)
            logger.info("retired %s webhook %s: its grace period is over", integration, webhook_id)
        await self._desk.unregister(integration, webhook_id)  # forgets its retirement and old secrets too

    async def _supervise(self, reg: WebhookRegistration) -> None:
        duty = _duty("supervise", reg.org_id, reg.project_id, reg.integration, reg.webhook_id)
        if not await self._claim(duty, self._check_seconds * CHECK_CLAIM_SHARE):
            return  # another replica checks this webhook in this period
        try:
            await self._check(reg)
        except ServiceError as exc:
            # An expected refusal (settings unreadable, integration gone): one line with the reason,
            # every check interval, not a traceback that buries the log.
            logger.warning(
                "live-sync check of webhook %s of %s failed: %s [%s]",
                reg.webhook_id,
                reg.integration,
                exc.message,
                exc.reason,
            )
        except Exception:
            logger.exception("live-sync check of webhook %s failed", reg.webhook_id)

    async def reconcile_all(self) -> None:
        """Bring every integration to its saved state: a server that died between saving an update
        and registering its webhooks (or deleting them) left the two apart; this pass heals that
        within one check interval. A failure turns auto-sync off with the reason, as on update."""
        keys: set[IntegrationKey] = set(await self._gallery.enabled())
        keys.update(IntegrationKey(r.org_id, r.project_id, r.integration) for r in await self._desk.registrations())
        for key in sorted(keys, key=lambda k: (k.org_id, k.project_id, k.name)):
            # One replica at a time, given back when done: the next one finds the states agree and
            # does nothing, so a heal is never done twice, and a new mismatch is healed next round.
            duty = _duty("reconcile", key.org_id, key.project_id, key.name)
            if not await self._claim(duty, RECONCILE_CLAIM_SECONDS):
                continue
            try:
                await self._reconcile(await self._gallery.get(key.org_id, key.project_id, key.name))
            except Exception as exc:
                logger.warning(
                    "live sync of %s for %s/%s is not as saved: %s",
                    key.name,
                    key.org_id,
                    key.project_id,
                    _describe(exc),
                )
            finally:
                await self._free(duty)

    async def _check(self, reg: WebhookRegistration) -> None:
        view = await self._gallery.get(reg.org_id, reg.project_id, reg.integration)
        if view.settings is None or view.record is None or not view.record.enabled or _paused(view):
            return
        try:
            status = await view.plugin.webhook_status(view.settings, reg.workspace_id, reg.webhook_id)
        except GrantRevoked as exc:
            await self._gallery.needs_reauthorization(view.key, str(exc))
            return
        if status is None:
            await self._desk.record_health(reg.integration, reg.webhook_id, "missing", 0)
            if wants_live_sync(view):
                await self._replace(reg, view)
            return
        state = status.status
        await self._desk.record_health(reg.integration, reg.webhook_id, state, status.fail_count)
        # A plugin that cannot import incrementally has no scheduled sync (sync_all): its webhooks' gap
        # repairs are the interval's catch-up instead.
        periodic = not view.plugin.supports_incremental
        interval = view.settings.sync.interval_seconds or DEFAULT_INTERVAL_SECONDS
        repair_duty = _duty("repair", reg.org_id, reg.project_id, reg.integration, reg.webhook_id)
        if state == "suspended":
            secret = await view.plugin.reactivate_webhook(view.settings, reg.webhook_id)
            if secret is not None:  # re-armed with a new secret: deliveries are signed with it from now
                await self._desk.register(
                    reg.integration, reg.webhook_id, reg.org_id, reg.project_id, reg.workspace_id, secret
                )
            await self._desk.record_health(reg.integration, reg.webhook_id, "active", 0)
            logger.warning(
                "webhook %s was suspended by %s: re-activated; repairing the gap", reg.webhook_id, reg.integration
            )
            if periodic:
                await self._claim(repair_duty, interval)  # repaired now: the next one is an interval away
            await self.repair(reg, view)  # now, not at the next scheduled sync: the gap may be long
        elif periodic and await self._claim(repair_duty, interval):
            await self.repair(reg, view)

    async def _replace(self, reg: WebhookRegistration, view: IntegrationView) -> None:
        """A webhook deleted in the third party (by hand, or with its user): make a new one, then
        repair the gap, so auto-sync never claims a live sync that no longer exists."""
        assert view.settings is not None
        if not self._public_url:
            return
        logger.warning("webhook %s of workspace %s is gone: registering a new one", reg.webhook_id, reg.workspace_id)
        plugin = view.plugin
        wanted = view.settings.with_options(plugin.with_containers(view.settings.options, [reg.workspace_id]))
        hooks = await plugin.register_webhooks(wanted, webhook_target(self._public_url, view.key))
        if not hooks:
            problem = f"webhook {reg.webhook_id} is gone and workspace {reg.workspace_id} is no longer visible"
            await self._jobs.record_sync_error(reg.org_id, reg.project_id, reg.integration, problem)
            return
        for hook in hooks:
            await self._desk.register(
                reg.integration, hook.webhook_id, reg.org_id, reg.project_id, hook.container_id, hook.secret
            )
        if reg.webhook_id not in {hook.webhook_id for hook in hooks}:  # adopted again if the third party kept it
            await self._desk.unregister(reg.integration, reg.webhook_id)
        for hook in hooks:
            replacement = await self._desk.registration(reg.integration, hook.webhook_id)
            if replacement is not None:
                await self.repair(replacement, view)

    async def repair(self, reg: WebhookRegistration, view: IntegrationView) -> int:
        """Re-read what changed since the watermark (minus the overlap); returns the tasks re-read.

        Run at once for a webhook re-activated or replaced, and on the sync interval for a plugin that
        cannot import incrementally (for the others the scheduled sync is the interval's catch-up). A
        workspace without a watermark (an import that saw none of its tasks, or one from before
        watermarks survived a resume) starts from the last import's start; one that no import covered
        is reported (a WARNING and the sync state's last error): it needs a full import.
        """
        if await self._jobs.active(reg.org_id, reg.project_id, reg.integration) is not None:
            return 0  # an import is running: it covers the gap
        if view.settings is None:
            return 0
        state = await self._jobs.sync_state(reg.org_id, reg.project_id, reg.integration)
        mark = state.watermarks.get(reg.workspace_id) if state is not None else None
        if mark is None:
            imported = state.imported_workspaces if state is not None else None
            started = state.last_import_started_at or state.last_full_import_at if state is not None else None
            if started is None or (imported is not None and reg.workspace_id not in imported):
                problem = (
                    f"gap repair of workspace {reg.workspace_id} skipped: no import has covered it yet; "
                    "start a full import"
                )
                logger.warning("%s/%s %s: %s", reg.org_id, reg.project_id, reg.integration, problem)
                await self._jobs.record_sync_error(reg.org_id, reg.project_id, reg.integration, problem)
                return 0  # said once per re-activation, replacement or interval (the repair's claim)
            logger.info("workspace %s has no watermark: repairing from the last import's start", reg.workspace_id)
            mark = started
        writer = GraphWriter(self._driver, self._database, reg.org_id, reg.project_id, view.plugin.graph_schema)
        repaired = await view.plugin.repair_gap(
            view.settings, writer, reg.workspace_id, mark - OVERLAP, f"gap-repair:{reg.webhook_id}"
        )
        count, reached = repaired.records, repaired.newest or mark
        await self._jobs.advance_watermark(reg.org_id, reg.project_id, reg.integration, reg.workspace_id, reached)
        logger.info("gap repair of workspace %s re-read %d task(s)", reg.workspace_id, count)
        return count

    def start(self) -> None:
        async def loop() -> None:
            while True:
                # Sleep first: replicas that start together do not all check at once, and the
                # start-up path stays free of third-party calls.
                await asyncio.sleep(self._check_seconds)
                try:
                    await self.check_once()
                except Exception:  # Neo4j away, say: the next round tries again
                    logger.exception("the live-sync check failed")

        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
