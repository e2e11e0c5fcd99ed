"""The server's side of webhooks: store verified deliveries once, and hand out signing secrets.

Only deliveries the gateway verified are accepted. Each is stored in the Neo4j inbox under its
dedupe key before the gateway gets its acknowledgement; a redelivery is acknowledged as a
duplicate and stored nothing new.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from graph.webhook_inbox import InboxEvent, WebhookInbox, WebhookRegistration, WebhookRegistry
from server.crypto import DecryptionError, KeyRing, record_aad
from server.errors import FailedPrecondition, InvalidArgument, NotFound, ServiceError
from server.integrations.clickup.webhooks import parse_delivery
from server.validation import require_name

MAX_BODY_BYTES = 1024 * 1024
ROUTE_TTL_SECONDS = 30.0
MAX_BATCH = 256


class GroupCommit:
    """Stores deliveries in as few transactions as possible without delaying any of them.

    Each caller waits for the commit of the transaction that holds its row. While one batch is
    being written, new rows gather for the next, so under load many deliveries share one commit
    and when idle a delivery is written alone, at once.
    """

    def __init__(self, write: Callable[[list[dict[str, Any]]], Awaitable[list[tuple[str, bool]]]]) -> None:
        self._write = write
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[tuple[str, bool]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, row: dict[str, Any]) -> tuple[str, bool]:
        future: asyncio.Future[tuple[str, bool]] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                results = await self._write([row for row, _ in batch])
            except Exception as exc:  # every caller of this batch gets the error (their gateway retries)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


SECRET_TTL_SECONDS = 300


def secret_aad(integration: str, webhook_id: str) -> bytes:
    return record_aad("webhook-secret", integration, webhook_id)


class WebhookDesk:
    def __init__(self, inbox: WebhookInbox, registry: WebhookRegistry, keyring: KeyRing) -> None:
        self.inbox = inbox
        self.registry = registry
        self._keyring = keyring
        self.on_stored: Callable[[], None] = lambda: None  # wakes the worker
        self._commits = GroupCommit(inbox.store_many)
        self._routes: dict[tuple[str, str], tuple[WebhookRegistration | None, float]] = {}

    async def _route(self, integration: str, webhook_id: str) -> WebhookRegistration | None:
        """Which project a webhook feeds, cached briefly: it is read on every delivery and rarely changes."""
        cached = self._routes.get((integration, webhook_id))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        route = await self.registry.get(integration, webhook_id)
        self._routes[(integration, webhook_id)] = (route, time.monotonic() + ROUTE_TTL_SECONDS)
        return route

    async def deliver(
        self, integration: str, raw: bytes, verified: bool, received: datetime | None, headers: dict[str, str]
    ) -> tuple[str, bool]:
        stored = await self._commits.submit(await self._inbox_row(integration, raw, verified, received, headers))
        self.on_stored()
        return stored

    async def _inbox_row(
        self, integration: str, raw: bytes, verified: bool, received: datetime | None, headers: dict[str, str]
    ) -> dict[str, Any]:
        """The checked, parsed and routed delivery, as the inbox stores it."""
        require_name("integration", integration)
        if integration != "clickup":
            raise NotFound(f"{integration!r} does not receive webhooks", reason="NO_WEBHOOKS")
        if not verified:
            raise FailedPrecondition(
                "only deliveries whose signature the gateway verified are accepted", reason="UNVERIFIED"
            )
        if not raw:
            raise InvalidArgument("raw_body", "must not be empty", reason="EMPTY_FIELD")
        if len(raw) > MAX_BODY_BYTES:
            raise InvalidArgument("raw_body", f"is larger than {MAX_BODY_BYTES} bytes", reason="TOO_LARGE")
        received_at = received or datetime.now(UTC)
        parsed = parse_delivery(raw, int(received_at.timestamp() * 1000))
        route = await self._route(integration, parsed.webhook_id)
        kept_headers = {k.lower(): v[:500] for k, v in list(headers.items())[:50]}
        return dict(
            integration=integration,
            webhook_id=parsed.webhook_id,
            event=parsed.event,
            object_id=parsed.object_id,
            dedupe_key=parsed.dedupe_key,
            body=raw.decode("utf-8", errors="replace"),
            headers=json.dumps(kept_headers, sort_keys=True),
            received_at=received_at,
            org_id=route.org_id if route else None,
            project_id=route.project_id if route else None,
            reapply_duplicate=parsed.reapply_duplicate,
        )

    async def deliver_many(
        self, deliveries: list[tuple[str, bytes, bool, datetime | None, dict[str, str]]]
    ) -> list[tuple[str, bool] | ServiceError]:
        """Each delivery stored (sharing group commits) or refused on its own. A failure that is not
        the delivery's fault (the database) fails the whole call, so the caller retries it all;
        dedupe makes that safe."""
        rows: list[dict[str, Any] | ServiceError] = []
        for delivery in deliveries:  # one by one, so the inbox keeps the batch's order
            try:
                rows.append(await self._inbox_row(*delivery))
            except ServiceError as refused:
                rows.append(refused)
        kept = [row for row in rows if not isinstance(row, ServiceError)]
        stored = iter(await asyncio.gather(*(self._commits.submit(row) for row in kept)))
        if kept:
            self.on_stored()
        return [row if isinstance(row, ServiceError) else next(stored) for row in rows]

    async def secret(self, integration: str, webhook_id: str) -> str:
        require_name("integration", integration)
        if not webhook_id or len(webhook_id) > 200:
            raise InvalidArgument("webhook_id", "must be 1-200 characters")
        registration = await self.registry.get(integration, webhook_id)
        if registration is None:
            raise NotFound(f"no {integration} webhook {webhook_id!r} is registered", reason="UNKNOWN_WEBHOOK")
        try:
            return self._keyring.open(registration.secret_ciphertext, secret_aad(integration, webhook_id)).decode()
        except DecryptionError:
            raise FailedPrecondition(
                "the webhook's stored secret cannot be decrypted", reason="SECRET_UNREADABLE"
            ) from None

    async def register(
        self, integration: str, webhook_id: str, org_id: str, project_id: str, workspace_id: str, secret: str
    ) -> None:
        self._routes.pop((integration, webhook_id), None)
        sealed = self._keyring.seal(secret.encode(), secret_aad(integration, webhook_id))
        await self.registry.save(WebhookRegistration(integration, webhook_id, org_id, project_id, workspace_id, sealed))

    async def unregister(self, integration: str, webhook_id: str) -> None:
        self._routes.pop((integration, webhook_id), None)
        await self.registry.remove(integration, webhook_id)

    async def events(
        self, org_id: str, project_id: str, state: str | None, offset: int, limit: int
    ) -> list[InboxEvent]:
        return await self.inbox.list_events(org_id, project_id, state, offset, limit)
