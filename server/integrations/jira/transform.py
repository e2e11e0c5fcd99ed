"""Jira JSON → graph rows (the transform of get → transform → load → cleanup). Pure functions.

No I/O, so every rule is unit-testable; the kinds and relationships are declared in ``schema.py``.
Every id is normalised to a string (REST sends ``"10001"``, Agile and webhooks numbers), times to
UTC (``times.py``), rich text to plain text (``adf.py``). Custom fields other than sprint, rank and
story points become ``cf_*`` properties as the project maps them (``field_values.py``), their raw
values kept in ``customFieldsJson``. Whatever cannot be read is counted in
``Rows.issues`` and dropped, never fatal. Every node of a site carries the site's cloud id as its
``workspace_id`` (the scope a sweep covers); people belong to no single site.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from graph.rows import EdgeRow, NodeRow, Rows
from server.integrations import provider_values as values
from server.integrations.field_map import FieldMap
from server.integrations.jira import field_values
from server.integrations.jira.adf import to_text
from server.integrations.jira.times import parse_date, parse_datetime

# The status category key decides the ClickUp-style status type, so one query reads both sources.
STATUS_TYPES = {"new": "open", "indeterminate": "custom", "done": "closed"}
BLOCKS = "blocks"  # the link type whose outward issue blocks the inward one

# Custom field types (``schema.custom``) that say which per-site field holds what (§4.3).
SPRINT_TYPE = "com.pyxis.greenhopper.jira:gh-sprint"
RANK_TYPE = "com.pyxis.greenhopper.jira:gh-lexo-rank"
STORY_POINTS_TYPE = "com.pyxis.greenhopper.jira:jsw-story-points"
FLOAT_TYPE = "com.atlassian.jira.plugin.system.customfieldtypes:float"
_LEGACY_SPRINT_ID = re.compile(r"\bid=(\d+)")
NO_MAPPING = FieldMap()


@dataclass(frozen=True)
class SiteFields:
    """The custom field ids of one site that the issue transform reads (they differ per site)."""

    story_points: str | None = None
    rank: str | None = None
    sprint: str | None = None
    # Every other custom field, in id order: read into ``cf_*`` properties (``field_values.py``).
    custom: tuple[field_values.JiraField, ...] = ()

    def ids(self) -> list[str]:
        """The custom field ids an issue is read with: sprint, rank, story points, then the others."""
        named = (self.sprint, self.rank, self.story_points)
        return [*(f for f in named if f), *(f.id for f in self.custom)]


def discover_fields(fields: Any, story_points_field: str | None = None) -> SiteFields:
    """Field ids from ``GET /rest/api/3/field`` by ``schema.custom``, never by id or name. A board's
    ``estimation.field.fieldId`` (when known) wins for story points."""
    sprint = rank = points = named_points = None
    for field in fields if isinstance(fields, list) else []:
        if not isinstance(field, dict) or not isinstance(field.get("id"), str):
            continue
        schema = field.get("schema") if isinstance(field.get("schema"), dict) else {}
        custom = schema.get("custom") if isinstance(schema, dict) else None
        if custom == SPRINT_TYPE and sprint is None:
            sprint = field["id"]
        elif custom == RANK_TYPE and rank is None:
            rank = field["id"]
        elif custom == STORY_POINTS_TYPE and points is None:
            points = field["id"]
        elif custom == FLOAT_TYPE and str(field.get("name", "")).lower() == "story points" and named_points is None:
            named_points = field["id"]
    return SiteFields(story_points_field or points or named_points, rank, sprint)


def read_site_fields(fields: Any, story_points_field: str | None = None) -> SiteFields:
    """``discover_fields`` plus every other custom field of the site, which become ``cf_*`` properties."""
    found = discover_fields(fields, story_points_field)
    taken = {found.sprint, found.rank, found.story_points}
    custom = (field_values.read_field(raw) for raw in (fields if isinstance(fields, list) else []))
    others = {f.id: f for f in custom if f is not None and f.id not in taken}
    return replace(found, custom=tuple(sorted(others.values(), key=lambda f: field_values.field_order(f.id))))


# ---------------------------------------------------------------- value parsing


def _when(value: Any, issues: Counter[str]) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        issues["malformed_values"] += 1
    return parsed


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


# ---------------------------------------------------------------- containers and people


def site(cloud_id: str, name: str, url: str) -> Rows:
    """The site (from accessible-resources or the configured URL): ``(:Site:Organization)``."""
    rows = Rows()
    rows.nodes.append(NodeRow("Site", cloud_id, cloud_id, {"name": name, "url": url}))
    return rows


def person(user: Any, *, reference: bool = False) -> Rows:
    """An account; ``emailAddress`` is often hidden (null or absent), and then so is ``email``."""
    rows = Rows()
    if not isinstance(user, dict) or values.ident(user.get("accountId")) is None:
        if user is not None:
            rows.issues["malformed_person"] += 1
        return rows
    account_id = str(values.ident(user.get("accountId")))
    rows.nodes.append(
        NodeRow(
            "Person",
            account_id,
            None,
            {
                "name": values.text(user.get("displayName")) or account_id,
                "email": values.text(user.get("emailAddress")) or None,
                "accountType": values.text(user.get("accountType")),
                "active": _bool(user.get("active")),
            },
            reference=reference,
        )
    )
    return rows


def project(item: Any, cloud_id: str) -> Rows:
    rows = Rows()
    found = values.record(item, rows.issues)
    if found is None:
        return rows
    item, project_id = found
    rows.nodes.append(
        NodeRow(
            "JiraProject",
            project_id,
            cloud_id,
            {
                "key": values.text(item.get("key")),
                "name": values.text(item.get("name")) or "",
                "projectTypeKey": values.text(item.get("projectTypeKey")),
                "archived": bool(item.get("archived")),
            },
        )
    )
    rows.edges.append(EdgeRow("CONTAINS", "Site", cloud_id, "JiraProject", project_id, owner_is_from=False))
    return rows


def component(item: Any, cloud_id: str, project_id: str | None = None) -> Rows:
    """A component from ``/project/{k}/component``; its project from the argument or ``projectId``."""
    rows = Rows()
    found = values.record(item, rows.issues)
    if found is None:
        return rows
    item, component_id = found
    owner = project_id or values.ident(item.get("projectId"))
    rows.nodes.append(
        NodeRow(
            "Component",
            component_id,
            cloud_id,
            {"name": values.text(item.get("name")) or "", "description": values.text(item.get("description"))},
        )
    )
    if owner is not None:
        rows.edges.append(EdgeRow("CONTAINS", "JiraProject", owner, "Component", component_id, owner_is_from=False))
    return rows


def _version_props(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": values.text(item.get("name")) or "",
        "description": values.text(item.get("description")),
        "released": bool(item.get("released")),
        "archived": bool(item.get("archived")),
        "releaseDate": parse_date(item.get("releaseDate")),
        "startDate": parse_date(item.get("startDate")),
    }


def version(item: Any, cloud_id: str, project_id: str | None = None) -> Rows:
    """A version from ``/project/{k}/version`` (``projectId`` is a number there)."""
    rows = Rows()
    found = values.record(item, rows.issues)
    if found is None:
        return rows
    item, version_id = found
    owner = project_id or values.ident(item.get("projectId"))
    rows.nodes.append(NodeRow("Version", version_id, cloud_id, _version_props(item)))
    if owner is not None:
        rows.edges.append(EdgeRow("CONTAINS", "JiraProject", owner, "Version", version_id, owner_is_from=False))
    return rows


def board(item: Any, cloud_id: str, project_ids: Iterable[str] = ()) -> Rows:
    """A board and ``SHOWS`` to each project on it (``/board/{id}/project``; else its location's)."""
    rows = Rows()
    found = values.record(item, rows.issues)
    if found is None:
        return rows
    item, board_id = found
    rows.nodes.append(
        NodeRow(
            "Board",
            board_id,
            cloud_id,
            {"name": values.text(item.get("name")) or "", "type": values.text(item.get("type"))},
        )
    )
    shown = [pid for pid in (values.ident(p) for p in project_ids) if pid is not None]
    if not shown:
        location = values.obj(item.get("location"), rows.issues, "location")
        shown = [pid for pid in (values.ident(location.get("projectId")),) if pid is not None]
    for project_id in dict.fromkeys(shown):
        rows.edges.append(EdgeRow("SHOWS", "Board", board_id, "JiraProject", project_id))
    return rows


def _sprint_props(item: dict[str, Any], issues: Counter[str]) -> dict[str, Any]:
    return {
        "name": values.text(item.get("name")) or "",
        "state": values.text(item.get("state")),
        "startDate": _when(item.get("startDate"), issues),
        "endDate": _when(item.get("endDate"), issues),
        "completeDate": _when(item.get("completeDate"), issues),
        "goal": values.text(item.get("goal")),
    }


def sprint(item: Any, cloud_id: str) -> Rows:
    """A sprint, owned by its ``originBoardId`` (it may show on other boards too)."""
    rows = Rows()
    found = values.record(item, rows.issues)
    if found is None:
        return rows
    item, sprint_id = found
    rows.nodes.append(NodeRow("Sprint", sprint_id, cloud_id, _sprint_props(item, rows.issues)))
    origin = values.ident(item.get("originBoardId"))
    if origin is not None:
        rows.edges.append(EdgeRow("CONTAINS", "Board", origin, "Sprint", sprint_id, owner_is_from=False))
    else:
        rows.issues["sprint_without_origin_board"] += 1
    return rows


def sprints(items: Iterable[Any], cloud_id: str) -> Rows:
    """Sprints listed per board, deduplicated by id (a sprint shows on every board whose filter has it)."""
    rows = Rows()
    seen: set[str] = set()
    for item in items:
        sprint_id = values.ident(item.get("id")) if isinstance(item, dict) else None
        if sprint_id is None or sprint_id in seen:
            if sprint_id is None:
                rows.issues["skipped_records"] += 1
            continue
        seen.add(sprint_id)
        rows.extend(sprint(item, cloud_id))
    return rows


# ---------------------------------------------------------------- issues


def _sprint_ids(value: Any) -> list[tuple[str, dict[str, Any] | None]]:
    """Sprint field values: objects, or the legacy ``…Sprint@…[id=197,…]`` strings webhooks still send."""
    found: list[tuple[str, dict[str, Any] | None]] = []
    for entry in values.items(value) if not isinstance(value, dict) else [value]:
        if isinstance(entry, dict):
            sprint_id = values.ident(entry.get("id"))
            if sprint_id is not None:
                found.append((sprint_id, entry))
        elif isinstance(entry, str):
            match = _LEGACY_SPRINT_ID.search(entry)
            if match:
                found.append((match.group(1), None))
        elif isinstance(entry, int) and not isinstance(entry, bool):
            found.append((str(entry), None))
    return found


def tag_key(cloud_id: str, label: str) -> str:
    """A label's node key: labels have no ids and are per site (item 3: ``<cloudId>:<label>``)."""
    return f"{cloud_id}:{label}"


def issue(item: Any, cloud_id: str, site_fields: SiteFields = SiteFields(), mapping: FieldMap = NO_MAPPING) -> Rows:
    """One issue (v3 shape; ``fields`` as requested) with the relationships it owns; its custom fields
    as the project's ``mapping`` says."""
    rows = Rows()
    if not isinstance(item, dict):
        rows.issues["skipped_records"] += 1
        return rows
    issues = rows.issues
    issue_id = values.ident(item.get("id"))
    fields = values.obj(item.get("fields"), issues, "fields")
    if issue_id is None:
        issues["skipped_records"] += 1
        return rows
    status = values.obj(fields.get("status"), issues, "status")
    category = values.obj(status.get("statusCategory"), issues, "status_category")
    category_key = values.text(category.get("key"))
    issue_type = values.obj(fields.get("issuetype"), issues, "issuetype")
    level = issue_type.get("hierarchyLevel")
    updated = _when(fields.get("updated"), issues)
    if fields.get("updated") is None:
        issues["missing_updated"] += 1
    props: dict[str, Any] = {
        "key": values.text(item.get("key")),
        "name": values.text(fields.get("summary")) or "",
        "description": to_text(fields.get("description")),
        "status": values.text(status.get("name")),
        "statusCategory": category_key,
        "statusType": STATUS_TYPES.get(category_key or ""),
        "issueType": values.text(issue_type.get("name")),
        "hierarchyLevel": level if isinstance(level, int) and not isinstance(level, bool) else None,
        "priority": values.text(values.obj(fields.get("priority"), issues, "priority").get("name")),
        "storyPoints": values.number(fields.get(site_fields.story_points), issues)
        if site_fields.story_points
        else None,
        "rank": values.text(fields.get(site_fields.rank)) if site_fields.rank else None,
        "dueDate": parse_date(fields.get("duedate")),
        "createdAt": _when(fields.get("created"), issues),
        "updatedAt": updated,
        "resolvedAt": _when(fields.get("resolutiondate"), issues),
        "sourceUpdatedAt": updated,
        **field_values.issue_props(fields, site_fields.custom, issues, mapping),
    }
    if fields.get("duedate") not in (None, "") and props["dueDate"] is None:
        issues["malformed_values"] += 1
    rows.nodes.append(NodeRow("Issue", issue_id, cloud_id, props, updated))

    def own(edge_type: str, to_label: str, to_id: str | None, props: tuple[tuple[str, Any], ...] = ()) -> None:
        if to_id is not None and to_id != issue_id:
            rows.edges.append(EdgeRow(edge_type, "Issue", issue_id, to_label, to_id, props=props))

    project_id = values.ident(values.obj(fields.get("project"), issues, "project").get("id"))
    if project_id is not None:
        rows.edges.append(EdgeRow("CONTAINS", "JiraProject", project_id, "Issue", issue_id, owner_is_from=False))
    own("SUBTASK_OF", "Issue", values.ident(values.obj(fields.get("parent"), issues, "parent").get("id")))
    for edge_type, key in (("ASSIGNED_TO", "assignee"), ("CREATED_BY", "creator"), ("REPORTED_BY", "reporter")):
        user = fields.get(key)
        rows.extend(person(user, reference=True))
        own(edge_type, "Person", values.ident(user.get("accountId")) if isinstance(user, dict) else None)
    for label in values.items(fields.get("labels")):
        if isinstance(label, str) and label:
            tag_id = tag_key(cloud_id, label)
            rows.nodes.append(NodeRow("Tag", tag_id, cloud_id, {"name": label}))
            own("TAGGED", "Tag", tag_id)
    for entry in values.items(fields.get("components")):
        component_id = values.ident(entry.get("id")) if isinstance(entry, dict) else None
        if component_id is not None:
            props_ = {
                "name": values.text(entry.get("name")) or "",
                "description": values.text(entry.get("description")),
            }
            rows.nodes.append(NodeRow("Component", component_id, cloud_id, props_, reference=True))
            own("IN_COMPONENT", "Component", component_id)
    for entry in values.items(fields.get("fixVersions")):
        version_id = values.ident(entry.get("id")) if isinstance(entry, dict) else None
        if version_id is not None:
            rows.nodes.append(NodeRow("Version", version_id, cloud_id, _version_props(entry), reference=True))
            own("FIX_VERSION", "Version", version_id)
    sprint_values = [fields.get(site_fields.sprint)] if site_fields.sprint else []
    sprint_values += [fields.get("sprint"), fields.get("closedSprints")]  # Agile API issues
    for value in sprint_values:
        for sprint_id, entry in _sprint_ids(value):
            if entry is not None:
                rows.nodes.append(NodeRow("Sprint", sprint_id, cloud_id, _sprint_props(entry, issues), reference=True))
            own("IN_SPRINT", "Sprint", sprint_id)
    for link in values.items(fields.get("issuelinks")):
        rows.edges.extend(link_edges(link, issue_id, issues))
    return rows


def link_edges(link: Any, issue_id: str, issues: Counter[str]) -> list[EdgeRow]:
    """The edge of one ``issuelinks`` entry, written only by the link's outward issue (V9): Jira lists a
    link on both issues with one id, and the inward copy would be the same edge a second time."""
    if not isinstance(link, dict):
        issues["malformed_link"] += 1
        return []
    link_id = values.ident(link.get("id"))
    outward_issue = link.get("outwardIssue")
    if not isinstance(outward_issue, dict):
        return []  # inward copy (or malformed): the other issue owns it
    other = values.ident(outward_issue.get("id"))
    if link_id is None or other is None:
        issues["malformed_link"] += 1
        return []
    if other == issue_id:
        return []
    kind = values.obj(link.get("type"), issues, "link_type")
    name = values.text(kind.get("name")) or ""
    if name.lower() == BLOCKS:
        # this issue blocks ``other``: (blocked)-[:DEPENDS_ON]->(blocker), owned by the blocker (this one)
        return [
            EdgeRow(
                "DEPENDS_ON",
                "Issue",
                other,
                "Issue",
                issue_id,
                owner_is_from=False,
                props=(("linkId", link_id),),
                key=link_id,
            )
        ]
    props = (
        ("linkId", link_id),
        ("type", name),
        ("outward", values.text(kind.get("outward"))),
        ("inward", values.text(kind.get("inward"))),
    )
    return [EdgeRow("LINKED_TO", "Issue", issue_id, "Issue", other, props=props, key=link_id)]


def comment(item: Any, issue_id: str, cloud_id: str) -> Rows:
    """A comment the credential can see: ``(Comment)-[:ON]->(Issue)``, ``-[:AUTHORED_BY]->(Person)``."""
    rows = Rows()
    found = values.record(item, rows.issues)
    if found is None:
        return rows
    item, comment_id = found
    text = to_text(item.get("body")) or ""
    updated = _when(item.get("updated"), rows.issues)
    rows.nodes.append(
        NodeRow(
            "Comment",
            comment_id,
            cloud_id,
            {
                "name": text[:80],
                "text": text,
                "createdAt": _when(item.get("created"), rows.issues),
                "updatedAt": updated,
                "sourceUpdatedAt": updated,
            },
            updated,
        )
    )
    rows.edges.append(EdgeRow("ON", "Comment", comment_id, "Issue", issue_id))
    author = item.get("author")
    rows.extend(person(author, reference=True))
    author_id = values.ident(author.get("accountId")) if isinstance(author, dict) else None
    if author_id is not None:
        rows.edges.append(EdgeRow("AUTHORED_BY", "Comment", comment_id, "Person", author_id))
    return rows


def id_list(value: Any) -> list[str]:
    """A changelog ``from``/``to`` of a list field (sprints: ``"197, 198"``) as ids: split on commas,
    trimmed, empties dropped (V10)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [str(value)]
    if not isinstance(value, str):
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def sprint_change(item: Any) -> tuple[list[str], list[str]]:
    """A changelog item of the sprint field → (sprints the issue left, sprints it joined)."""
    if not isinstance(item, dict):
        return [], []
    before, after = id_list(item.get("from")), id_list(item.get("to"))
    return [s for s in before if s not in after], [s for s in after if s not in before]
