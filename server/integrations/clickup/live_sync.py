"""Applying one ClickUp webhook event to the graph.

Payloads are thin, so every event re-fetches the object's current state by id and writes it
through the import's writer: duplicates and out-of-order arrivals then converge (the monotonic
guard drops anything older than what is stored). A fetch answering 404 or 401 ``OAUTH_023``
means the object is gone: it is deleted like a ``*Deleted`` event, with its subtree.
"""

from __future__ import annotations

from typing import Any

from graph.clickup import mapping
from graph.clickup.mapping import Rows
from graph.clickup.writer import GraphWriter
from server.integrations.clickup.client import ClickUpClient
from server.integrations.clickup.errors import ClickUpNotAuthorized, ClickUpNotFound
from server.integrations.clickup.importer import fetch_comments

KINDS = {"task": "Task", "list": "List", "folder": "Folder", "space": "Space"}


def kind_of(event: str) -> tuple[str, str] | None:
    """``taskStatusUpdated`` -> ("Task", "Updated"); None for events the graph does not model."""
    for prefix, label in KINDS.items():
        if event.startswith(prefix) and event[len(prefix) : len(prefix) + 1].isupper():
            return label, "Deleted" if event.endswith("Deleted") else "Changed"
    return None


async def apply_event(
    client: ClickUpClient,
    writer: GraphWriter,
    event: str,
    object_id: str,
    workspace_id: str,
    include_comments: bool,
    run_id: str,
) -> str:
    kind = kind_of(event)
    if kind is None or not object_id:
        return "ignored"
    label, change = kind
    if change == "Deleted":
        await writer.delete(label, object_id, run_id)
        return "deleted"
    path = {
        "Task": f"/task/{object_id}",
        "List": f"/list/{object_id}",
        "Folder": f"/folder/{object_id}",
        "Space": f"/space/{object_id}",
    }[label]
    try:
        body: Any = await client.get(path, {"include_subtasks": True} if label == "Task" else None)
    except (ClickUpNotFound, ClickUpNotAuthorized):
        await writer.delete(label, object_id, run_id)
        return "deleted (gone from ClickUp)"
    if not isinstance(body, dict):
        body = {}
    rows = Rows()
    if label == "Task":
        rows.extend(mapping.task(body, workspace_id))
        for sub in body.get("subtasks") or []:
            if isinstance(sub, dict):
                rows.extend(mapping.task(sub, workspace_id))
        if include_comments:
            rows.extend(await fetch_comments(client, object_id, workspace_id))
    elif label == "List":
        folder = body.get("folder") if isinstance(body.get("folder"), dict) else {}
        space = body.get("space") if isinstance(body.get("space"), dict) else {}
        folder_id = None if folder.get("hidden") else str(folder.get("id") or "") or None
        rows.extend(mapping.task_list(body, workspace_id, str(space.get("id") or ""), folder_id))
    elif label == "Folder":
        space = body.get("space") if isinstance(body.get("space"), dict) else {}
        rows.extend(mapping.folder(body, workspace_id, str(space.get("id") or "")))
        for item in body.get("lists") or []:
            if isinstance(item, dict):
                rows.extend(mapping.task_list(item, workspace_id, str(space.get("id") or ""), str(body.get("id"))))
    else:
        rows.extend(mapping.space(body, workspace_id))
    await writer.write(rows, run_id)
    return "written"
