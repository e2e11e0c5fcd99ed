"""ClickUp's custom fields: discovered for the mapping page, and re-mapped on tasks already imported.

Discovery reads the hierarchy (spaces, folders, lists: not paged) and each list's accessible fields
(``GET /list/{id}/field``: the list's own and those it inherits), one union by field id. A re-map
needs no call at all: a task node keeps its raw fields (``customFieldsJson``), and the properties
they became are listed in ``customFieldProps``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.integrations.clickup import transform
from server.integrations.clickup.client import ClickUpClient, items_of
from server.integrations.field_map import NODE_PROPERTIES, CustomFieldInfo, FieldMap, remap_node

KIND = "Task"  # the only kind that carries custom fields
# A task's own properties and those every node gets: no custom field may be mapped onto one.
RESERVED = frozenset(transform.task({"id": "0", "status": {}, "creator": {}}, "0").nodes[0].props) | NODE_PROPERTIES


async def _list_ids(client: ClickUpClient, team_id: str) -> list[str]:
    """Every list the import reads tasks of: archived spaces, folders and lists included."""
    lists: list[str] = []
    spaces_path = f"/team/{team_id}/space"
    for archived in (False, True):
        for space in items_of(await client.get(spaces_path, {"archived": archived}), "spaces", spaces_path):
            space_id = str(space.get("id"))
            for inner in (False, True):
                folders_path = f"/space/{space_id}/folder"
                for folder in items_of(await client.get(folders_path, {"archived": inner}), "folders", folders_path):
                    lists += [str(i["id"]) for i in folder.get("lists") or [] if isinstance(i, dict) and i.get("id")]
                lists_path = f"/space/{space_id}/list"
                folderless = items_of(await client.get(lists_path, {"archived": inner}), "lists", lists_path)
                lists += [str(item["id"]) for item in folderless]
    return list(dict.fromkeys(lists))


async def discover(client: ClickUpClient, workspace_ids: list[str]) -> list[CustomFieldInfo]:
    """Every custom field a list of the selected workspaces (all, when none is selected) can hold."""
    teams = workspace_ids or [str(t.id) for t in await client.get_teams()]
    found: dict[str, dict[str, Any]] = {}
    for team_id in teams:
        for list_id in await _list_ids(client, team_id):
            path = f"/list/{list_id}/field"
            for raw in items_of(await client.get(path), "fields", path):
                if raw.get("id") is not None:
                    found.setdefault(str(raw["id"]), raw)
    ordered = sorted(found.values(), key=lambda raw: (str(raw.get("name") or ""), str(raw["id"])))
    return [
        CustomFieldInfo(
            id=str(raw["id"]),
            name=str(raw.get("name") or ""),
            provider_type=str(raw.get("type") or ""),
            kind=KIND,
            default_property=transform.default_property(str(raw["id"]), str(raw.get("name") or "")),
            natural_type=transform.natural_type(raw.get("type")),
        )
        for raw in ordered
    ]


def remap(label: str, props: Mapping[str, Any], mapping: FieldMap) -> dict[str, Any] | None:
    """A task node's properties with its custom fields mapped anew; None when nothing changes."""
    return remap_node(props, mapping, transform.custom_field_props) if label == KIND else None
