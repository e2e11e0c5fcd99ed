"""The sandbox's admin API under ``/_sandbox``: the truth an import is checked against, and steering.

``GET /_sandbox/state`` counts what the site holds (per kind, label, link type, relationship);
``POST /_sandbox/tokens`` issues an API token for a user; ``PUT /_sandbox/config`` sets the burst
limit, the page-token lifetime, the search-index lag, ``hold_deliveries`` and
``webhook_retry_delay_seconds``; ``POST /_sandbox/page-tokens/expire`` kills every outstanding
``nextPageToken``. Webhook steering: ``POST /_sandbox/webhooks/flush`` sends held deliveries
(duplicated, shuffled), ``GET /_sandbox/deliveries`` lists what was sent (``?wait=true`` first waits
for the queues to drain), ``POST /_sandbox/webhooks/{id}/deliver`` sends a given payload now,
``POST /_sandbox/webhooks/expire`` expires dynamic webhooks, ``PATCH /_sandbox/webhooks/{id}``
disables or re-enables one. Mutations that emit events live in ``mutations.py`` (routes) and
``mutator.py`` (logic).
Errors are JSON ``{"error": ...}`` with a 4xx status.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import secrets
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.admin_requests import AdminError, json_body
from sandbox.jira.delivery import PRIMARY, SECONDARY, Webhook
from sandbox.jira.model import Site
from sandbox.jira.state import Sandbox


def sandbox_of(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def truth(site: Site) -> dict[str, Any]:
    """What the site holds, and the part the main credential (the first token) may see."""
    main = next(iter(site.api_tokens.values()), None)
    seen = {i.id for i in site.issues.values() if site.can_browse(main, site.projects[i.project_id])}
    levels = Counter(site.issue_types[i.type_id].hierarchy_level for i in site.issues.values())
    return {
        "cloudId": site.cloud_id,
        "url": site.url,
        "customFields": {"storyPoints": site.story_points_field, "sprint": site.sprint_field, "rank": site.rank_field},
        "credentials": {site.users[a].email: t for t, a in site.api_tokens.items()},
        "counts": {
            "users": len(site.users),
            "usersWithHiddenEmail": sum(1 for u in site.users.values() if not u.email_visible or u.email is None),
            "projects": len(site.projects),
            "archivedProjects": sum(1 for p in site.projects.values() if p.archived),
            "restrictedProjects": sum(1 for p in site.projects.values() if p.members is not None),
            "issues": len(site.issues),
            "epics": levels[1],
            "standardIssues": levels[0],
            "subtasks": levels[-1],
            "parentEdges": sum(1 for i in site.issues.values() if i.parent_id is not None),
            "comments": len(site.comments),
            "restrictedComments": sum(1 for c in site.comments.values() if c.visibility is not None),
            "links": len(site.links),
            "components": len(site.components),
            "versions": len(site.versions),
            "boards": len(site.boards),
            "sprints": len(site.sprints),
            "sprintMemberships": sum(len(i.sprint_ids) for i in site.issues.values()),
        },
        "visibleToMainUser": {
            "projects": sum(1 for p in site.projects.values() if site.can_browse(main, p)),
            "issues": len(seen),
            "links": sum(1 for x in site.links.values() if {x.outward_from, x.inward_to} <= seen),
        },
        "issuesPerProject": dict(Counter(site.projects[i.project_id].key for i in site.issues.values())),
        "labels": dict(sorted(Counter(label for i in site.issues.values() for label in i.labels).items())),
        "linksPerType": dict(Counter(site.link_types[link.type_id].name for link in site.links.values())),
    }


async def state(request: Request) -> Response:
    return JSONResponse(truth(sandbox_of(request).site))


async def issue_token(request: Request) -> Response:
    """A new API token for a user (by email), with the ``Authorization`` header that carries it (V1)."""
    site, body = sandbox_of(request).site, await json_body(request)
    email = str(body.get("email", "")).lower()
    person = next((u for u in site.users.values() if u.email and u.email.lower() == email), None)
    if person is None:
        raise AdminError(404, f"no user with email {email!r}")
    token = "ATATT3x" + secrets.token_urlsafe(24)
    site.api_tokens[token] = person.account_id
    header = "Basic " + base64.b64encode(f"{person.email}:{token}".encode()).decode()
    return JSONResponse(
        {"email": person.email, "accountId": person.account_id, "token": token, "authorization": header}
    )


async def configure(request: Request) -> Response:
    sandbox = sandbox_of(request)
    try:
        sandbox.configure(await json_body(request))
    except (TypeError, ValueError) as exc:
        raise AdminError(400, str(exc)) from None
    return JSONResponse(
        {
            "rate_limit": sandbox.limiter.capacity,
            "rate_limit_refill_per_second": sandbox.limiter.refill_per_second,
            "page_token_ttl_seconds": sandbox.page_tokens.ttl_seconds,
            "search_lag_seconds": sandbox.search_lag_seconds,
            "hold_deliveries": sandbox.hub.hold,
            "webhook_retry_delay_seconds": sandbox.hub.retry_delay,
        }
    )


async def expire_page_tokens(request: Request) -> Response:
    return JSONResponse({"expired": sandbox_of(request).page_tokens.expire_all()})


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise AdminError(400, f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


async def _drain(sandbox: Sandbox, seconds: float) -> None:
    try:
        async with asyncio.timeout(seconds):
            await sandbox.hub.idle()
    except TimeoutError:
        raise AdminError(408, f"deliveries still running after {seconds:g}s") from None


async def flush(request: Request) -> Response:
    """Send every held delivery ``duplicate`` times with its identifier, shuffled when asked, and wait."""
    sandbox, body = sandbox_of(request), await json_body(request)
    duplicate = int(_number(body, "duplicate", 1, 1, 100))
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise AdminError(400, "seed must be an integer")
    count = sandbox.hub.flush(duplicate=duplicate, shuffle=bool(body.get("shuffle", False)), seed=seed)
    if body.get("wait", True):
        await _drain(sandbox, _number(body, "timeout", 60, 0, 600))
    return JSONResponse({"flushed": count, "held": len(sandbox.hub.held)})


async def deliveries(request: Request) -> Response:
    """Every delivery sent so far, oldest first; ``?wait=true&timeout=s`` waits for the queues first."""
    sandbox = sandbox_of(request)
    if request.query_params.get("wait", "").lower() in ("1", "true"):
        try:
            seconds = float(request.query_params.get("timeout", "30"))
        except ValueError:
            raise AdminError(400, "timeout must be a number of seconds") from None
        await _drain(sandbox, seconds)
    return JSONResponse({"deliveries": [d.report() for d in sandbox.hub.log], "held": len(sandbox.hub.held)})


def _webhook(sandbox: Sandbox, request: Request) -> Webhook:
    hook = sandbox.hub.webhooks.get(request.path_params["webhook_id"])
    if hook is None:
        raise AdminError(404, f"no webhook {request.path_params['webhook_id']}")
    return hook


async def deliver(request: Request) -> Response:
    """Send a payload byte for byte now: ``{"payload", "flow"?, "corrupt"?: "signature"|"body", "duplicate"?}``."""
    sandbox, body = sandbox_of(request), await json_body(request)
    hook = _webhook(sandbox, request)
    payload, flow, corrupt = body.get("payload"), body.get("flow", PRIMARY), body.get("corrupt")
    if not isinstance(payload, dict):
        raise AdminError(400, 'give {"payload": {...}}')
    if flow not in (PRIMARY, SECONDARY):
        raise AdminError(400, "flow must be 'Primary' or 'Secondary'")
    if corrupt not in (None, "signature", "body"):
        raise AdminError(400, "corrupt must be 'signature' or 'body'")
    duplicate = int(_number(body, "duplicate", 1, 1, 100))
    first = sandbox.hub.direct(hook, payload, flow, corrupt)
    sent = [first if n == 0 else dataclasses.replace(first) for n in range(duplicate)]
    for delivery in sent:
        sandbox.hub.enqueue(delivery)
    await _drain(sandbox, _number(body, "timeout", 60, 0, 600))
    return JSONResponse({"deliveries": [d.report() for d in sent]})


async def expire_webhooks(request: Request) -> Response:
    """Expire dynamic webhooks now (all, or ``webhookIds``): they stop delivering and leave the list."""
    sandbox, body = sandbox_of(request), await json_body(request)
    wanted = body.get("webhookIds")
    if wanted is not None and (not isinstance(wanted, list) or not all(isinstance(i, int) for i in wanted)):
        raise AdminError(400, "webhookIds must be a list of webhook ids")
    now = sandbox.hub.now_ms()
    expired = [h.id for h in sandbox.hub.live("dynamic") if wanted is None or h.id in wanted]
    for hook_id in expired:
        sandbox.hub.webhooks[hook_id].expires_ms = now
    return JSONResponse({"expired": expired})


async def patch_webhook(request: Request) -> Response:
    """``{"enabled": false}``: Jira disabling a webhook (it then sends nothing until re-enabled)."""
    sandbox, body = sandbox_of(request), await json_body(request)
    hook = _webhook(sandbox, request)
    if set(body) != {"enabled"} or not isinstance(body["enabled"], bool):
        raise AdminError(400, 'give {"enabled": true|false}')
    hook.enabled = body["enabled"]
    return JSONResponse({"id": hook.id, "kind": hook.kind, "enabled": hook.enabled})


Handler = Callable[[Request], Awaitable[Response]]


def guard(handler: Handler) -> Handler:
    """Admin errors become ``{"error": ...}`` with their status."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except AdminError as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status)

    return wrapped


def routes() -> list[Route]:
    table: list[tuple[str, Handler, list[str]]] = [
        ("/_sandbox/state", state, ["GET"]),
        ("/_sandbox/tokens", issue_token, ["POST"]),
        ("/_sandbox/config", configure, ["PUT"]),
        ("/_sandbox/page-tokens/expire", expire_page_tokens, ["POST"]),
        ("/_sandbox/webhooks/flush", flush, ["POST"]),
        ("/_sandbox/webhooks/expire", expire_webhooks, ["POST"]),
        ("/_sandbox/webhooks/{webhook_id:int}", patch_webhook, ["PATCH"]),
        ("/_sandbox/webhooks/{webhook_id:int}/deliver", deliver, ["POST"]),
        ("/_sandbox/deliveries", deliveries, ["GET"]),
    ]
    return [Route(path, guard(handler), methods=methods) for path, handler, methods in table]
