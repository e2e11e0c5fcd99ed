"""The server's side of webhooks: store verified deliveries once, and hand out signing secrets.

Only deliveries the gateway verified are accepted. Each is stored in the Neo4j inbox under its
dedupe key before the gateway gets its acknowledgement; a redelivery is acknowledged as a
duplicate and stored nothing new. Each delivery of a batch is answered on its own:

- refused (nothing stored) when it cannot be routed: no readable ``webhook_id``, a webhook this
  server does not know, or one the caller's token may not deliver to;
- stored DEAD_LETTERED when it is routed but cannot be applied as it is (a broken envelope, text
  no store can hold, or a row the database refused): visible in the event list, replayable, and
  never holding back the deliveries behind it;
- stored PENDING otherwise.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graph.connection import is_transient
from graph.text import storable
from graph.webhook_inbox import (
    EventFilter,
    InboxEvent,
    WebhookHealth,
    WebhookInbox,
    WebhookRegistration,
    WebhookRegistry,
)
from graph.webhook_secrets import WebhookSecrets
from server.auth import Grant
from server.crypto import DecryptionError, KeyRing, record_aad
from server.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, ServiceError
from server.integrations.base import AnyIntegration, Delivery, ParsedDelivery
from server.integrations.registry import IntegrationRegistry
from server.validation import require_name

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
ROUTE_TTL_SECONDS = 30.0
MAX_BATCH = 256
SECRET_TTL_SECONDS = 300
SCHEMES_TTL_SECONDS = 60
MAX_WEBHOOK_ID_CHARS = 200

Row = dict[str, Any]


@dataclass(frozen=True)
class Incoming:
    """One delivery as the gateway hands it over: the exact bytes and what the gateway knows of them."""

    integration: str
    raw_body: bytes
    verified: bool
    received: datetime | None
    headers: dict[str, str]


@dataclass(frozen=True)
class WebhookSecret:
    """What verifies a webhook's deliveries: its secret, the others still accepted during a grace
    period, and how long the answer may be cached (never past the end of a grace period)."""

    secret: str = field(repr=False)
    previous: tuple[str, ...] = field(default=(), repr=False)
    ttl_seconds: int = SECRET_TTL_SECONDS


@dataclass(frozen=True)
class Stored:
    event_id: str
    duplicate: bool
    dead_lettered: bool = False


class GroupCommit:
    """Stores deliveries in as few transactions as possible without delaying any of them.

    Each caller waits for the commit of the transaction that holds its row. While one batch is
    being written, new rows gather for the next, so under load many deliveries share one commit
    and when idle a delivery is written alone, at once.

    One bad row must not fail its neighbours: when a batch fails for a reason that is not the
    database's passing state, its rows are written one by one, and a row that still fails alone is
    handed to ``fallback`` (which makes it a dead letter) and written once more.
    """

    def __init__(
        self,
        write: Callable[[list[Row]], Awaitable[list[tuple[str, bool]]]],
        fallback: Callable[[Row, Exception], Row],
    ) -> None:
        self._write = write
        self._fallback = fallback
        self._waiting: list[tuple[Row, asyncio.Future[tuple[str, bool]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, row: Row) -> tuple[str, bool]:
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
            except Exception as exc:
                if is_transient(exc) or len(batch) == 1:
                    await self._settle_alone(batch, exc)
                else:
                    await self._isolate(batch)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _isolate(self, batch: list[tuple[Row, asyncio.Future[tuple[str, bool]]]]) -> None:
        for row, future in batch:
            try:
                result = (await self._write([row]))[0]
            except Exception as exc:
                await self._settle_alone([(row, future)], exc)
                continue
            if not future.done():
                future.set_result(result)

    async def _settle_alone(self, batch: list[tuple[Row, asyncio.Future[tuple[str, bool]]]], error: Exception) -> None:
        """A transient failure goes back to every caller (their gateway retries); a row the database
        refuses for its content is stored once more as a dead letter."""
        for row, future in batch:
            if future.done():
                continue
            if is_transient(error) or row.get("state") == "DEAD_LETTERED":
                future.set_exception(error)
                continue
            try:
                future.set_result((await self._write([self._fallback(row, error)]))[0])
            except Exception as again:
                future.set_exception(again)


def secret_aad(integration: str, webhook_id: str) -> bytes:
    return record_aad("webhook-secret", integration, webhook_id)


def safe_text(text: str, limit: int = 500) -> str:
    """Text that any store and log line can hold: no lone surrogates, no line breaks, bounded."""
    return storable(text[:limit]).replace("\r", "\\r").replace("\n", "\\n")


def dead_letter(row: Row, error: Exception) -> Row:
    """The row the database refused, made plain: ASCII-safe fields, kept aside with the reason."""
    return {
        **row,
        "event": safe_text(str(row.get("event", ""))),
        "object_id": safe_text(str(row.get("object_id", ""))),
        "body": str(row.get("body", "")).encode("utf-8", "backslashreplace").decode("ascii", "replace"),
        "headers": "{}",
        "dedupe_key": f"{row.get('dedupe_key', '')}|dead-letter",
        "state": "DEAD_LETTERED",
        "last_error": f"the database refused to store it ({type(error).__name__})",
        "reapply_duplicate": False,
    }


class WebhookDesk:
    def __init__(
        self,
        inbox: WebhookInbox,
        registry: WebhookRegistry,
        keyring: KeyRing,
        plugins: IntegrationRegistry | None = None,
        secrets: WebhookSecrets | None = None,
    ) -> None:
        """``secrets`` None: no webhook has a secret besides its current one (no regeneration here)."""
        self.inbox = inbox
        self.registry = registry
        self.secrets = secrets
        self._keyring = keyring
        self._plugins = plugins or IntegrationRegistry()
        self.on_stored: Callable[[], None] = lambda: None  # wakes the worker
        self._commits = GroupCommit(inbox.store_many, dead_letter)
        self._routes: dict[tuple[str, str], tuple[WebhookRegistration | None, float]] = {}

    async def _route(self, integration: str, webhook_id: str) -> WebhookRegistration | None:
        """Which project a webhook feeds, cached briefly: it is read on every delivery and rarely changes."""
        cached = self._routes.get((integration, webhook_id))
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        route = await self.registry.get(integration, webhook_id)
        self._routes[(integration, webhook_id)] = (route, time.monotonic() + ROUTE_TTL_SECONDS)
        return route

    def _receiver(self, integration: str) -> AnyIntegration:
        """The plugin that reads this integration's deliveries."""
        require_name("integration", integration)
        plugin = self._plugins.get(integration)
        if plugin is None or plugin.webhook_scheme is None:
            raise NotFound(f"{integration!r} does not receive webhooks", reason="NO_WEBHOOKS")
        return plugin

    @staticmethod
    def _parse(plugin: AnyIntegration, raw: bytes, headers: dict[str, str], received_ms: int) -> ParsedDelivery:
        """The plugin's reading of a delivery. A plugin that fails unexpectedly refuses this one
        delivery (logged with its traceback), never the whole batch."""
        lowered = {k.lower(): v for k, v in headers.items()}
        try:
            return plugin.parse_delivery(Delivery(raw, lowered, received_ms))
        except ServiceError:
            raise
        except Exception as exc:
            logger.exception("the %s plugin could not read a webhook delivery", plugin.name)
            raise InvalidArgument(
                "raw_body", f"could not be read ({type(exc).__name__})", reason="UNREADABLE_DELIVERY"
            ) from None

    def schemes(self) -> dict[str, str]:
        """Integration -> signing scheme, for every plugin that receives webhooks (the gateway asks)."""
        return {p.name: p.webhook_scheme for p in self._plugins.all() if p.webhook_scheme is not None}

    async def deliver(self, incoming: Incoming, caller: Grant) -> Stored:
        row = await self._inbox_row(incoming, caller)
        event_id, duplicate = await self._commits.submit(row)
        self.on_stored()
        return Stored(event_id, duplicate, row["state"] == "DEAD_LETTERED")

    async def _inbox_row(self, incoming: Incoming, caller: Grant) -> Row:
        """The checked, parsed and routed delivery, as the inbox stores it."""
        integration, raw, headers = incoming.integration, incoming.raw_body, incoming.headers
        plugin = self._receiver(integration)
        if not incoming.verified:
            raise FailedPrecondition(
                "only deliveries whose signature the gateway verified are accepted", reason="UNVERIFIED"
            )
        if not raw:
            raise InvalidArgument("raw_body", "must not be empty", reason="EMPTY_FIELD")
        if len(raw) > MAX_BODY_BYTES:
            raise InvalidArgument("raw_body", f"is larger than {MAX_BODY_BYTES} bytes", reason="TOO_LARGE")
        received_at = incoming.received or datetime.now(UTC)
        parsed = self._parse(plugin, raw, headers, int(received_at.timestamp() * 1000))
        route = await self._route(integration, parsed.webhook_id)
        if route is None:
            # Stored, it would belong to no project: nobody could list, apply or expire it.
            raise NotFound(f"no {integration} webhook {parsed.webhook_id!r} is registered", reason="UNKNOWN_WEBHOOK")
        if not caller.covers(route.org_id, route.project_id):
            raise PermissionDenied(
                f"token {caller.name!r} may not deliver to this webhook's project", reason="WRONG_TENANT"
            )
        kept_headers = {safe_text(k.lower(), 100): safe_text(v) for k, v in list(headers.items())[:50]}
        if parsed.problem:
            logger.warning(
                "webhook delivery for %s/%s set aside as a dead letter: %s",
                route.org_id,
                route.project_id,
                parsed.problem_message,
            )
        return dict(
            integration=integration,
            webhook_id=parsed.webhook_id,
            event=parsed.event,
            object_id=parsed.object_id,
            dedupe_key=parsed.dedupe_key,
            body=raw.decode("utf-8", errors="replace"),
            headers=json.dumps(kept_headers, sort_keys=True),
            received_at=received_at,
            org_id=route.org_id,
            project_id=route.project_id,
            reapply_duplicate=parsed.reapply_duplicate,
            state="DEAD_LETTERED" if parsed.problem else "PENDING",
            last_error=parsed.problem_message,
        )

    async def deliver_many(self, deliveries: list[Incoming], caller: Grant) -> list[Stored | ServiceError]:
        """Each delivery stored (sharing group commits) or refused on its own. Only a failure of the
        database itself (unreachable, leader change) fails the whole call, so the caller retries it
        all; dedupe makes that safe."""
        rows: list[Row | ServiceError] = []
        for delivery in deliveries:  # one by one, so the inbox keeps the batch's order
            try:
                rows.append(await self._inbox_row(delivery, caller))
            except ServiceError as refused:
                rows.append(refused)
        kept = [row for row in rows if not isinstance(row, ServiceError)]
        outcomes = iter(await asyncio.gather(*(self._commits.submit(row) for row in kept), return_exceptions=True))
        if kept:
            self.on_stored()
        answers: list[Stored | ServiceError] = []
        for row in rows:
            if isinstance(row, ServiceError):
                answers.append(row)
                continue
            outcome = next(outcomes)
            if isinstance(outcome, BaseException):
                if is_transient(outcome) or not isinstance(outcome, Exception):
                    raise outcome
                logger.error("a webhook delivery could not be stored even as a dead letter", exc_info=outcome)
                answers.append(ServiceError("the delivery could not be stored; see server logs", reason="NOT_STORED"))
                continue
            answers.append(Stored(outcome[0], outcome[1], row["state"] == "DEAD_LETTERED"))
        return answers

    async def secret(self, integration: str, webhook_id: str, caller: Grant) -> WebhookSecret:
        """The webhook's secret and those still accepted during a regeneration's grace period; the
        answer's TTL ends with the first grace period to end, so the gateway asks again then."""
        require_name("integration", integration)
        if not webhook_id or len(webhook_id) > MAX_WEBHOOK_ID_CHARS or storable(webhook_id) != webhook_id:
            raise InvalidArgument("webhook_id", f"must be 1-{MAX_WEBHOOK_ID_CHARS} characters of text")
        registration = await self.registry.get(integration, webhook_id)
        if registration is None:
            raise NotFound(f"no {integration} webhook {webhook_id!r} is registered", reason="UNKNOWN_WEBHOOK")
        if not caller.covers(registration.org_id, registration.project_id):
            raise PermissionDenied(f"token {caller.name!r} may not read this webhook's secret", reason="WRONG_TENANT")
        current = self._open(integration, webhook_id, registration.secret_ciphertext)
        if self.secrets is None:
            return WebhookSecret(current)
        now = datetime.now(UTC)
        grace = await self.secrets.grace(integration, webhook_id, now)
        ends = []
        previous: list[str] = []
        for accepted in grace.accepted:
            try:
                opened = self._keyring.open(accepted.sealed, secret_aad(integration, webhook_id)).decode()
            except DecryptionError:  # an extra, not the secret: verification goes on without it
                logger.warning("an old secret of %s webhook %s cannot be decrypted; skipped", integration, webhook_id)
                continue
            ends.append(accepted.until)
            if opened != current and opened not in previous:
                previous.append(opened)
        retiring = grace.retiring_until
        if retiring is not None:
            if retiring <= now:  # replaced, and its grace is over: only deleting it is left to do
                raise NotFound(f"{integration} webhook {webhook_id!r} was retired", reason="WEBHOOK_RETIRED")
            ends.append(retiring)
        ttl = SECRET_TTL_SECONDS
        if ends:
            ttl = max(1, min(ttl, math.ceil((min(ends) - now).total_seconds())))
        return WebhookSecret(current, tuple(previous), ttl)

    def _open(self, integration: str, webhook_id: str, sealed: str) -> str:
        try:
            return self._keyring.open(sealed, secret_aad(integration, webhook_id)).decode()
        except DecryptionError:
            raise FailedPrecondition(
                "the webhook's stored secret cannot be decrypted", reason="SECRET_UNREADABLE"
            ) from None

    def seal(self, integration: str, webhook_id: str, secret: str) -> str:
        """A secret sealed for this webhook (its identity is the associated data)."""
        return self._keyring.seal(secret.encode(), secret_aad(integration, webhook_id))

    async def register(
        self, integration: str, webhook_id: str, org_id: str, project_id: str, workspace_id: str, secret: str
    ) -> None:
        self._routes.pop((integration, webhook_id), None)
        sealed = self.seal(integration, webhook_id, secret)
        await self.registry.save(WebhookRegistration(integration, webhook_id, org_id, project_id, workspace_id, sealed))

    async def unregister(self, integration: str, webhook_id: str) -> None:
        self._routes.pop((integration, webhook_id), None)
        await self.registry.remove(integration, webhook_id)
        if self.secrets is not None:
            await self.secrets.forget(integration, webhook_id)

    # Registrations as live sync reads and marks them: through the desk, which owns the registry.

    async def registration(self, integration: str, webhook_id: str) -> WebhookRegistration | None:
        return await self.registry.get(integration, webhook_id)

    async def registrations(self) -> list[WebhookRegistration]:
        return await self.registry.all_registrations()

    async def health(self, org_id: str, project_id: str, integration: str) -> list[WebhookHealth]:
        """The project's webhooks of one integration as last checked."""
        return await self.registry.for_project(org_id, project_id, integration)

    async def record_health(self, integration: str, webhook_id: str, status: str, fail_count: int) -> None:
        await self.registry.record_health(integration, webhook_id, status, fail_count)

    async def release_held(self, org_id: str, project_id: str, integration: str) -> int:
        """Queue the events kept while the integration waited for a new sign-in."""
        released = await self.inbox.release_held(org_id, project_id, integration)
        if released:
            self.on_stored()
        return released

    async def events(
        self, org_id: str, project_id: str, where: EventFilter, offset: int, limit: int
    ) -> list[InboxEvent]:
        return await self.inbox.list_events(org_id, project_id, where, offset, limit)

    async def replay(
        self, org_id: str, project_id: str, event_ids: list[str], start: datetime | None, end: datetime | None
    ) -> int:
        """Queue events again. A dead letter is read afresh from its stored body first (the reader may
        have been fixed since): one that now reads cleanly is queued, one that still does not stays
        aside with the new reason."""
        replayed = await self.inbox.replay(org_id, project_id, event_ids, start, end)  # first: it skips dead letters
        revived = 0
        for dead in await self.inbox.dead_letters(org_id, project_id, event_ids, start, end):
            try:
                parsed = self._parse(
                    self._receiver(dead.integration), dead.body.encode("utf-8"), dead.headers, int(dead.received_ms)
                )
            except ServiceError as still:
                await self.inbox.keep_dead(dead.id, safe_text(still.message))
                continue
            if parsed.problem:
                await self.inbox.keep_dead(dead.id, safe_text(parsed.problem_message))
                continue
            await self.inbox.revive(dead.id, parsed.event, parsed.object_id)
            revived += 1
        self.on_stored()
        return replayed + revived
