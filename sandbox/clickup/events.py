"""Webhook payloads as ClickUp sends them: thin (ids and history, never the full object)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from sandbox.clickup.model import Status, User, World
from sandbox.clickup.render import user_ref

_history_ids = itertools.count(4003912345678900000)


def compact(payload: dict[str, Any]) -> bytes:
    """ClickUp's bodies are compact JSON; signatures are over exactly these bytes."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def history_item(
    field: str, parent_id: str, user: User, date: int, before: Any, after: Any, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "id": str(next(_history_ids)),
        "type": 1,
        "date": str(date),
        "field": field,
        "parent_id": parent_id,
        "data": data or {},
        "source": None,
        "user": user_ref(user),
        "before": before,
        "after": after,
    }


def status_ref(status: Status | None) -> dict[str, Any]:
    if status is None:
        return {"status": None, "color": "#000000", "type": "removed", "orderindex": -1}
    return {"status": status.status, "color": status.color, "orderindex": status.orderindex, "type": status.type}


def task_event(event: str, task_id: str, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"event": event}
    if items is not None:
        payload["history_items"] = items
    payload["task_id"] = task_id
    return payload


def list_ref(world: World, list_id: str) -> dict[str, Any]:
    item = world.lists[list_id]
    folder = world.folders.get(item.folder_id) if item.folder_id else None
    space = world.spaces[item.space_id]
    category = (
        {"id": folder.id, "name": folder.name, "hidden": folder.hidden}
        if folder
        else {"id": f"{space.id}0", "name": "hidden", "hidden": True}
    )
    return {"id": item.id, "name": item.name, "category": category, "project": {"id": space.id, "name": space.name}}


def object_event(event: str, key: str, object_id: str) -> dict[str, Any]:
    """list*/folder*/space* events carry only the id (listUpdated may add history)."""
    return {"event": event, key: object_id}
