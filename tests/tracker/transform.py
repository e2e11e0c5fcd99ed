"""Tracker JSON -> graph rows (the transform of get -> transform -> load -> cleanup). Pure functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graph.rows import EdgeRow, NodeRow, Rows


def _id(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _when(value: Any, rows: Rows) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        rows.issues["bad_timestamps"] += 1
        return None


def board(item: dict[str, Any]) -> Rows:
    rows = Rows()
    board_id = _id(item.get("id"))
    if board_id is None:
        rows.issues["skipped_records"] += 1
        return rows
    rows.nodes.append(NodeRow("TrackerBoard", board_id, board_id, {"name": str(item.get("name") or "")}))
    return rows


def card(item: dict[str, Any]) -> Rows:
    """A card and its checklist items; the board it is on is the scope a sweep covers."""
    rows = Rows()
    card_id, board_id = _id(item.get("id")), _id(item.get("board_id"))
    if card_id is None or board_id is None:
        rows.issues["skipped_records"] += 1
        return rows
    updated = _when(item.get("updated_at"), rows)
    props = {"title": str(item.get("title") or ""), "status": str(item.get("status") or "")}
    rows.nodes.append(NodeRow("TrackerCard", card_id, board_id, props, updated))
    rows.edges.append(EdgeRow("HAS_CARD", "TrackerBoard", board_id, "TrackerCard", card_id, owner_is_from=False))
    for position, entry in enumerate(item.get("checklist") or []):
        item_id = _id(entry.get("id")) if isinstance(entry, dict) else None
        if item_id is None:
            rows.issues["skipped_records"] += 1
            continue
        fields = {"text": str(entry.get("text") or ""), "done": bool(entry.get("done")), "position": position}
        rows.nodes.append(NodeRow("TrackerChecklistItem", item_id, board_id, fields, updated))
        rows.edges.append(
            EdgeRow("HAS_ITEM", "TrackerCard", card_id, "TrackerChecklistItem", item_id, owner_is_from=False)
        )
    return rows
