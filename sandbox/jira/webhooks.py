"""Jira's webhooks in the sandbox (§6): admin and dynamic registrations, and signed, retried deliveries.

Admin webhooks (``/rest/webhooks/1.0/webhook``, site administrators, basic auth) get every event they
name, filtered by JQL for issue-related ones, one delivery per webhook, signed with
``X-Hub-Signature`` when they have a secret. Dynamic webhooks (``/rest/api/3/webhook``, OAuth apps
only) take a JQL subset and a few issue and comment events, expire 30 days after creation or refresh,
and an app's matching webhooks share one delivery (``matchedWebhookIds`` lists them all), signed
by an HS256 JWT keyed with the app's client secret in ``Authorization``.

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
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.jira import issues, jql, render
from sandbox.jira.endpoint import Viewer, endpoint, offset_page, unauthenticated
from sandbox.jira.model import Board, Comment, Issue, Link, Project, Site, Sprint, Version
from sandbox.jira.state import ApiError, Sandbox, error_collection

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
DELIVERY_TIMEOUT_S = 5.0
JWT_LIFETIME_S = 180
DYNAMIC_LIFETIME_MS = 30 * 86_400_000
RETRYABLE = frozenset({408, 409, 425, 429})
PRIMARY, SECONDARY = "Primary", "Secondary"
FILTER_KEY = "issue-related-events-section"
NOT_AN_APP = "Only Connect and OAuth 2.0 apps can use this operation."
ADMIN_ONLY = "You must be a Jira administrator to manage webhooks."

ADMIN_EVENTS = frozenset(
    [
        *(f"jira:issue_{x}" for x in ("created", "updated", "deleted")),
        "issue_property_set",
        "issue_property_deleted",
        *(f"{kind}_{x}" for kind in ("comment", "worklog", "issuetype") for x in ("created", "updated", "deleted")),
        *(f"{kind}_{x}" for kind in ("attachment", "issuelink") for x in ("created", "deleted")),
        *(f"project_{x}" for x in ("created", "updated", "deleted", "soft_deleted", "restored_deleted")),
        "project_archived",
        "project_restored_archived",
        *(f"jira:version_{x}" for x in ("created", "updated", "deleted", "released", "unreleased", "moved")),
        *(f"filter_{x}" for x in ("created", "updated", "deleted")),
        *(f"user_{x}" for x in ("created", "updated", "deleted")),
        *(
            f"option_{x}_changed"
            for x in ("voting", "watching", "unassigned_issues", "subtasks", "attachments", "issuelinks")
        ),
        "option_timetracking_changed",
        *(f"sprint_{x}" for x in ("created", "updated", "deleted", "started", "closed")),
        *(f"board_{x}" for x in ("created", "updated", "deleted", "configuration_changed")),
        "app_access_to_objects_blocked",
        "app_access_to_objects_in_container_blocked",
        "jira_expression_evaluation_failed",
    ]
)
DYNAMIC_EVENTS = frozenset(
    [
        *(f"jira:issue_{x}" for x in ("created", "updated", "deleted")),
        *(f"comment_{x}" for x in ("created", "updated", "deleted")),
        "issue_property_set",
        "issue_property_deleted",
    ]
)
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


# ---------------------------------------------------------------- JQL filters

FILTER_FIELDS = {"project", "issuetype", "type", "status", "assignee", "reporter", "issuekey", "key"}


@dataclass(frozen=True)
class Clause:
    field: str
    negated: bool
    values: frozenset[str]  # lower-cased

    def holds(self, site: Site, issue: Issue) -> bool:
        return bool(_candidates(site, issue, self.field) & self.values) != self.negated


@dataclass(frozen=True)
class Filter:
    """The dynamic-webhook JQL subset (§6.1): OR of AND-ed clauses; no clauses matches everything."""

    text: str
    any_of: tuple[tuple[Clause, ...], ...] = ()

    def matches(self, site: Site, issue: Issue) -> bool:
        return not self.any_of or any(all(c.holds(site, issue) for c in group) for group in self.any_of)


def _candidates(site: Site, issue: Issue, name: str) -> set[str]:
    """What an issue answers to for one clause field: ids, keys and names, lower-cased."""
    if name == "project":
        owner = site.projects[issue.project_id]
        return {owner.id, owner.key.lower()}
    if name in ("issuetype", "type"):
        kind = site.issue_types[issue.type_id]
        return {kind.id, kind.name.lower()}
    if name == "status":
        return {issue.status_id, site.statuses[issue.status_id].name.lower()}
    if name in ("assignee", "reporter"):
        person = issue.assignee if name == "assignee" else issue.reporter
        return {"empty", "null"} if person is None else {person.lower()}
    return {issue.id, issue.key.lower(), *(k.lower() for k in issue.old_keys)}


def parse_filter(text: str) -> Filter:
    """Parse a filter or raise ``jql.JqlError`` with Jira's message for it."""
    tokens = jql.tokenize(text)
    groups: list[tuple[Clause, ...]] = []
    current: list[Clause] = []
    position = 0

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise jql.JqlError(jql.END_OF_QUERY)
        position += 1
        return tokens[position - 1].text

    while position < len(tokens):
        name = take().lower()
        if name not in FILTER_FIELDS:
            raise jql.JqlError(f"The clause {tokens[position - 1].text} is unsupported")
        operator = take().lower()
        negated = operator in ("!=", "not")
        if operator == "not" and take().lower() != "in":
            raise jql.JqlError("Error in the JQL Query: Expecting 'in' after 'not'.")
        if operator in ("in", "not"):
            if take() != "(":
                raise jql.JqlError("Error in the JQL Query: Expecting '(' after 'in'.")
            values = {take()}
            while (separator := take()) == ",":
                values.add(take())
            if separator != ")":
                raise jql.JqlError("Error in the JQL Query: Expecting ')' to close the list.")
        elif operator in ("=", "!="):
            values = {take()}
        else:
            raise jql.JqlError(f"The operator '{operator}' is unsupported; use =, !=, IN or NOT IN.")
        current.append(Clause(name, negated, frozenset(v.lower() for v in values)))
        if position < len(tokens):
            joiner = take().lower()
            if joiner not in ("and", "or"):
                raise jql.JqlError(f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{joiner}'.")
            if joiner == "or":
                groups.append(tuple(current))
                current = []
            if position >= len(tokens):
                raise jql.JqlError(jql.END_OF_QUERY)
    if current:
        groups.append(tuple(current))
    return Filter(text, tuple(groups))


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


Build = Callable[[str], dict[str, Any]]  # the payload as one owner (accountId) may see it


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

    def close(self) -> None:
        for worker in self._workers.values():
            worker.cancel()


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


# ---------------------------------------------------------------- REST: admin webhooks (§6.1)


def hub_of(sandbox: Sandbox) -> WebhookHub:
    hub: WebhookHub = sandbox.hub
    return hub


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise error_collection(400, "The request body is not valid JSON.") from None


def _require_admin(sandbox: Sandbox, viewer: Viewer) -> str:
    if viewer is None:
        raise unauthenticated()
    if not sandbox.site.is_admin(viewer):
        raise error_collection(403, ADMIN_ONLY)
    return viewer


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) > len("https://")


def _admin_fields(body: Any) -> dict[str, Any]:
    """Validated registration fields, or a 400 ErrorCollection naming each bad one."""
    if not isinstance(body, dict):
        raise error_collection(400, "The request body must be a JSON object.")
    errors: dict[str, str] = {}
    name, url, events = body.get("name"), body.get("url"), body.get("events", [])
    filters, exclude, secret = body.get("filters", {}), body.get("excludeBody", False), body.get("secret")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "The webhook name is required."
    if not _is_url(url):
        errors["url"] = "The URL must be an absolute http or https URL."
    if not isinstance(events, list) or not all(isinstance(e, str) and e in ADMIN_EVENTS for e in events):
        unknown = [e for e in events if e not in ADMIN_EVENTS] if isinstance(events, list) else [events]
        errors["events"] = f"Unknown event(s): {', '.join(map(str, unknown))}."
    text = filters.get(FILTER_KEY, "") if isinstance(filters, dict) else None
    parsed = Filter("")
    if not isinstance(text, str):
        errors["filters"] = f"filters must be an object with a string '{FILTER_KEY}'."
    elif text.strip():
        try:
            parsed = parse_filter(text)
        except jql.JqlError as exc:
            errors["filters"] = str(exc)
    if not isinstance(exclude, bool):
        errors["excludeBody"] = "excludeBody must be true or false."
    if secret is not None and (not isinstance(secret, str) or not secret):
        errors["secret"] = "The secret must be a non-empty string."
    if errors:
        raise ApiError(400, {"errorMessages": [], "errors": errors})
    return {"name": name, "url": url, "events": list(events), "filter": parsed, "exclude": exclude, "secret": secret}


def render_admin(site: Site, hook: Webhook) -> dict[str, Any]:
    person = site.users.get(hook.owner)
    return {
        "name": hook.name,
        "url": hook.url,
        "excludeBody": hook.exclude_body,
        "filters": {FILTER_KEY: hook.filter.text},
        "events": hook.events,
        "enabled": hook.enabled,
        "self": f"{site.url}/rest/webhooks/1.0/webhook/{hook.id}",
        "lastUpdatedUser": hook.owner,
        "lastUpdatedDisplayName": person.display_name if person else "",
        "lastUpdated": hook.updated_ms,
    }


def _admin_hook(sandbox: Sandbox, request: Request) -> Webhook:
    raw = request.path_params["webhook_id"]
    hook = hub_of(sandbox).webhooks.get(int(raw)) if raw.isdigit() else None
    if hook is None or hook.kind != "admin":
        raise error_collection(404, f"No webhook with id '{raw}' exists.")
    return hook


def _apply(hook: Webhook, fields: dict[str, Any], owner: str, now: int) -> None:
    hook.name, hook.url, hook.events, hook.filter = fields["name"], fields["url"], fields["events"], fields["filter"]
    hook.exclude_body, hook.secret, hook.owner, hook.updated_ms = fields["exclude"], fields["secret"], owner, now


@endpoint
async def admin_collection(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    owner = _require_admin(sandbox, viewer)
    hub = hub_of(sandbox)
    if request.method == "GET":
        hooks = sorted((h for h in hub.webhooks.values() if h.kind == "admin"), key=lambda h: h.id)
        return [render_admin(sandbox.site, h) for h in hooks]
    fields = _admin_fields(await _json(request))
    hook = Webhook(0, "admin", fields["url"], [], Filter(""), owner, 0)
    _apply(hook, fields, owner, hub.now_ms())
    hub.add(hook)
    return JSONResponse(render_admin(sandbox.site, hook), status_code=201)


@endpoint
async def admin_item(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    owner = _require_admin(sandbox, viewer)
    hook = _admin_hook(sandbox, request)
    if request.method == "DELETE":
        del hub_of(sandbox).webhooks[hook.id]
        return Response(status_code=204)
    if request.method == "PUT":
        _apply(hook, _admin_fields(await _json(request)), owner, hub_of(sandbox).now_ms())
    return render_admin(sandbox.site, hook)


# ---------------------------------------------------------------- REST: dynamic webhooks (§6.1)


def _require_app(request: Request) -> str:
    """The OAuth app behind the call: the gateway puts its client id in the ASGI scope."""
    client_id = request.scope.get("jira.oauth_client_id")
    if not client_id:
        raise error_collection(403, NOT_AN_APP)
    return str(client_id)


def _dynamic_entry(entry: Any) -> tuple[list[str], Filter, list[str] | None] | list[str]:
    """One ``webhooks[]`` entry: its parts, or the errors Jira reports for it in the result list."""
    if not isinstance(entry, dict):
        return ["The webhook details must be an object."]
    events, text, field_ids = entry.get("events"), entry.get("jqlFilter"), entry.get("fieldIdsFilter")
    errors: list[str] = []
    if not isinstance(events, list) or not events:
        errors.append("At least one event is required.")
    else:
        errors += [f"The event {e} is not supported" for e in events if e not in DYNAMIC_EVENTS]
    parsed = Filter("")
    if not isinstance(text, str) or not text.strip():
        errors.append("The jqlFilter is required.")
    else:
        try:
            parsed = parse_filter(text)
        except jql.JqlError as exc:
            errors.append(str(exc))
    if field_ids is not None:
        if not isinstance(field_ids, list) or not all(isinstance(f, str) for f in field_ids):
            errors.append("fieldIdsFilter must be a list of field ids.")
        elif not isinstance(events, list) or "jira:issue_updated" not in events:
            errors.append("fieldIdsFilter can only be used with the jira:issue_updated event.")
    if errors:
        return errors
    assert isinstance(events, list)
    return [str(e) for e in events], parsed, field_ids


def render_dynamic(hook: Webhook) -> dict[str, Any]:
    body: dict[str, Any] = {"id": hook.id, "jqlFilter": hook.filter.text, "events": hook.events}
    if hook.field_ids is not None:
        body["fieldIdsFilter"] = hook.field_ids
    return body | {"expirationDate": hook.expires_ms, "url": hook.url}


def _webhook_ids(body: Any) -> list[int]:
    ids = body.get("webhookIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise error_collection(400, "webhookIds must be a non-empty list of webhook ids.")
    return ids


@endpoint
async def dynamic_collection(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    client_id = _require_app(request)
    hub = hub_of(sandbox)
    if request.method == "GET":
        return offset_page(request, [render_dynamic(h) for h in hub.live("dynamic", client_id)], 100, 100)
    body = await _json(request)
    if request.method == "DELETE":
        wanted = set(_webhook_ids(body))
        for hook in hub.live("dynamic", client_id):
            if hook.id in wanted:
                del hub.webhooks[hook.id]
        return Response(status_code=202)
    return _register_dynamic(sandbox, body, client_id, viewer)


def _register_dynamic(sandbox: Sandbox, body: Any, client_id: str, viewer: Viewer) -> Any:
    hub = hub_of(sandbox)
    url = body.get("url") if isinstance(body, dict) else None
    entries = body.get("webhooks") if isinstance(body, dict) else None
    if not _is_url(url) or not isinstance(entries, list) or not entries:
        raise error_collection(400, "A url and a non-empty list of webhooks are required.")
    assert isinstance(url, str)
    if any(h.url != url for h in hub.live("dynamic", client_id)):
        raise error_collection(400, "Only a single URL per app is allowed to be registered.")
    owner = viewer or next((a for a in sandbox.site.users if sandbox.site.is_admin(a)), "")
    now = hub.now_ms()
    results: list[dict[str, Any]] = []
    for entry in entries:
        parsed = _dynamic_entry(entry)
        if isinstance(parsed, list):
            results.append({"errors": parsed})
            continue
        events, jql_filter, field_ids = parsed
        hook = Webhook(0, "dynamic", url, events, jql_filter, owner, now, client_id=client_id)
        hook.expires_ms, hook.field_ids = now + DYNAMIC_LIFETIME_MS, field_ids
        results.append({"createdWebhookId": hub.add(hook).id})
    return {"webhookRegistrationResult": results}


@endpoint
async def dynamic_refresh(sandbox: Sandbox, request: Request, viewer: Viewer) -> Any:
    client_id = _require_app(request)
    hub = hub_of(sandbox)
    wanted = set(_webhook_ids(await _json(request)))
    expires = hub.now_ms() + DYNAMIC_LIFETIME_MS
    for hook in hub.live("dynamic", client_id):
        if hook.id in wanted:
            hook.expires_ms = expires
    return {"expirationDate": expires}


def routes() -> list[BaseRoute]:
    return [
        Route("/rest/webhooks/1.0/webhook", admin_collection, methods=["GET", "POST"]),
        Route("/rest/webhooks/1.0/webhook/{webhook_id}", admin_item, methods=["GET", "PUT", "DELETE"]),
        Route("/rest/api/3/webhook", dynamic_collection, methods=["GET", "POST", "DELETE"]),
        Route("/rest/api/3/webhook/refresh", dynamic_refresh, methods=["PUT"]),
    ]


# ---------------------------------------------------------------- payloads (§6.4): the v2 form


def wiki(doc: dict[str, Any] | None) -> str | None:
    """ADF as Jira's wiki markup, which webhook (v2) bodies carry instead of documents."""
    if doc is None:
        return None
    return "\n\n".join(text for text in (_wiki_block(node) for node in doc.get("content", [])) if text)


def _wiki_block(node: dict[str, Any]) -> str:
    kind, children = node.get("type"), node.get("content", [])
    if kind == "heading":
        return f"h{node.get('attrs', {}).get('level', 1)}. {_wiki_inline(children)}"
    if kind in ("bulletList", "orderedList"):
        bullet = "*" if kind == "bulletList" else "#"
        return "\n".join(f"{bullet} " + " ".join(_wiki_block(c) for c in item.get("content", [])) for item in children)
    if kind == "codeBlock":
        language = node.get("attrs", {}).get("language")
        opening = f"{{code:{language}}}" if language else "{code}"
        return f"{opening}{_wiki_inline(children)}{{code}}"
    if kind == "rule":
        return "----"
    if kind == "paragraph":
        return _wiki_inline(children)
    return "\n".join(_wiki_block(c) for c in children)


def _wiki_inline(nodes: list[dict[str, Any]]) -> str:
    out: list[str] = []
    for node in nodes:
        kind, attrs = node.get("type"), node.get("attrs", {})
        if kind == "text":
            text = str(node.get("text", ""))
            for mark in node.get("marks", []):
                wrap = {"strong": "*", "em": "_", "strike": "-"}.get(mark.get("type"), "")
                text = f"{wrap}{text}{wrap}"
                if mark.get("type") == "code":
                    text = "{{" + text + "}}"
                if mark.get("type") == "link":
                    text = f"[{text}|{mark.get('attrs', {}).get('href', '')}]"
            out.append(text)
        elif kind == "mention":
            out.append(f"[~accountid:{attrs.get('id', '')}]")
        elif kind == "hardBreak":
            out.append("\n")
        elif kind == "emoji":
            out.append(str(attrs.get("shortName", attrs.get("text", ""))))
        elif kind in ("inlineCard", "blockCard"):
            out.append(f"[{attrs.get('url', '')}|{attrs.get('url', '')}|smart-link]")
    return "".join(out)


def v2(value: Any) -> Any:
    """``self`` links of the v2 API: payloads are v2 whatever the REST version the site serves."""
    if isinstance(value, str):
        return value.replace("/rest/api/3/", "/rest/api/2/", 1) if "/rest/api/3/" in value else value
    if isinstance(value, dict):
        return {k: v2(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v2(v) for v in value]
    return value


def issue_v2(site: Site, issue: Issue, viewer: str) -> dict[str, Any]:
    document = issues.issue_document(site, issue, issues.select_fields(site, ["*navigable"]), viewer)
    document.pop("expand", None)
    document["fields"]["description"] = wiki(issue.description)
    body: dict[str, Any] = v2(document)
    return body


def issue_brief(site: Site, issue: Issue, viewer: str) -> dict[str, Any]:
    """The short issue of comment events: summary, type, project, assignee, priority, status."""
    document = issue_v2(site, issue, viewer)
    wanted = ("summary", "issuetype", "project", "assignee", "priority", "status")
    return {**document, "fields": {k: document["fields"].get(k) for k in wanted}}


def comment_v2(site: Site, note: Comment, viewer: str) -> dict[str, Any]:
    body: dict[str, Any] = v2(render.comment(site, note, viewer))
    body["body"] = wiki(note.body) or ""
    if note.visibility is not None:
        body["visibility"] = {"type": note.visibility_type, "value": note.visibility, "identifier": note.visibility}
    return body


def change(
    name: str, old: Any, old_text: Any, new: Any, new_text: Any, *, field_id: str | None = "", custom: bool = False
) -> dict[str, Any]:
    """A changelog item (§4.5); pseudo-fields (``Key``, ``Workflow``, ``Link``) have no ``fieldId``."""
    item: dict[str, Any] = {"field": name, "fieldtype": "custom" if custom else "jira"}
    if field_id is not None:
        item["fieldId"] = field_id or name
    return item | {"from": old, "fromString": old_text, "to": new, "toString": new_text}


def _person(site: Site, name: str, old: str | None, new: str | None) -> dict[str, Any]:
    def shown(account: str | None) -> str | None:
        return None if account is None else site.users[account].display_name

    return change(name, old, shown(old), new, shown(new)) | {"tmpFromAccountId": old, "tmpToAccountId": new}


def _sprints(site: Site, ids: list[int]) -> tuple[str, str]:
    return ", ".join(str(i) for i in ids), ", ".join(site.sprints[i].name for i in ids if i in site.sprints)


def diff(site: Site, old: Issue, new: Issue) -> list[dict[str, Any]]:
    """Changelog items between two states of an issue, as Jira names them."""
    items: list[dict[str, Any]] = []
    status = change(
        "status", old.status_id, site.statuses[old.status_id].name, new.status_id, site.statuses[new.status_id].name
    )
    if old.project_id != new.project_id:
        before, after = site.projects[old.project_id], site.projects[new.project_id]
        items += [
            change("project", before.id, before.name, after.id, after.name),
            change("Key", None, old.key, None, new.key, field_id=None),
            status,
            change(
                "Workflow",
                f"1{before.id}",
                f"{before.key} workflow",
                f"1{after.id}",
                f"{after.key} workflow",
                field_id=None,
            ),
        ]
    elif old.status_id != new.status_id:
        items.append(status)
    if (old.resolved_ms is None) != (new.resolved_ms is None):
        done = ("10000", "Done")
        items.append(
            change(
                "resolution", *(done if old.resolved_ms else (None, None)), *(done if new.resolved_ms else (None, None))
            )
        )
    if old.summary != new.summary:
        items.append(change("summary", None, old.summary, None, new.summary))
    if old.priority_id != new.priority_id:
        names = site.priorities
        items.append(
            change(
                "priority", old.priority_id, names[old.priority_id].name, new.priority_id, names[new.priority_id].name
            )
        )
    if old.assignee != new.assignee:
        items.append(_person(site, "assignee", old.assignee, new.assignee))
    if old.labels != new.labels:
        items.append(change("labels", None, " ".join(old.labels), None, " ".join(new.labels)))
    if old.description != new.description:
        items.append(change("description", None, wiki(old.description), None, wiki(new.description)))
    if old.sprint_ids != new.sprint_ids:
        items.append(
            change(
                "Sprint",
                *_sprints(site, old.sprint_ids),
                *_sprints(site, new.sprint_ids),
                field_id=site.sprint_field,
                custom=True,
            )
        )
    return items


def created_items(site: Site, issue: Issue) -> list[dict[str, Any]]:
    """``jira:issue_created``'s changelog: the initial values (§6.4)."""
    items = [
        _person(site, "assignee", None, issue.assignee),
        change("description", None, None, None, wiki(issue.description)),
        change("priority", None, None, issue.priority_id, site.priorities[issue.priority_id].name),
        _person(site, "reporter", None, issue.reporter),
        change("status", None, None, issue.status_id, site.statuses[issue.status_id].name),
        change("summary", None, None, None, issue.summary),
    ]
    if issue.labels:
        items.append(change("labels", None, "", None, " ".join(issue.labels)))
    return items


def type_name(items: list[dict[str, Any]]) -> str:
    """``issue_event_type_name`` for an update: a move, a transition, an assignment or a plain edit."""
    fields = {item["field"] for item in items}
    if "project" in fields:
        return "issue_moved"
    if "status" in fields:
        return "issue_generic"
    return "issue_assigned" if fields == {"assignee"} else "issue_updated"


def link_item(site: Site, link: Link, issue_id: str, *, removed: bool) -> dict[str, Any]:
    """The ``Link`` item each end's changelog gets, worded from that end."""
    kind = site.link_types[link.type_id]
    outward = link.outward_from == issue_id
    other = site.issues[link.inward_to if outward else link.outward_from]
    text = f"This issue {kind.outward if outward else kind.inward} {other.key}"
    return (
        change("Link", other.key, text, None, None, field_id=None)
        if removed
        else change("Link", None, None, other.key, text, field_id=None)
    )


def issue_event(
    site: Site,
    event: str,
    issue: Issue,
    actor: str,
    timestamp: int,
    kind: str,
    items: list[dict[str, Any]] | None,
    extra: dict[str, Any] | None = None,
) -> Build:
    changelog_id = str(site.next_number("changelog", [100_000]))
    note = (extra or {}).get("comment")

    def build(viewer: str) -> dict[str, Any]:
        body: dict[str, Any] = {"timestamp": timestamp, "webhookEvent": event, "issue_event_type_name": kind}
        body |= {"user": v2(render.user(site, actor, viewer)), "issue": issue_v2(site, issue, viewer)}
        if items is not None:
            body["changelog"] = {"id": changelog_id, "items": items}
        if isinstance(note, Comment):
            body["comment"] = comment_v2(site, note, viewer)
        return body

    return build


def issue_deleted(site: Site, issue: Issue, actor: str, timestamp: int) -> Build:
    """The issue's last state; no ``issue_event_type_name`` or ``changelog`` (§6.4 says they may lack)."""
    return lambda viewer: {
        "timestamp": timestamp,
        "webhookEvent": "jira:issue_deleted",
        "user": v2(render.user(site, actor, viewer)),
        "issue": issue_v2(site, issue, viewer),
    }


def comment_event(site: Site, event: str, note: Comment, timestamp: int) -> Build:
    """No top-level ``user`` on comment events (§6.4)."""
    issue = site.issues[note.issue_id]
    return lambda viewer: {
        "timestamp": timestamp,
        "webhookEvent": event,
        "comment": comment_v2(site, note, viewer),
        "issue": issue_brief(site, issue, viewer),
    }


def link_event(site: Site, event: str, link: Link, timestamp: int) -> Build:
    """Numeric ids; ``sourceIssueId`` is the outward side (V9)."""
    kind = site.link_types[link.type_id]
    body = {
        "timestamp": timestamp,
        "webhookEvent": event,
        "issueLink": {
            "id": int(link.id),
            "sourceIssueId": int(link.outward_from),
            "destinationIssueId": int(link.inward_to),
            "issueLinkType": {
                "id": int(kind.id),
                "name": kind.name,
                "outwardName": kind.outward,
                "inwardName": kind.inward,
                "isSubTaskLinkType": False,
                "isSystemLinkType": False,
            },
            "systemLink": False,
        },
    }
    return lambda viewer: body


def sprint_body(site: Site, sprint: Sprint) -> dict[str, Any]:
    return render.sprint(site, sprint)


def sprint_event(site: Site, event: str, sprint: Sprint, timestamp: int, old: dict[str, Any] | None = None) -> Build:
    body: dict[str, Any] = {"timestamp": timestamp, "webhookEvent": event, "sprint": sprint_body(site, sprint)}
    if old is not None:
        body["oldValue"] = old
    return lambda viewer: body


def version_event(site: Site, event: str, version: Version, timestamp: int) -> Build:
    body = {"timestamp": timestamp, "webhookEvent": event, "version": v2(render.version(site, version))}
    return lambda viewer: body


def board_event(site: Site, board: Board, timestamp: int) -> Build:
    shown = {k: v for k, v in render.board(site, board).items() if k in ("id", "self", "name", "type")}
    body = {"timestamp": timestamp, "webhookEvent": "board_updated", "board": shown}
    return lambda viewer: body


def project_event(site: Site, project: Project, timestamp: int) -> Build:
    def build(viewer: str) -> dict[str, Any]:
        shown = {
            "self": f"{site.url}/rest/api/2/project/{project.id}",
            "id": int(project.id),
            "key": project.key,
            "name": project.name,
            "avatarUrls": render.avatar_urls(project.key),
            "projectLead": v2(render.user(site, project.lead, viewer)),
            "assigneeType": "admin.assignee.type.unassigned",
        }
        return {"timestamp": timestamp, "webhookEvent": "project_updated", "project": shown}

    return build
