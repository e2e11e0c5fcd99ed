"""Jira live sync: admin webhooks registered, watched and removed, gaps repaired, silent kinds reconciled.

Admin webhooks (§6.1) are permanent and sign each delivery with ``X-Hub-Signature: sha256=…`` when
they have a secret; registering one needs a Jira administrator. Their bodies carry no webhook id, so
each project's webhook gets its own URL (``WebhookTarget.in_path()``): the last path segment is the
route key the gateway finds the secret by, and it is how this module finds the webhook again in
Jira's list (by its URL; Jira's own id is the last segment of ``self``). A webhook Jira already has
for that URL (left by an earlier attempt) is adopted: updated with a new secret, since a secret can
be written but never read back.

The gap repair re-reads, by JQL ``updated >= -<minutes>m`` (relative, so the profile time zone that
absolute JQL dates use does not matter, §3.2), every issue changed since the watermark minus the
overlap, oldest first. Components and labels send no events (§6.4): they are re-listed on the same
interval and the graph's are swept against the lists.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from graph.rows import Rows
from graph.writer import GraphWriter
from server.integrations.base import GapRepair, WebhookState
from server.integrations.field_map import FieldMap
from server.integrations.jira import transform, visibility
from server.integrations.jira.client import JiraClient
from server.integrations.jira.errors import JiraForbidden, JiraNotFound, JiraResponseError
from server.integrations.jira.importer import SEARCH_PAGE, fetch_comments, issue_fields
from server.integrations.jira.options import JiraOptions
from server.integrations.jira.webhooks import ISSUE_AND_COMMENT_EVENTS, SiteFacts

ADMIN_WEBHOOKS = "/rest/webhooks/1.0/webhook"
# Every admin event the graph follows (webhooks.FAMILIES); the rest would only be stored and ignored.
EVENTS = (
    *ISSUE_AND_COMMENT_EVENTS,
    "issuelink_created",
    "issuelink_deleted",
    "sprint_created",
    "sprint_updated",
    "sprint_started",
    "sprint_closed",
    "sprint_deleted",
    "board_created",
    "board_updated",
    "board_deleted",
    "board_configuration_changed",
    "project_created",
    "project_updated",
    "project_deleted",
    "project_soft_deleted",
    "project_archived",
    "jira:version_created",
    "jira:version_updated",
    "jira:version_deleted",
    "jira:version_released",
    "jira:version_unreleased",
)


class NotAnAdministrator(Exception):
    """Jira refused the admin-webhook API: the credentials are not a Jira administrator's."""


@dataclass(frozen=True)
class AdminWebhook:
    jira_id: str  # the last segment of ``self``
    url: str
    enabled: bool


def route_key(url: str) -> str:
    """The gateway's route key of a webhook URL: its last path segment."""
    return urlsplit(url).path.rstrip("/").rpartition("/")[2]


def _webhook(item: Any) -> AdminWebhook | None:
    if not isinstance(item, dict):
        return None
    url, self_url = item.get("url"), item.get("self")
    if not isinstance(url, str) or not isinstance(self_url, str):
        return None
    jira_id = route_key(self_url)
    if not jira_id:
        return None
    return AdminWebhook(jira_id, url, item.get("enabled") is not False)


async def list_webhooks(client: JiraClient) -> list[AdminWebhook]:
    try:
        listed = await client.get(ADMIN_WEBHOOKS)
    except JiraForbidden as exc:
        raise NotAnAdministrator(
            "Jira webhooks can only be registered by a Jira administrator: connect with an administrator's "
            "API token (or turn auto-sync off and rely on imports)"
        ) from exc
    if not isinstance(listed, list):
        raise JiraResponseError("Jira's webhook list is not a list")
    return [hook for hook in map(_webhook, listed) if hook is not None]


async def find_webhook(client: JiraClient, key: str) -> AdminWebhook | None:
    return next((hook for hook in await list_webhooks(client) if route_key(hook.url) == key), None)


def _filter(options: JiraOptions) -> dict[str, str]:
    if not options.project_keys:
        return {}
    keys = ", ".join(f'"{key}"' for key in options.project_keys)
    return {"issue-related-events-section": f"project in ({keys})"}


def _registration(url: str, options: JiraOptions, name: str, secret: str) -> dict[str, Any]:
    """The whole registration, sent on every create and update: what a PUT leaves out, Jira may
    drop (its PUT replaces; the facts do not say it merges), the secret included."""
    return {
        "name": name,
        "url": url,
        "events": list(EVENTS),
        "filters": _filter(options),
        "excludeBody": False,
        "secret": secret,
        "enabled": True,
    }


async def register(client: JiraClient, url: str, options: JiraOptions, name: str) -> str:
    """Create (or adopt) the admin webhook for ``url``; returns the new secret."""
    secret = secrets.token_urlsafe(32)
    body = _registration(url, options, name, secret)
    existing = await find_webhook(client, route_key(url))
    try:
        if existing is None:
            created = await client.request(
                "POST", ADMIN_WEBHOOKS, body={k: v for k, v in body.items() if k != "enabled"}
            )
            if _webhook(created) is None:
                raise JiraResponseError("Jira's answer about the new webhook has no 'self' or 'url'")
        else:
            await client.request("PUT", f"{ADMIN_WEBHOOKS}/{existing.jira_id}", body=body)
    except JiraForbidden as exc:
        raise NotAnAdministrator(
            "Jira webhooks can only be registered by a Jira administrator: connect with an administrator's API token"
        ) from exc
    return secret


async def status(client: JiraClient, key: str) -> WebhookState | None:
    hook = await find_webhook(client, key)
    if hook is None:
        return None
    return WebhookState("active" if hook.enabled else "suspended")


async def reactivate(client: JiraClient, key: str, options: JiraOptions, name: str) -> str | None:
    """Enable a webhook Jira (or an admin) disabled, re-armed whole with a new secret (whatever Jira's
    PUT keeps of the old one, the new one is known); returns it, or None if the webhook is gone."""
    secret = secrets.token_urlsafe(32)
    return secret if await rearm(client, key, options, name, secret) else None


async def rearm(client: JiraClient, key: str, options: JiraOptions, name: str, secret: str) -> bool:
    """PUT the webhook's whole registration, enabled and signed with ``secret``; False if it is gone."""
    hook = await find_webhook(client, key)
    if hook is None:
        return False
    try:
        await client.request(
            "PUT", f"{ADMIN_WEBHOOKS}/{hook.jira_id}", body=_registration(hook.url, options, name, secret)
        )
    except JiraForbidden as exc:
        raise NotAnAdministrator(
            "Jira webhooks can only be changed by a Jira administrator: connect with an administrator's API token"
        ) from exc
    return True


async def delete(client: JiraClient, key: str) -> None:
    hook = await find_webhook(client, key)
    if hook is None:
        return
    try:
        await client.request("DELETE", f"{ADMIN_WEBHOOKS}/{hook.jira_id}")
    except JiraNotFound:
        return  # gone already: what we wanted


# ---------------------------------------------------------------- gap repair and reconciliation


def recent_jql(options: JiraOptions, since: datetime, now: datetime) -> str:
    """Issues changed since ``since``, oldest first; relative minutes, rounded up (never a gap)."""
    minutes = max(1, math.ceil((now - since).total_seconds() / 60) + 1)
    bound = f"updated >= -{minutes}m"
    if options.project_keys:
        keys = ", ".join(f'"{key}"' for key in options.project_keys)
        bound = f"project in ({keys}) AND {bound}"
    return f"{bound} ORDER BY updated ASC, id ASC"


async def repair_gap(
    client: JiraClient,
    writer: GraphWriter,
    site: SiteFacts,
    options: JiraOptions,
    since: datetime,
    run_id: str,
    mapping: FieldMap = transform.NO_MAPPING,
) -> GapRepair:
    """Re-read the issues changed since ``since`` (and their comments when imported; custom fields as
    ``mapping`` says), then reconcile components and labels."""
    cloud_id = await site.cloud_id(client)
    fields = await site.fields(client)
    count, newest = 0, None
    async for page in client.search_pages(
        recent_jql(options, since, datetime.now(UTC)), issue_fields(fields), page_size=SEARCH_PAGE
    ):
        rows = Rows()
        for item in page.issues:
            rows.extend(transform.issue(item, cloud_id, fields, mapping))
            if options.include_comments:
                rows.extend(await fetch_comments(client, item, cloud_id))
        for node in rows.nodes:
            if node.label == "Issue" and node.source_updated_at and (newest is None or node.source_updated_at > newest):
                newest = node.source_updated_at
        count += len(page.issues)
        await writer.write(rows, run_id)
    await reconcile_silent_kinds(client, writer, cloud_id, options, run_id)
    return GapRepair(count, newest)


async def reconcile_silent_kinds(
    client: JiraClient, writer: GraphWriter, cloud_id: str, options: JiraOptions, run_id: str
) -> dict[str, int]:
    """Components and labels as Jira lists them now: written, and the graph's others swept."""
    rows = Rows()
    projects: list[dict[str, Any]] = []
    params = {"status": "live,archived"} if options.include_archived else None
    async for page in client.offset_pages("/rest/api/3/project/search", params):
        projects.extend(p for p in page.values if isinstance(p, dict))
    listed = {str(p.get("id")) for p in projects}
    if options.project_keys:
        projects = [p for p in projects if p.get("key") in options.project_keys]
    hidden: set[str] = set()
    for project in projects:
        key, project_id = str(project.get("key")), str(project.get("id"))
        try:
            async for page in client.offset_pages(f"/rest/api/3/project/{key}/component"):
                for item in page.values:
                    rows.extend(transform.component(item, cloud_id, project_id))
        except JiraNotFound:  # archived: its content is not visible, not gone
            hidden.add(project_id)
    components = {node.external_id for node in rows.nodes if node.label == "Component"}
    labels: set[str] = set()
    async for page in client.offset_pages("/rest/api/3/label", page_size=1000):
        labels.update(value for value in page.values if isinstance(value, str))
    await writer.write(rows, run_id)
    tags = {transform.tag_key(cloud_id, label) for label in labels}
    seen = visibility.with_kept(
        {"Component": components, "Tag": tags}, await visibility.out_of_view(writer, listed, hidden)
    )
    return await writer.sweep([cloud_id], seen, kinds=("Component", "Tag"))
