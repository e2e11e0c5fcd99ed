"""Jira admin webhooks: reading a delivery (routing and dedupe facts), and applying an event.

Bodies carry no webhook id: the gateway's route-keyed scheme (``hub-sha256-route``) found the secret
by the last path segment and hands it over in ``x-gateway-route-key``; that key is the webhook id,
and a delivery without it cannot be routed. ``X-Atlassian-Webhook-Identifier`` is unique per delivery
and the same on retries (§6.3), so it is the dedupe key (a hash of the body when it is missing); the
flow (``Primary``/``Secondary``, the cascaded events after an issue delete) is part of the key, so a
cascade never passes for its primary. A routed body that is not a JSON object, nests too deep, has no
``webhookEvent`` or holds text that cannot be stored becomes a dead letter, as for ClickUp.

Payloads are v2 (wiki strings, §6.4) and thin on what the graph needs, so an event re-reads its
object through REST v3 and writes it through the import's transform; the writer's monotonic guard
(``fields.updated``) drops what is older than the graph. A 404 means missing *or not visible* (§7):
an issue is deleted only while its project is still visible, and other objects that answer 404 are
left to their own ``*_deleted`` event or the next import's sweep.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

from graph.rows import Rows
from graph.writer import GraphWriter
from server.errors import InvalidArgument
from server.integrations.base import Delivery, ParsedDelivery, WebhookEvent
from server.integrations.delivery_checks import DeliveryProblem, event_name, is_storable, shown_event
from server.integrations.field_map import FieldMap
from server.integrations.jira import transform
from server.integrations.jira.client import JiraClient, fields_param
from server.integrations.jira.errors import JiraForbidden, JiraNotFound, JiraResponseError
from server.integrations.jira.importer import issue_fields
from server.integrations.jira.options import JiraOptions

ROUTE_KEY_HEADER = "x-gateway-route-key"
IDENTIFIER_HEADER = "x-atlassian-webhook-identifier"
FLOW_HEADER = "x-atlassian-webhook-flow"
_WEBHOOK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_IDENTIFIER = re.compile(r"[\x21-\x7e]{1,200}")
_PROJECT_KEY = re.compile(r"([A-Z][A-Z0-9_]{0,49})-\d+")

# The issue and comment events: all a dynamic webhook may ask for (§6.1), and the core of an admin one's.
ISSUE_AND_COMMENT_EVENTS = (
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
)

# Event prefix → the body's object whose ``id`` the event is about (first match wins).
FAMILIES = (
    ("jira:issue_", "issue"),
    ("comment_", "comment"),
    ("issuelink_", "issueLink"),
    ("sprint_", "sprint"),
    ("board_configuration_", "configuration"),
    ("board_", "board"),
    ("project_", "project"),
    ("jira:version_", "version"),
)


def family(event: str) -> str | None:
    """The body key of the object an event is about; None for events the graph does not follow."""
    for prefix, key in FAMILIES:
        if event.startswith(prefix):
            return key
    return None


def _id(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value).strip()[:200]


def _object_id(body: dict[str, Any], event: str) -> str:
    key = family(event)
    if key is None or body.get(key) is None:
        return ""
    obj = body[key]
    if not isinstance(obj, dict):
        raise DeliveryProblem("BAD_OBJECT", f"'{key}' must be an object")
    raw = obj.get("id")
    if raw is None:
        return ""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise DeliveryProblem("BAD_OBJECT_ID", f"'{key}.id' must be a string or an integer")
    return str(raw).strip()[:200]


def parse_delivery(delivery: Delivery) -> ParsedDelivery:
    """The delivery's routing and dedupe facts; raises InvalidArgument when it cannot even be routed."""
    webhook_id = delivery.headers.get(ROUTE_KEY_HEADER, "")
    if not webhook_id:
        raise InvalidArgument(f"headers.{ROUTE_KEY_HEADER}", "is missing", reason="MISSING_WEBHOOK_ID")
    if not _WEBHOOK_ID.fullmatch(webhook_id):
        raise InvalidArgument(
            f"headers.{ROUTE_KEY_HEADER}",
            "must be 1-128 letters, digits, '.', '_', ':' or '-'",
            reason="BAD_WEBHOOK_ID",
        )
    raw = delivery.raw_body
    shown = ""
    try:
        try:
            # UTF-8 only, as the gateway reads it; ValueError also covers a number too long to convert.
            body: Any = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            raise DeliveryProblem("NOT_JSON", "the body is not JSON (or nests too deep to read)") from None
        if not isinstance(body, dict):
            raise DeliveryProblem("NOT_AN_OBJECT", "the body must be a JSON object")
        shown = shown_event(body, "webhookEvent")
        event = event_name(body, "webhookEvent").strip()
        object_id = _object_id(body, event)
        if not (is_storable(event) and is_storable(object_id)):
            raise DeliveryProblem("UNSTORABLE_TEXT", "the envelope holds text that cannot be stored (a lone surrogate)")
    except DeliveryProblem as problem:
        return problem.dead_letter("jira", webhook_id, shown, raw)
    flow = "secondary" if delivery.headers.get(FLOW_HEADER, "").strip().lower() == "secondary" else "primary"
    identifier = delivery.headers.get(IDENTIFIER_HEADER, "").strip()
    if _IDENTIFIER.fullmatch(identifier):
        key = f"jira|{webhook_id}|{flow}|{identifier}"
    else:  # no identifier: the same body (its timestamp included) is the same delivery
        key = f"jira|{webhook_id}|{flow}|body|{hashlib.sha256(raw).hexdigest()}"
    return ParsedDelivery(webhook_id, event, object_id, key)


# ---------------------------------------------------------------- applying an event


# How long a site's field list is trusted: a custom field added in Jira reaches events (and is not
# dropped from issues an import wrote with it) within this, at one ``/field`` call per interval.
FIELDS_MAX_AGE_SECONDS = 600.0


class SiteFacts:
    """What events of one site need beyond their object: the cloud id and the custom field ids.

    The cloud id is read once (``/_edge/tenant_info``), the fields (``/rest/api/3/field``) again once
    they are ``FIELDS_MAX_AGE_SECONDS`` old, so an event costs the calls for its own object only."""

    def __init__(
        self,
        cloud_id: str | None = None,
        fields: transform.SiteFields | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cloud_id = cloud_id
        self._fields = fields
        self._clock = clock
        self._read_at = clock()

    async def cloud_id(self, client: JiraClient) -> str:
        if self._cloud_id is None:
            tenant = await client.get("/_edge/tenant_info")
            cloud_id = str(tenant.get("cloudId") or "") if isinstance(tenant, dict) else ""
            if not cloud_id:
                raise JiraResponseError("Jira did not say which site this is (/_edge/tenant_info has no cloudId)")
            self._cloud_id = cloud_id
        return self._cloud_id

    async def fields(self, client: JiraClient) -> transform.SiteFields:
        if self._fields is None or self._clock() - self._read_at >= FIELDS_MAX_AGE_SECONDS:
            self.remember(transform.read_site_fields(await client.get("/rest/api/3/field")))
        assert self._fields is not None  # remember set it
        return self._fields

    def remember(self, fields: transform.SiteFields) -> None:
        """Fields just read elsewhere (the mapping page lists them): events use them from now on."""
        self._fields, self._read_at = fields, self._clock()


def _obj(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return value if isinstance(value, dict) else {}


def _project_ref(issue: dict[str, Any]) -> str:
    """The project of an issue in an event body: ``fields.project.id``, else the key's prefix."""
    project_id = _id(_obj(_obj(issue, "fields"), "project").get("id"))
    if project_id:
        return project_id
    match = _PROJECT_KEY.fullmatch(str(issue.get("key") or ""))
    return match.group(1) if match else ""


async def _project_visible(client: JiraClient, project: str) -> bool:
    try:
        await client.get(f"/rest/api/3/project/{project}")
    except (JiraNotFound, JiraForbidden):
        return False
    return True


class Applier:
    """One event against one site: re-read, transform, write (or delete)."""

    def __init__(
        self,
        client: JiraClient,
        writer: GraphWriter,
        site: SiteFacts,
        options: JiraOptions,
        run_id: str,
        mapping: FieldMap = transform.NO_MAPPING,
    ) -> None:
        self._client = client
        self._writer = writer
        self._site = site
        self._options = options
        self._run_id = run_id
        self._mapping = mapping

    async def apply(self, event: WebhookEvent) -> str:
        key = family(event.event)
        if key is None or not event.object_id:
            return "ignored"
        try:
            body: Any = json.loads(event.body) if event.body else {}
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        name, object_id = event.event, event.object_id
        if key == "issue":
            return await self._issue_event(name, object_id, _obj(body, "issue"))
        if key == "comment":
            return await self._comment_event(name, object_id, _obj(body, "issue"))
        if key == "issueLink":
            return await self._link_event(name, _obj(body, "issueLink"))
        if name.endswith("_deleted") or name == "project_soft_deleted":
            label = {"sprint": "Sprint", "board": "Board", "project": "JiraProject", "version": "Version"}.get(key)
            if label is None:
                return "ignored"
            await self._writer.delete(label, object_id, self._run_id)
            return "deleted"
        if name == "project_archived" and not self._options.include_archived:
            await self._writer.delete("JiraProject", object_id, self._run_id)
            return "deleted (archived)"
        return await self._object(key, object_id)

    async def _write(self, rows: Rows) -> str:
        await self._writer.write(rows, self._run_id)
        return "written"

    # -- issues

    async def _issue_event(self, name: str, issue_id: str, issue: dict[str, Any]) -> str:
        if name == "jira:issue_deleted":
            project = _project_ref(issue)
            if project and not await _project_visible(self._client, project):
                return "not visible (its project answers 404): left as is"
            await self._writer.delete("Issue", issue_id, self._run_id)
            return "deleted"
        if name not in ("jira:issue_created", "jira:issue_updated"):
            return "ignored"
        outcome = await self._refetch_issue(issue_id)
        if outcome is not None:
            return outcome
        project = _project_ref(issue)
        if project and await _project_visible(self._client, project):
            await self._writer.delete("Issue", issue_id, self._run_id)
            return "deleted (gone from Jira)"
        return "not visible: left as is"

    async def _refetch_issue(self, issue_id: str) -> str | None:
        """Re-read one issue and write it; None when Jira answers 404 (missing or not visible)."""
        site_fields = await self._site.fields(self._client)
        try:
            params = {"fields": fields_param(issue_fields(site_fields))}
            item = await self._client.get(f"/rest/api/3/issue/{issue_id}", params)
        except JiraNotFound:
            return None
        fields = _obj(item, "fields") if isinstance(item, dict) else {}
        key = str(_obj(fields, "project").get("key") or "")
        if self._options.project_keys and key not in self._options.project_keys:
            return "ignored (project not selected)"
        cloud_id = await self._site.cloud_id(self._client)
        return await self._write(transform.issue(item, cloud_id, site_fields, self._mapping))

    async def _link_event(self, name: str, link: dict[str, Any]) -> str:
        """A link changes the records of its issues; the source (outward) issue owns the edge (V9)."""
        if name == "issuelink_created":
            ids = [_id(link.get("sourceIssueId"))]
        elif name == "issuelink_deleted":
            ids = [_id(link.get("sourceIssueId")), _id(link.get("destinationIssueId"))]
        else:
            return "ignored"
        outcomes = [await self._refetch_issue(i) or "not found" for i in dict.fromkeys(ids) if i]
        return "; ".join(outcomes) or "ignored"

    # -- comments

    async def _comment_event(self, name: str, comment_id: str, issue: dict[str, Any]) -> str:
        if not self._options.include_comments:
            return "ignored (comments are not imported)"
        if name == "comment_deleted":
            await self._writer.delete("Comment", comment_id, self._run_id)
            return "deleted"
        issue_id = _id(issue.get("id"))
        if name not in ("comment_created", "comment_updated") or not issue_id:
            return "ignored"
        try:
            item = await self._client.get(f"/rest/api/3/issue/{issue_id}/comment/{comment_id}")
        except JiraNotFound:
            # A comment the credential cannot see is not imported either (restricted comments, item 3).
            await self._writer.delete("Comment", comment_id, self._run_id)
            return "deleted (gone or not visible)"
        return await self._write(transform.comment(item, issue_id, await self._site.cloud_id(self._client)))

    # -- sprints, boards, projects, versions

    async def _object(self, key: str, object_id: str) -> str:
        client = self._client
        path = {
            "sprint": f"/rest/agile/1.0/sprint/{object_id}",
            "board": f"/rest/agile/1.0/board/{object_id}",
            "configuration": f"/rest/agile/1.0/board/{object_id}",
            "project": f"/rest/api/3/project/{object_id}",
            "version": f"/rest/api/3/version/{object_id}",
        }[key]
        try:
            item = await client.get(path)
            cloud_id = await self._site.cloud_id(client)
            if key == "sprint":
                return await self._write(transform.sprint(item, cloud_id))
            if key == "project":
                selected = self._options.project_keys
                if selected and isinstance(item, dict) and item.get("key") not in selected:
                    return "ignored (project not selected)"
                return await self._write(transform.project(item, cloud_id))
            if key == "version":
                return await self._write(transform.version(item, cloud_id))
            shown: list[str] = []
            async for page in client.offset_pages(f"/rest/agile/1.0/board/{object_id}/project"):
                shown.extend(_id(p.get("id")) for p in page.values if isinstance(p, dict))
            return await self._write(transform.board(item, cloud_id, [p for p in shown if p]))
        except JiraNotFound:
            return "not found or not visible: left to its delete event or the next import"


async def apply_event(
    client: JiraClient,
    writer: GraphWriter,
    event: WebhookEvent,
    run_id: str,
    site: SiteFacts,
    options: JiraOptions,
    mapping: FieldMap = transform.NO_MAPPING,
) -> str:
    """Bring the graph up to date for one event (custom fields as ``mapping`` says); what was done."""
    return await Applier(client, writer, site, options, run_id, mapping).apply(event)


__all__ = [
    "FLOW_HEADER",
    "IDENTIFIER_HEADER",
    "ISSUE_AND_COMMENT_EVENTS",
    "ROUTE_KEY_HEADER",
    "SiteFacts",
    "apply_event",
    "family",
    "parse_delivery",
]
