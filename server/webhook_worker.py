"""Applying inbox events to the graph, oldest first, with retries and a dead-letter state.

Events are leased (so replicas do not apply the same event at once), applied through the
integration's plugin and the shared writer, and marked APPLIED; a failure retries with
exponential backoff and, after ``max_attempts``, leaves the event FAILED for a replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import neo4j

from graph.webhook_inbox import InboxEvent, WebhookInbox, WebhookRegistry
from graph.writer import GraphWriter
from server.errors import ServiceError
from server.gallery import Gallery
from server.integrations.base import Outcome, WebhookEvent
from server.integrations.oauth import GrantRevoked
from server.metrics import ServerMetrics
from server.webhooks import safe_text

logger = logging.getLogger(__name__)
DEPTH_REFRESH_SECONDS = 10.0


class WebhookWorker:
    def __init__(
        self,
        driver: neo4j.AsyncDriver,
        database: str,
        inbox: WebhookInbox,
        registry: WebhookRegistry,
        gallery: Gallery,
        *,
        max_attempts: int = 5,
        idle_seconds: float = 1.0,
        lease_seconds: float = 60.0,
        metrics: ServerMetrics | None = None,
    ) -> None:
        self._metrics = metrics or ServerMetrics()
        self._driver = driver
        self._database = database
        self._inbox = inbox
        self._registry = registry
        self._gallery = gallery
        self._max_attempts = max_attempts
        self._idle_seconds = idle_seconds
        self._lease_seconds = max(1, int(lease_seconds))
        self.owner = f"worker-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._depth_task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        self._depth_task = asyncio.get_running_loop().create_task(self._watch_depth())

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the event in hand (its lease would otherwise delay it), then stop."""
        if self._task is None:
            return
        if self._depth_task is not None:
            self._depth_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._depth_task
        self._stopping = True
        self._wake.set()
        try:
            async with asyncio.timeout(grace):
                await self._task
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while not self._stopping:
            # Cleared before the claim, not after: an event stored while the claim runs must wake the
            # next round, or it would wait out the idle timeout.
            self._wake.clear()
            try:
                events = await self._inbox.claim(self.owner, 20, self._lease_seconds)
            except Exception:
                logger.exception("claiming webhook events failed")
                events = []
            await self._apply_batch(events)
            if not events:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_seconds):  # also picks up retries that came due
                        await self._wake.wait()

    async def _apply_batch(self, events: list[InboxEvent]) -> None:
        """Apply a claimed batch in order, keeping its lease alive the whole time: one event can take
        longer than the lease (a re-read waiting for the provider's rate limit), and what is left of
        the batch, the event in hand included, must not run out and be applied by another replica
        at the same time. An event whose lease was lost anyway (a stalled process) is left to its
        new holder."""
        if not events:
            return
        remaining = [event.id for event in events]
        held = set(remaining)

        async def keep() -> None:
            nonlocal held
            while True:
                await asyncio.sleep(self._lease_seconds / 3)
                try:
                    held = await self._inbox.renew(list(remaining), self.owner, self._lease_seconds)
                except Exception:
                    logger.warning("renewing the lease of %d webhook events failed", len(remaining), exc_info=True)

        keeper = asyncio.get_running_loop().create_task(keep())
        try:
            for event in events:
                if self._stopping:
                    break  # the rest keep their lease and come back when it runs out
                try:
                    if event.id in held:
                        await self.apply(event)
                except Exception:  # one event's trouble must not stop the worker: its lease brings it back
                    logger.exception("webhook event %s could not be settled", event.id)
                finally:
                    remaining.remove(event.id)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _watch_depth(self) -> None:
        """The inbox-depth gauges, on their own clock: counting a large inbox takes a while, and must
        not delay the next event."""
        while True:
            await self._refresh_depth()
            await asyncio.sleep(DEPTH_REFRESH_SECONDS)

    async def _refresh_depth(self) -> None:
        try:
            depth = await self._inbox.depth_by_state()
        except Exception:  # metrics must never stop the worker
            logger.exception("reading the inbox depth failed")
            return
        for state in ("PENDING", "HELD", "APPLIED", "FAILED", "DEAD_LETTERED"):
            self._metrics.inbox.labels(state).set(depth.get(state, 0))

    async def apply(self, event: InboxEvent) -> None:
        try:
            if event.org_id is None or event.project_id is None:
                raise LookupError("the event is not routed to a project")
            registration = await self._registry.get(event.integration, event.webhook_id)
            if registration is None:
                raise LookupError(f"webhook {event.webhook_id} is no longer registered")
            view = await self._gallery.get(event.org_id, event.project_id, event.integration)
            if view.settings is None or view.record is None or not view.record.enabled:
                raise LookupError(f"{event.integration} is not enabled for {event.org_id}/{event.project_id}")
            if view.record.connection_status == Outcome.NEEDS_REAUTHORIZATION.value:
                await self._inbox.hold(event.id, f"waiting for a new sign-in to {view.plugin.display_name}")
                return
            writer = GraphWriter(self._driver, self._database, event.org_id, event.project_id, view.plugin.graph_schema)
            outcome = await view.plugin.apply_webhook(
                view.settings,
                writer,
                WebhookEvent(event.event, event.object_id, registration.workspace_id, event.body),
                f"webhook:{event.id}",
            )
        except GrantRevoked as exc:  # not the event's fault: keep it until the project signs in again
            await self._gallery.needs_reauthorization(view.key, str(exc))
            await self._inbox.hold(event.id, f"waiting for a new sign-in: {exc}")
            return
        except Exception as exc:
            message = safe_text(exc.message if isinstance(exc, ServiceError) else f"{type(exc).__name__}: {exc}", 2000)
            state = await self._inbox.failed_attempt(event.id, message, self._max_attempts)
            logger.warning(
                "webhook event %s (%s %s) failed, now %s: %s", event.id, event.event, event.object_id, state, message
            )
            return
        await self._inbox.applied(event.id, outcome)
