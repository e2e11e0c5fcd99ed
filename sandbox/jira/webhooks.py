"""Webhook registration REST routes (§6.1): admin webhooks and OAuth apps' dynamic webhooks.

Admin webhooks (``/rest/webhooks/1.0/webhook``, site administrators, basic auth) get every event they
name, filtered by JQL for issue-related ones, and may carry a secret to sign with. Dynamic webhooks
(``/rest/api/3/webhook``, OAuth apps only) take a JQL subset and a few issue and comment events,
one URL per app, and expire 30 days after creation or refresh (``/rest/api/3/webhook/refresh``).
Delivering is ``delivery.py``'s job; the filters are ``webhook_filter.py``'s.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.jira import jql
from sandbox.jira.delivery import Webhook, WebhookHub
from sandbox.jira.endpoint import Viewer, endpoint, offset_page, unauthenticated
from sandbox.jira.model import Site
from sandbox.jira.state import ApiError, Sandbox, error_collection
from sandbox.jira.webhook_filter import Filter, parse_filter

DYNAMIC_LIFETIME_MS = 30 * 86_400_000
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
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        errors["enabled"] = "enabled must be true or false."
    if errors:
        raise ApiError(400, {"errorMessages": [], "errors": errors})
    return {
        "name": name,
        "url": url,
        "events": list(events),
        "filter": parsed,
        "exclude": exclude,
        "secret": secret,
        "enabled": enabled,
    }


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
    """A create, or a PUT: the registration is replaced whole (what the body leaves out is gone: a
    PUT without ``secret`` leaves the webhook unsigned; without ``enabled``, it is enabled)."""
    hook.name, hook.url, hook.events, hook.filter = fields["name"], fields["url"], fields["events"], fields["filter"]
    hook.exclude_body, hook.secret, hook.owner, hook.updated_ms = fields["exclude"], fields["secret"], owner, now
    hook.enabled = fields["enabled"]


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
