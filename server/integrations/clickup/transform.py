"""ClickUp JSON → graph rows (the transform of get → transform → load → cleanup). Pure functions.

No I/O, so every rule here is unit-testable; the kinds and relationships these rows use are
declared in ``schema.py``. Custom field values become typed properties ``cf_<field name in snake
case>`` (drop-downs and labels as option names, numbers as floats, dates as DATETIME, checkboxes as
booleans), and the raw array stays in ``customFieldsJson``. Keys ClickUp adds that we do not know
are kept in ``extraJson`` and counted, never fatal. Each row says which relationships its node
*owns*, so a changed node can have exactly those rebuilt.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from graph.rows import EdgeRow, NodeRow, Rows
from server.integrations import provider_values as values
from server.integrations.field_map import FieldMap, FieldType, mapped_properties

NO_MAPPING = FieldMap()

KNOWN_TASK_KEYS = frozenset(
    {
        "id",
        "custom_id",
        "custom_item_id",
        "name",
        "text_content",
        "description",
        "markdown_description",
        "status",
        "orderindex",
        "date_created",
        "date_updated",
        "date_closed",
        "date_done",
        "archived",
        "creator",
        "assignees",
        "group_assignees",
        "watchers",
        "checklists",
        "tags",
        "parent",
        "top_level_parent",
        "priority",
        "due_date",
        "start_date",
        "points",
        "time_estimate",
        "time_spent",
        "custom_fields",
        "dependencies",
        "linked_tasks",
        "locations",
        "team_id",
        "url",
        "permission_level",
        "list",
        "project",
        "folder",
        "space",
        "sharing",
        "attachments",
        "subtasks",
    }
)


# ---------------------------------------------------------------- value parsing


def when(value: Any, issues: Counter[str]) -> datetime | None:
    """ClickUp ms epochs (string or number) → UTC datetime; anything else is counted and dropped."""
    if value is None or value == "":
        return None
    try:
        millis = float(value)
    except (TypeError, ValueError):
        issues["malformed_values"] += 1
        return None
    if isinstance(value, bool) or not 0 <= millis < 4e12:
        issues["malformed_values"] += 1
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:60] or "field"


# ---------------------------------------------------------------- hierarchy


_ROLES: dict[Any, str] = {1: "owner", 2: "admin", 3: "member", 4: "guest"}


def workspace(team: dict[str, Any]) -> Rows:
    rows = Rows()
    team_id = values.ident(team.get("id"))
    if team_id is None:
        rows.issues["skipped_records"] += 1
        return rows
    rows.nodes.append(
        NodeRow(
            "Workspace",
            team_id,
            team_id,
            {"name": values.text(team.get("name")) or "", "color": values.text(team.get("color"))},
        )
    )
    for member in values.items(team.get("members")):
        user = values.obj(values.obj(member, rows.issues, "member").get("user"), rows.issues, "person")
        rows.extend(person(user, team_id))
        user_id = values.ident(user.get("id"))
        if user_id is not None:
            role = user.get("role_key") or _ROLES.get(user.get("role"))
            rows.edges.append(
                EdgeRow(
                    "MEMBER_OF", "Person", user_id, "Workspace", team_id, owner_is_from=False, props=(("role", role),)
                )
            )
    return rows


def person(user: Any, workspace_id: str | None, *, reference: bool = False) -> Rows:
    rows = Rows()
    if not isinstance(user, dict) or values.ident(user.get("id")) is None:
        if user is not None:
            rows.issues["malformed_person"] += 1
        return rows
    username = values.text(user.get("username"))
    rows.nodes.append(
        NodeRow(
            "Person",
            str(user["id"]),
            None,
            {
                "name": username or values.text(user.get("email")) or str(user["id"]),
                "username": username,
                "email": values.text(user.get("email")),
                "initials": values.text(user.get("initials")),
            },
            reference=reference,
        )
    )
    return rows


def space(item: dict[str, Any], team_id: str) -> Rows:
    rows = Rows()
    space_id = values.ident(item.get("id"))
    if space_id is None:
        rows.issues["skipped_records"] += 1
        return rows
    rows.nodes.append(
        NodeRow(
            "Space",
            space_id,
            team_id,
            {
                "name": values.text(item.get("name")) or "",
                "archived": bool(item.get("archived")),
                "private": bool(item.get("private")),
            },
        )
    )
    rows.edges.append(EdgeRow("CONTAINS", "Workspace", team_id, "Space", space_id, owner_is_from=False))
    return rows


def folder(item: dict[str, Any], team_id: str, space_id: str) -> Rows:
    rows = Rows()
    folder_id = values.ident(item.get("id"))
    if folder_id is None:
        rows.issues["skipped_records"] += 1
        return rows
    rows.nodes.append(
        NodeRow(
            "Folder",
            folder_id,
            team_id,
            {
                "name": values.text(item.get("name")) or "",
                "archived": bool(item.get("archived")),
                "hidden": bool(item.get("hidden")),
            },
        )
    )
    rows.edges.append(EdgeRow("CONTAINS", "Space", space_id, "Folder", folder_id, owner_is_from=False))
    return rows


def task_list(item: dict[str, Any], team_id: str, space_id: str, folder_id: str | None) -> Rows:
    rows = Rows()
    list_id = values.ident(item.get("id"))
    if list_id is None:
        rows.issues["skipped_records"] += 1
        return rows
    count = values.number(item.get("task_count"), rows.issues)
    rows.nodes.append(
        NodeRow(
            "List",
            list_id,
            team_id,
            {
                "name": values.text(item.get("name")) or "",
                "archived": bool(item.get("archived")),
                "taskCount": None if count is None else int(count),
            },
        )
    )
    parent_label, parent_id = ("Folder", folder_id) if folder_id else ("Space", space_id)
    rows.edges.append(EdgeRow("CONTAINS", parent_label, parent_id, "List", list_id, owner_is_from=False))
    return rows


# ---------------------------------------------------------------- tasks


# The type each ClickUp field type is read as (what it becomes unmapped).
NATURAL_TYPES: dict[str, FieldType] = {
    "drop_down": FieldType.STRING,
    "labels": FieldType.STRING_LIST,
    "number": FieldType.NUMBER,
    "currency": FieldType.NUMBER,
    "emoji": FieldType.NUMBER,
    "checkbox": FieldType.BOOLEAN,
    "date": FieldType.DATETIME,
    "text": FieldType.STRING,
    "short_text": FieldType.STRING,
    "email": FieldType.STRING,
    "url": FieldType.STRING,
    "phone": FieldType.STRING,
    "users": FieldType.STRING_LIST,
    "tasks": FieldType.STRING_LIST,
}


def natural_type(kind: Any) -> FieldType:
    return NATURAL_TYPES.get(str(kind), FieldType.STRING)  # anything else: its JSON text


def default_property(field_id: str, name: str) -> str:
    """``cf_<slug of the name>``: fields of one name (one per space, say) share it."""
    return "cf_" + _slug(name or field_id or "field")


def default_properties(fields: list[tuple[str, str]]) -> dict[str, str]:
    """The default property per (id, name) of one task's fields; a repeated one gets the id's head."""
    names: dict[str, str] = {}
    for field_id, name in fields:
        prop = default_property(field_id, name)
        if prop in names.values():
            prop = f"{prop}_{field_id[:8]}"
        names[field_id] = prop
    return names


def _natural_value(raw: dict[str, Any], issues: Counter[str]) -> Any:
    kind, value = raw.get("type"), raw["value"]
    options = values.items(values.obj(raw.get("type_config"), issues, "type_config").get("options"))
    if kind == "drop_down":
        match = next(
            (o for o in options if isinstance(o, dict) and (o.get("orderindex") == value or o.get("id") == value)),
            None,
        )
        return (match.get("name") or match.get("label")) if match else None
    if kind == "labels":
        names = {o.get("id"): o.get("label") or o.get("name") for o in options if isinstance(o, dict)}
        return [names.get(v, str(v)) for v in values.items(value)]
    if kind in ("number", "currency", "emoji"):
        return values.number(value, issues)
    if kind == "checkbox":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "date":
        return when(value, issues)
    if kind in ("text", "short_text", "email", "url", "phone"):
        return str(value)
    if kind in ("users", "tasks"):
        return [str(v.get("id")) if isinstance(v, dict) else str(v) for v in values.items(value)]
    return json.dumps(value, sort_keys=True)


def custom_field_props(fields: list[Any], issues: Counter[str], mapping: FieldMap) -> dict[str, Any]:
    """The task's custom-field properties under the project's mapping, and their names in
    ``customFieldProps`` (what a later re-map removes before it writes the new ones)."""
    valued = [raw for raw in fields if isinstance(raw, dict) and raw.get("value") is not None]
    defaults = default_properties([(str(raw.get("id") or ""), str(raw.get("name") or "")) for raw in valued])
    read = [
        (str(raw.get("id") or ""), defaults[str(raw.get("id") or "")], functools.partial(_natural_value, raw, issues))
        for raw in valued
    ]
    return mapped_properties(read, issues, mapping)


def _checklists(checklists: list[Any]) -> dict[str, Any]:
    items = [i for c in checklists if isinstance(c, dict) for i in values.items(c.get("items")) if isinstance(i, dict)]
    return {
        "checklistsJson": json.dumps(checklists, sort_keys=True) if checklists else None,
        "checklistTotal": len(items),
        "checklistResolved": sum(1 for i in items if i.get("resolved") is True),
        "checklistItems": [str(i.get("name")) for i in items],
    }


def task(item: dict[str, Any], team_id: str, mapping: FieldMap = NO_MAPPING) -> Rows:
    """One task (or subtask) with the relationships it owns; custom fields as ``mapping`` says."""
    rows = Rows()
    issues = rows.issues
    task_id = values.ident(item.get("id"))
    home = values.ident(values.obj(item.get("list"), issues, "list").get("id"))
    if task_id is None:
        issues["skipped_records"] += 1
        return rows
    for required in ("status", "creator"):  # ClickUp always sends these: null means a damaged record
        if item.get(required) is None:
            issues[f"missing_{required}"] += 1
    status = values.obj(item.get("status"), issues, "status")
    priority = values.obj(item.get("priority"), issues, "priority")
    updated = when(item.get("date_updated"), issues)
    if item.get("date_updated") is None:
        issues["missing_date_updated"] += 1
    unknown = {k: v for k, v in item.items() if k not in KNOWN_TASK_KEYS}
    if unknown:
        issues["unknown_fields"] += len(unknown)
    fields = values.items(item.get("custom_fields"))
    props: dict[str, Any] = {
        "name": values.text(item.get("name")) or "",
        "url": values.text(item.get("url")),
        "status": values.text(status.get("status")),
        "statusType": values.text(status.get("type")),
        "priority": values.text(priority.get("priority")),
        "createdAt": when(item.get("date_created"), issues),
        "dueAt": when(item.get("due_date"), issues),
        "startAt": when(item.get("start_date"), issues),
        "closedAt": when(item.get("date_closed"), issues),
        "doneAt": when(item.get("date_done"), issues),
        "sourceUpdatedAt": updated,
        "archived": bool(item.get("archived")),
        "timeEstimateMs": values.number(item.get("time_estimate"), issues),
        "points": values.number(item.get("points"), issues),
        "textContent": values.text(item.get("text_content")),
        "customId": values.text(item.get("custom_id")),
        "customFieldsJson": json.dumps(fields, sort_keys=True) if fields else None,
        "extraJson": json.dumps(unknown, sort_keys=True, default=str) if unknown else None,
        **_checklists(values.items(item.get("checklists"))),
        **custom_field_props(fields, issues, mapping),
    }
    rows.nodes.append(NodeRow("Task", task_id, team_id, props, updated))

    def own(edge_type: str, to_label: str, to_id: str | None) -> None:
        if to_id is not None and to_id != task_id:
            rows.edges.append(EdgeRow(edge_type, "Task", task_id, to_label, to_id))

    if home is not None:
        rows.edges.append(EdgeRow("CONTAINS", "List", home, "Task", task_id, owner_is_from=False))
    for location in values.items(item.get("locations")):
        other = values.ident(location.get("id")) if isinstance(location, dict) else None
        if other is not None and other != home:
            rows.edges.append(EdgeRow("INCLUDES", "List", other, "Task", task_id, owner_is_from=False))
    own("SUBTASK_OF", "Task", values.ident(item.get("parent")))
    creator = item.get("creator")
    rows.extend(person(creator, None, reference=True))
    own("CREATED_BY", "Person", values.ident(creator.get("id")) if isinstance(creator, dict) else None)
    for assignee in values.items(item.get("assignees")):
        rows.extend(person(assignee, None, reference=True))
        own("ASSIGNED_TO", "Person", values.ident(assignee.get("id")) if isinstance(assignee, dict) else None)
    space_id = values.ident(values.obj(item.get("space"), issues, "space").get("id"))
    for tag in values.items(item.get("tags")):
        name = values.text(tag.get("name")) if isinstance(tag, dict) else None
        if name and space_id:
            tag_id = f"{space_id}:{name}"
            rows.nodes.append(
                NodeRow(
                    "Tag",
                    tag_id,
                    team_id,
                    {
                        "name": name,
                        "spaceId": space_id,
                        "foreground": values.text(tag.get("tag_fg")),
                        "background": values.text(tag.get("tag_bg")),
                    },
                )
            )
            own("TAGGED", "Tag", tag_id)
    for dependency in values.items(item.get("dependencies")):
        if isinstance(dependency, dict) and values.ident(dependency.get("task_id")) == task_id:
            own("DEPENDS_ON", "Task", values.ident(dependency.get("depends_on")))
    for link in values.items(item.get("linked_tasks")):
        if isinstance(link, dict) and values.ident(link.get("task_id")) == task_id:
            own("LINKED_TO", "Task", values.ident(link.get("link_id")))
    return rows


def comment(item: dict[str, Any], task_id: str, team_id: str) -> Rows:
    """A task comment: ``(Comment)-[:ON]->(Task)``, ``(Comment)-[:AUTHORED_BY]->(Person)``."""
    rows = Rows()
    comment_id = values.ident(item.get("id"))
    if comment_id is None:
        rows.issues["skipped_records"] += 1
        return rows
    text = values.text(item.get("comment_text")) or ""
    created = when(item.get("date"), rows.issues)
    rows.nodes.append(
        NodeRow(
            "Comment",
            comment_id,
            team_id,
            {
                "name": text[:80],
                "text": text,
                "createdAt": created,
                "resolved": bool(item.get("resolved")),
            },
        )
    )
    rows.edges.append(EdgeRow("ON", "Comment", comment_id, "Task", task_id))
    author = item.get("user")
    rows.extend(person(author, None, reference=True))
    author_id = values.ident(author.get("id")) if isinstance(author, dict) else None
    if author_id is not None:
        rows.edges.append(EdgeRow("AUTHORED_BY", "Comment", comment_id, "Person", author_id))
    return rows
