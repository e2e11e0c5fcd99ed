"""Jira dynamic webhooks: what an OAuth-connected project registers (§6.1).

Only OAuth 2.0 (and Connect) apps may use ``/rest/api/3/webhook``; each registration expires 30 days
after it was made or last refreshed, and Jira keeps one URL per app. Deliveries carry no body
signature but a JWT signed with the app's client secret, so that secret is what the gateway checks
them with (scheme ``hub-sha256-or-jwt-route``). They cover issue and comment events only: sprints,
boards, versions, projects, components and labels come from the sync interval's repair.

The webhooks are found again by their URL (the project's own, ``/webhooks/jira/<route>``): the
route is the key the gateway looks the secret up by, and the registration's Jira ids are whatever
the list says. Health: listed and not expiring → ``active``; listed and expiring within
``REFRESH_BEFORE`` → refreshed, then ``active``; not listed (expired or deleted) → ``None``, which
makes live sync register anew and repair the gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from server.integrations.base import WebhookState
from server.integrations.jira.client import JiraClient
from server.integrations.jira.errors import JiraResponseError
from server.integrations.jira.live_sync import route_key
from server.integrations.jira.options import JiraOptions
from server.integrations.jira.times import parse_datetime
from server.integrations.jira.webhooks import ISSUE_AND_COMMENT_EVENTS

PATH = "/rest/api/3/webhook"
EVENTS = ISSUE_AND_COMMENT_EVENTS  # all a dynamic webhook may ask for (§6.1)
REFRESH_BEFORE = timedelta(days=7)  # the facts advise refreshing weekly; a 30-day life leaves room
MAX_KEYS_IN_FILTER = 200


@dataclass(frozen=True)
class DynamicWebhook:
    id: int
    url: str
    expires_at: datetime | None


def _expiry(value: Any) -> datetime | None:
    """``expirationDate``: epoch ms, or (seen in the wild) a date string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str) and value:
        return parse_datetime(value)
    return None


def _webhook(item: Any) -> DynamicWebhook | None:
    if not isinstance(item, dict):
        return None
    raw_id, url = item.get("id"), item.get("url")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int | str) or not str(raw_id).isdigit():
        return None
    if not isinstance(url, str):
        return None
    return DynamicWebhook(int(raw_id), url, _expiry(item.get("expirationDate")))


async def listed(client: JiraClient, key: str) -> list[DynamicWebhook]:
    """This app's webhooks whose URL ends with the route ``key``."""
    found: list[DynamicWebhook] = []
    async for page in client.offset_pages(PATH, page_size=100):
        found.extend(hook for hook in map(_webhook, page.values) if hook is not None and route_key(hook.url) == key)
    return found


async def _project_filter(client: JiraClient, options: JiraOptions) -> str:
    """``jqlFilter`` is required and takes ``project IN (…)``: the selected projects, else every one
    the grant sees now (a project made later is covered by the interval's repair)."""
    keys = list(options.project_keys)
    if not keys:
        async for page in client.offset_pages("/rest/api/3/project/search", page_size=50):
            keys.extend(str(p["key"]) for p in page.values if isinstance(p, dict) and isinstance(p.get("key"), str))
    if not keys:
        raise JiraResponseError("the grant sees no Jira project to register webhooks for")
    quoted = ", ".join(f'"{key}"' for key in keys[:MAX_KEYS_IN_FILTER])
    return f"project IN ({quoted})"


async def register(client: JiraClient, url: str, options: JiraOptions) -> list[int]:
    """Register (or adopt and refresh) the project's dynamic webhook; returns its Jira ids."""
    existing = await listed(client, route_key(url))
    if existing:
        ids = [hook.id for hook in existing]
        await refresh(client, ids)
        return ids
    body = {"url": url, "webhooks": [{"events": list(EVENTS), "jqlFilter": await _project_filter(client, options)}]}
    answer = await client.request("POST", PATH, body=body)
    results = answer.get("webhookRegistrationResult") if isinstance(answer, dict) else None
    if not isinstance(results, list) or len(results) != 1 or not isinstance(results[0], dict):
        raise JiraResponseError("Jira's answer about the new webhook has no webhookRegistrationResult")
    created = results[0].get("createdWebhookId")
    if isinstance(created, bool) or not isinstance(created, int):
        errors = results[0].get("errors")
        said = "; ".join(str(e)[:200] for e in errors) if isinstance(errors, list) else "no id"
        raise JiraResponseError(f"Jira did not register the webhook: {said}")
    return [created]


async def refresh(client: JiraClient, ids: list[int]) -> datetime | None:
    answer = await client.request("PUT", f"{PATH}/refresh", body={"webhookIds": ids})
    return _expiry(answer.get("expirationDate")) if isinstance(answer, dict) else None


async def status(client: JiraClient, key: str, now: datetime | None = None) -> WebhookState | None:
    hooks = await listed(client, key)
    if not hooks:
        return None
    moment = now or datetime.now(UTC)
    expiring = [h.id for h in hooks if h.expires_at is None or h.expires_at - moment <= REFRESH_BEFORE]
    if expiring:
        await refresh(client, expiring)
    return WebhookState("active")


async def delete(client: JiraClient, key: str) -> None:
    hooks = await listed(client, key)
    if hooks:
        await client.request("DELETE", PATH, body={"webhookIds": [hook.id for hook in hooks]})
