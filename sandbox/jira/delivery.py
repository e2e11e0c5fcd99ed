"""Webhook delivery (§6.2, §6.3): the hub that holds registrations and sends signed, retried deliveries.

An event reaches every live admin webhook that names it (issue events only where the owner may
browse the issue and the JQL filter matches), one delivery each, signed with ``X-Hub-Signature``
when the webhook has a secret. An OAuth app's matching dynamic webhooks share one delivery
(``matchedWebhookIds`` lists them all), signed by an HS256 JWT keyed with the app's client secret in
``Authorization``.

Deliveries go out in the background, one ordered queue per target, retried on 408, 409, 425, 429,
5xx, timeouts and connection errors (up to 5 retries, the delay doubling from ``retry_delay``);
other answers are final. Held deliveries wait for a flush, which may duplicate and shuffle them.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.jira.model import Issue, Site
from sandbox.jira.payloads import Build
from sandbox.jira.webhook_filter import Filter

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
DELIVERY_TIMEOUT_S = 5.0
JWT_LIFETIME_S = 180
RETRYABLE = frozenset({408, 409, 425, 429})
PRIMARY, SECONDARY = "Primary", "Secondary"
# Events about one issue: a webhook's JQL filter decides whether it gets them.
ISSUE_PREFIXES = ("jira:issue_", "comment_", "issue_property_", "worklog_", "attachment_")


# ---------------------------------------------------------------- authenticity


def sign(secret: str, body: bytes) -> str:
    """``X-Hub-Signature`` (§6.2, V2-V4): ``sha256=`` + lowercase hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_hs256(secret: str, claims: dict[str, Any]) -> str:
    """A compact HS256 JWT, by hand: the sandbox shares no code with what it tests."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode("utf-8"), f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64url(signature)}"


def compact(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------- registrations and deliveries


@dataclass
class Webhook:
    id: int
    kind: str  # admin | dynamic
    url: str
    events: list[str]
    filter: Filter
    owner: str  # the accountId payloads are rendered for (what it may browse)
    updated_ms: int
    name: str = ""
    secret: str | None = None
    exclude_body: bool = False
    enabled: bool = True
    client_id: str | None = None  # dynamic: the OAuth app
    expires_ms: int | None = None  # dynamic: 30 days after creation or refresh
    field_ids: list[str] | None = None  # dynamic: fieldIdsFilter for jira:issue_updated

    def live(self, now_ms: int) -> bool:
        return self.enabled and (self.expires_ms is None or self.expires_ms > now_ms)


@dataclass
class Delivery:
    webhook_id: int
    kind: str
    event: str
    identifier: str  # the same on retries and on duplicates of this delivery
    flow: str
    url: str
    body: bytes
    matched: list[int]
    secret: str | None = None
    client_id: str | None = None
    corrupt: str | None = None  # signature | body: a forged or tampered delivery
    attempts: int = 0
    status: int | None = None
    delivered: bool = False

    def report(self) -> dict[str, Any]:
        return {
            "webhook_id": self.webhook_id,
            "kind": self.kind,
            "event": self.event,
            "identifier": self.identifier,
            "flow": self.flow,
            "status": self.status,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "matchedWebhookIds": self.matched,
        }


class WebhookHub:
    """Registrations, emission, holding and background delivery, on the sandbox's clock."""

    def __init__(self, clock: Callable[[], float], app_secrets: dict[str, str], retry_delay: float = 0.05) -> None:
        self.clock = clock
        self.app_secrets = app_secrets
        self.retry_delay = retry_delay
        self.timeout = DELIVERY_TIMEOUT_S
        self.webhooks: dict[int, Webhook] = {}
        self.hold = False
        self.held: list[Delivery] = []
        self.log: list[Delivery] = []
        self.emitted = 0  # events the site produced, whether or not anyone subscribed
        self._next_id = 1
        self._pending = 0  # queued or in flight
        self._queues: dict[str, asyncio.Queue[Delivery]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def add(self, hook: Webhook) -> Webhook:
        hook.id = self._next_id
        self._next_id += 1
        self.webhooks[hook.id] = hook
        return hook

    def live(self, kind: str, client_id: str | None = None) -> list[Webhook]:
        now = self.now_ms()
        return [
            h
            for h in self.webhooks.values()
            if h.kind == kind and (client_id is None or h.client_id == client_id) and h.live(now)
        ]

    # ------------------------------------------------------------ emitting
    def emit(self, site: Site, event: str, build: Build, *, issue: Issue | None = None, flow: str = PRIMARY) -> int:
        """Queue (or hold) one delivery per admin webhook and per app that wants the event; payloads now."""
        self.emitted += 1
        now = self.now_ms()
        rendered: dict[str, dict[str, Any]] = {}
        by_app: dict[str, list[Webhook]] = {}
        count = 0
        for hook in list(self.webhooks.values()):
            if not self._wants(site, hook, event, issue, now):
                continue
            payload = rendered.setdefault(hook.owner, build(hook.owner))
            if not _fields_match(hook, event, payload):
                continue
            if hook.kind == "dynamic" and hook.client_id is not None:
                by_app.setdefault(hook.client_id, []).append(hook)
                continue
            self._queue_or_hold(self._delivery([hook], event, payload, issue, site, flow))
            count += 1
        for hooks in by_app.values():
            self._queue_or_hold(self._delivery(hooks, event, rendered[hooks[0].owner], issue, site, flow))
            count += 1
        return count

    def _wants(self, site: Site, hook: Webhook, event: str, issue: Issue | None, now: int) -> bool:
        if not hook.live(now) or event not in hook.events:
            return False
        if issue is None or not event.startswith(ISSUE_PREFIXES):
            return True
        return site.can_browse(hook.owner, site.projects[issue.project_id]) and hook.filter.matches(site, issue)

    def _delivery(
        self, hooks: list[Webhook], event: str, payload: dict[str, Any], issue: Issue | None, site: Site, flow: str
    ) -> Delivery:
        first = hooks[0]
        matched = sorted(h.id for h in hooks)
        body = b"" if first.exclude_body else compact({**payload, "matchedWebhookIds": matched})
        return Delivery(
            webhook_id=first.id,
            kind=first.kind,
            event=event,
            identifier=str(uuid.uuid4()),
            flow=flow,
            url=_expand_url(first.url, site, issue),
            body=body,
            matched=matched,
            secret=first.secret,
            client_id=first.client_id,
        )

    def _queue_or_hold(self, delivery: Delivery) -> None:
        if self.hold:
            self.held.append(delivery)
        else:
            self.enqueue(delivery)

    def direct(self, hook: Webhook, payload: dict[str, Any], flow: str, corrupt: str | None) -> Delivery:
        """A delivery of a given payload, byte for byte as given (to replay documented bodies)."""
        return Delivery(
            webhook_id=hook.id,
            kind=hook.kind,
            event=str(payload.get("webhookEvent", "")),
            identifier=str(uuid.uuid4()),
            flow=flow,
            url=hook.url,
            body=compact(payload),
            matched=[hook.id],
            secret=hook.secret,
            client_id=hook.client_id,
            corrupt=corrupt,
        )

    def flush(self, *, duplicate: int = 1, shuffle: bool = False, seed: int | None = None) -> int:
        """Send every held delivery ``duplicate`` times (same identifier), shuffled when asked."""
        batch = [d for d in self.held for _ in range(max(1, duplicate))]
        self.held = []
        if shuffle:
            random.Random(seed).shuffle(batch)
        for delivery in batch:
            self.enqueue(dataclasses.replace(delivery))
        return len(batch)

    # ------------------------------------------------------------ delivering
    def enqueue(self, delivery: Delivery) -> None:
        """One ordered queue per admin webhook or app; a dead endpoint never delays another."""
        key = f"app:{delivery.client_id}" if delivery.client_id else f"hook:{delivery.webhook_id}"
        queue = self._queues.setdefault(key, asyncio.Queue())
        queue.put_nowait(delivery)
        self._pending += 1
        worker = self._workers.get(key)
        if worker is None or worker.done():
            self._workers[key] = asyncio.get_running_loop().create_task(self._run(queue))

    async def idle(self) -> None:
        """Return once every queued delivery has been attempted to completion (callers bound the wait)."""
        while self._pending:
            for queue in list(self._queues.values()):
                await queue.join()

    async def _run(self, queue: asyncio.Queue[Delivery]) -> None:
        while True:
            delivery = await queue.get()
            try:
                await self._deliver(delivery)
            except Exception:
                logger.exception("webhook delivery crashed")
            finally:
                self._pending -= 1
                queue.task_done()

    async def _deliver(self, delivery: Delivery) -> None:
        self.log.append(delivery)
        # A client per delivery: nothing is left open when the sandbox's server stops.
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            await self._attempts(http, delivery)

    async def _attempts(self, http: httpx.AsyncClient, delivery: Delivery) -> None:
        for attempt in range(MAX_RETRIES + 1):
            hook = self.webhooks.get(delivery.webhook_id)
            if hook is None or not hook.live(self.now_ms()):
                return  # deleted, disabled or expired meanwhile: Jira stops trying
            delivery.attempts = attempt + 1
            try:
                response = await http.post(
                    delivery.url, content=self._body(delivery), headers=self._headers(delivery, attempt)
                )
                delivery.status = response.status_code
            except httpx.HTTPError:
                delivery.status = None  # timeout or connection error: retried
            if delivery.status is not None and 200 <= delivery.status < 300:
                delivery.delivered = True
                return
            if delivery.status is not None and delivery.status not in RETRYABLE and delivery.status < 500:
                return
            if attempt < MAX_RETRIES:
                await asyncio.sleep(self.retry_delay * 2**attempt)

    @staticmethod
    def _body(delivery: Delivery) -> bytes:
        if delivery.corrupt == "body":
            return delivery.body.replace(b"{", b"{ ", 1) if delivery.body else b" "
        return delivery.body

    def _headers(self, delivery: Delivery, attempt: int) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "X-Atlassian-Webhook-Identifier": delivery.identifier,
            "X-Atlassian-Webhook-Flow": delivery.flow,
        }
        if attempt:
            headers["X-Atlassian-Webhook-Retry"] = str(attempt)
        forged = delivery.corrupt == "signature"
        if delivery.client_id is not None:
            secret = self.app_secrets.get(delivery.client_id, "")
            issued = int(self.clock())
            claims = {"iss": delivery.client_id, "iat": issued, "exp": issued + JWT_LIFETIME_S}
            headers["Authorization"] = "Bearer " + jwt_hs256(secret + ("forged" if forged else ""), claims)
        elif delivery.secret is not None or forged:
            headers["X-Hub-Signature"] = sign((delivery.secret or "") + ("forged" if forged else ""), delivery.body)
        return headers

    async def aclose(self) -> None:
        """Stop the delivery workers and wait for them, before the server's event loop goes: a task
        left pending there is destroyed mid-connect, and its coroutines are never awaited."""
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._workers.clear()


def _fields_match(hook: Webhook, event: str, payload: dict[str, Any]) -> bool:
    """``fieldIdsFilter``: an update reaches the webhook only if it changed one of those fields."""
    if not hook.field_ids or event != "jira:issue_updated":
        return True
    items = payload.get("changelog", {}).get("items", [])
    return any(item.get("fieldId", item.get("field")) in hook.field_ids for item in items)


def _expand_url(url: str, site: Site, issue: Issue | None) -> str:
    """Admin webhook URLs may name ``${issue.key}``-style variables (§6.1)."""
    if issue is None or "${" not in url:
        return url
    owner = site.projects[issue.project_id]
    for name, value in {
        "issue.key": issue.key,
        "issue.id": issue.id,
        "project.key": owner.key,
        "project.id": owner.id,
    }.items():
        url = url.replace("${" + name + "}", value)
    return url
