"""Keeping live sync alive: webhooks registered while auto-sync is on, watched, revived, gaps repaired.

ClickUp suspends a webhook silently (after 100 failed events or one 410) and never re-sends
what it dropped. So the supervisor polls each webhook's health, re-activates a suspended one,
and repairs the gap by re-reading every task updated since the workspace's watermark (minus an
overlap: ClickUp's ``date_updated_gt`` inclusivity is disputed) through the same writer. The
same repair also runs on the integration's ``sync_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import neo4j

from graph.clickup.writer import GraphWriter
from graph.import_jobs import ImportJobStore
from graph.webhook_inbox import WebhookRegistration
from server.errors import FailedPrecondition
from server.gallery import Gallery, IntegrationView
from server.webhooks import WebhookDesk

logger = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=5)
DEFAULT_INTERVAL_SECONDS = 15 * 60


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
    ) -> None:
        self._desk = desk
        self._gallery = gallery
        self._jobs = jobs
        self._driver = driver
        self._database = database
        self._public_url = public_url
        self._check_seconds = check_seconds
        self._last_repair: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def reconcile(self, view: IntegrationView) -> None:
        """After an update: webhooks exist exactly while the integration is enabled with auto-sync."""
        if not view.plugin.supports_live_sync:
            return
        key = view.key
        existing = await self._desk.registry.for_project(key.org_id, key.project_id, key.name)
        wanted = bool(view.record and view.record.enabled and view.settings and view.settings.sync_settings.auto_sync)
        if wanted and not existing:
            if not self._public_url:
                raise FailedPrecondition(
                    "auto_sync needs WEBHOOK_PUBLIC_URL (the gateway's public address) on the "
                    "server; the settings were saved without live sync",
                    reason="NO_PUBLIC_URL",
                )
            assert view.settings is not None
            for hook in await view.plugin.register_webhooks(view.settings, self._public_url):
                await self._desk.register(
                    key.name, hook["id"], key.org_id, key.project_id, hook["workspace_id"], hook["secret"]
                )
                logger.info("registered %s webhook %s for workspace %s", key.name, hook["id"], hook["workspace_id"])
        elif not wanted and existing:
            for hook in existing:
                if view.settings is not None:
                    await view.plugin.delete_webhook(view.settings, hook["id"])
                await self._desk.unregister(key.name, hook["id"])
                logger.info("deleted %s webhook %s", key.name, hook["id"])

    async def health(self, org_id: str, project_id: str, name: str) -> list[dict[str, Any]]:
        return await self._desk.registry.for_project(org_id, project_id, name)

    async def check_once(self) -> None:
        for registration in await self._desk.registry.all_registrations():
            try:
                await self._check(registration)
            except Exception:
                logger.exception("live-sync check of webhook %s failed", registration.webhook_id)

    async def _check(self, reg: WebhookRegistration) -> None:
        view = await self._gallery.get(reg.org_id, reg.project_id, reg.integration)
        if view.settings is None or view.record is None or not view.record.enabled:
            return
        status = await view.plugin.webhook_status(view.settings, reg.workspace_id, reg.webhook_id)
        if status is None:
            await self._desk.registry.record_health(reg.integration, reg.webhook_id, "missing", 0)
            return
        state, fails = status
        await self._desk.registry.record_health(reg.integration, reg.webhook_id, state, fails)
        interval = view.settings.sync_settings.sync_interval.seconds or DEFAULT_INTERVAL_SECONDS
        due = time.monotonic() - self._last_repair.get(reg.webhook_id, float("-inf")) >= interval
        if state == "suspended":
            await view.plugin.reactivate_webhook(view.settings, reg.webhook_id)
            await self._desk.registry.record_health(reg.integration, reg.webhook_id, "active", 0)
            logger.warning(
                "webhook %s was suspended by %s: re-activated; repairing the gap", reg.webhook_id, reg.integration
            )
            await self.repair(reg, view)
        elif due:
            await self.repair(reg, view)

    async def repair(self, reg: WebhookRegistration, view: IntegrationView) -> int:
        """Re-read what changed since the watermark (minus the overlap); returns the tasks re-read."""
        if await self._jobs.active(reg.org_id, reg.project_id, reg.integration) is not None:
            return 0  # a full import is running: it covers the gap
        state = await self._jobs.sync_state(reg.org_id, reg.project_id, reg.integration)
        mark = (state or {}).get("watermarks", {}).get(reg.workspace_id)
        if mark is None or view.settings is None:
            return 0  # never imported: an import, not a repair, is what this project needs
        since = int((mark - OVERLAP).timestamp() * 1000)
        writer = GraphWriter(self._driver, self._database, reg.org_id, reg.project_id)
        count, newest = await view.plugin.repair_gap(
            view.settings, writer, reg.workspace_id, since, f"gap-repair:{reg.webhook_id}"
        )
        if newest is not None:
            await self._jobs.advance_watermark(
                reg.org_id,
                reg.project_id,
                reg.integration,
                reg.workspace_id,
                datetime.fromtimestamp(newest / 1000, UTC),
            )
        self._last_repair[reg.webhook_id] = time.monotonic()
        logger.info("gap repair of workspace %s re-read %d task(s)", reg.workspace_id, count)
        return count

    def start(self) -> None:
        async def loop() -> None:
            while True:
                await self.check_once()
                await asyncio.sleep(self._check_seconds)

        self._task = asyncio.get_running_loop().create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
