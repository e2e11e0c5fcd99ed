"""ClickUp's webhook registry and delivery, including its health rules.

A delivery fails on a non-2xx answer or after 7 seconds; each event is tried 5 times, then
dropped and ``fail_count`` goes up; 100 dropped events, or one 410, suspend the webhook; a
success resets it to active. Deliveries can be held and flushed with duplicates, shuffling,
delays and corruption, to test a receiver against what ClickUp may really do.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import secrets
import string
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from sandbox.clickup.events import compact

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT_S = 7.0
ATTEMPTS = 5
SUSPEND_AT = 100
ALL_EVENTS = (
    "taskCreated",
    "taskUpdated",
    "taskDeleted",
    "taskPriorityUpdated",
    "taskStatusUpdated",
    "taskAssigneeUpdated",
    "taskDueDateUpdated",
    "taskTagUpdated",
    "taskMoved",
    "taskCommentPosted",
    "taskCommentUpdated",
    "taskTimeEstimateUpdated",
    "taskTimeTrackedUpdated",
    "listCreated",
    "listUpdated",
    "listDeleted",
    "folderCreated",
    "folderUpdated",
    "folderDeleted",
    "spaceCreated",
    "spaceUpdated",
    "spaceDeleted",
    "goalCreated",
    "goalUpdated",
    "goalDeleted",
    "keyResultCreated",
    "keyResultUpdated",
    "keyResultDeleted",
)


def sign(secret: str, body: bytes) -> str:
    """X-Signature: lower-case hex HMAC-SHA256 of the raw body, keyed with the webhook secret."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Webhook:
    id: str
    userid: int
    team_id: int
    endpoint: str
    events: list[str]
    secret: str
    client_id: str = "SANDBOXCLIENT0000000000000000000"
    task_id: str | None = None
    list_id: int | None = None
    folder_id: int | None = None
    space_id: int | None = None
    status: str = "active"
    fail_count: int = 0

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "userid": self.userid,
            "team_id": self.team_id,
            "endpoint": self.endpoint,
            "client_id": self.client_id,
            "events": self.events,
            "task_id": self.task_id,
            "list_id": self.list_id,
            "folder_id": self.folder_id,
            "space_id": self.space_id,
            "health": {"status": self.status, "fail_count": self.fail_count},
            "secret": self.secret,
        }

    def wants(self, event: str) -> bool:
        return self.status != "suspended" and ("*" in self.events or event in self.events)


@dataclass
class Delivery:
    webhook_id: str
    event: str
    body: bytes
    signature: str
    attempts: int = 0
    status: int | None = None
    delivered: bool = False
    sent_at: list[float] = field(default_factory=list)


def new_secret() -> str:
    return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(64))


class WebhookHub:
    def __init__(self, *, retry_delay: float = 0.2) -> None:
        self.webhooks: dict[str, Webhook] = {}
        self.hold = False
        self.held: list[tuple[Webhook, dict[str, Any]]] = []
        self.log: list[Delivery] = []
        self.retry_delay = retry_delay
        # One ordered queue and worker per webhook: a dead endpoint never delays another webhook.
        self._queues: dict[str, asyncio.Queue[tuple[Webhook, bytes, str, str]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None

    def create(
        self,
        userid: int,
        team_id: int,
        endpoint: str,
        events: list[str],
        *,
        client_id: str | None = None,
        **location: Any,
    ) -> Webhook:
        """``client_id``: the OAuth app whose token created it (the default stands for a personal token)."""
        hook = Webhook(str(uuid.uuid4()), userid, team_id, endpoint, events, new_secret(), **location)
        if client_id is not None:
            hook.client_id = client_id
        self.webhooks[hook.id] = hook
        return hook

    # ------------------------------------------------------------ emitting
    def emit(self, team_id: str, payload: dict[str, Any]) -> None:
        for hook in list(self.webhooks.values()):
            if str(hook.team_id) == team_id and hook.wants(payload["event"]):
                if self.hold:
                    self.held.append((hook, payload))
                else:
                    self.enqueue(hook, payload)

    def enqueue(self, hook: Webhook, payload: dict[str, Any], *, corrupt: str | None = None) -> None:
        body = compact({**payload, "webhook_id": hook.id})
        signature = sign(hook.secret, body)
        if corrupt == "signature":
            signature = sign(hook.secret + "x", body)
        elif corrupt == "body":
            body = body.replace(b'"event"', b'"event" ', 1)
        queue = self._queues.setdefault(hook.id, asyncio.Queue())
        queue.put_nowait((hook, body, signature, payload["event"]))
        worker = self._workers.get(hook.id)
        if worker is None or worker.done():
            self._workers[hook.id] = asyncio.get_running_loop().create_task(self._run(queue))

    def flush(self, *, duplicate: int = 1, shuffle: bool = False, seed: int | None = None) -> int:
        batch = [item for item in self.held for _ in range(max(1, duplicate))]
        self.held = []
        if shuffle:
            random.Random(seed).shuffle(batch)
        for hook, payload in batch:
            self.enqueue(hook, payload)
        return len(batch)

    async def idle(self) -> None:
        """Wait until every queued delivery has been attempted to completion (callers bound the wait)."""
        for queue in list(self._queues.values()):
            await queue.join()

    # ------------------------------------------------------------ delivering
    async def _run(self, queue: asyncio.Queue[tuple[Webhook, bytes, str, str]]) -> None:
        self._http = self._http or httpx.AsyncClient(timeout=DELIVERY_TIMEOUT_S)
        while True:
            hook, body, signature, event = await queue.get()
            try:
                await self._deliver(hook, body, signature, event)
            except Exception:
                logger.exception("webhook delivery crashed")
            finally:
                queue.task_done()

    async def _deliver(self, hook: Webhook, body: bytes, signature: str, event: str) -> None:
        assert self._http is not None
        record = Delivery(hook.id, event, body, signature)
        self.log.append(record)
        for attempt in range(ATTEMPTS):
            if hook.status == "suspended":
                return
            record.attempts = attempt + 1
            record.sent_at.append(time.time())
            try:
                response = await self._http.post(
                    hook.endpoint,
                    content=body,
                    headers={"Content-Type": "application/json", "X-Signature": signature},
                )
                record.status = response.status_code
            except httpx.HTTPError:
                record.status = None
            if record.status is not None and 200 <= record.status < 300:
                record.delivered = True
                hook.status, hook.fail_count = "active", 0
                return
            if record.status == 410:
                hook.status = "suspended"
                return
            await asyncio.sleep(self.retry_delay * (attempt + 1))
        hook.fail_count += 1
        hook.status = "suspended" if hook.fail_count >= SUSPEND_AT else "failing"

    async def aclose(self) -> None:
        """Stop the workers and wait for them: a task left pending when the loop goes is destroyed
        mid-connect, and its coroutines are never awaited (a warning the test suite treats as an error)."""
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
