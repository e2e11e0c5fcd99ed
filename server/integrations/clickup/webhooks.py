"""Reading a ClickUp webhook delivery: which webhook, which event, which object, and its dedupe key.

ClickUp retries an event up to five times and may deliver it twice or out of order. The dedupe
key is ``webhook_id + event + history item ids`` (history ids are unique per change); events
that carry only an id (``taskDeleted``, ``listCreated``, ...) use ``event + object id`` within a
ten-minute window. An id-only *update* (``spaceUpdated``) cannot be told from a retry of an earlier
one, so such a duplicate is applied again rather than risk losing a change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from server.errors import InvalidArgument

ID_ONLY_WINDOW_MS = 10 * 60 * 1000
_OBJECT_KEYS = ("task_id", "list_id", "folder_id", "space_id", "goal_id", "key_result_id")


@dataclass(frozen=True)
class ParsedDelivery:
    webhook_id: str
    event: str
    object_id: str
    dedupe_key: str
    # Two different id-only updates of one object have identical bodies: a "duplicate" of an applied one
    # may be a new change, so it is applied again (a re-fetch, harmless if nothing changed).
    reapply_duplicate: bool = False


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int) and str(value).strip():
        return str(value).strip()[:200]
    return None


def parse_delivery(raw: bytes, received_ms: int) -> ParsedDelivery:
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidArgument("raw_body", "is not JSON", reason="NOT_JSON") from None
    if not isinstance(body, dict):
        raise InvalidArgument("raw_body", "must be a JSON object", reason="NOT_AN_OBJECT")
    event, webhook_id = _text(body.get("event")), _text(body.get("webhook_id"))
    if event is None:
        raise InvalidArgument("raw_body.event", "is missing", reason="MISSING_EVENT")
    if webhook_id is None:
        raise InvalidArgument("raw_body.webhook_id", "is missing", reason="MISSING_WEBHOOK_ID")
    object_id = next((v for v in (_text(body.get(k)) for k in _OBJECT_KEYS) if v), "")
    items = body.get("history_items")
    if items is not None and not isinstance(items, list):
        raise InvalidArgument("raw_body.history_items", "must be a list", reason="BAD_HISTORY")
    history = sorted({h for h in (_text(i.get("id")) for i in items or [] if isinstance(i, dict)) if h})
    if history:
        key = f"clickup|{webhook_id}|{event}|{','.join(history)}"
    else:
        key = f"clickup|{webhook_id}|{event}|{object_id}|{received_ms // ID_ONLY_WINDOW_MS}"
    return ParsedDelivery(
        webhook_id, event, object_id, key, reapply_duplicate=not history and event.endswith("Updated")
    )
