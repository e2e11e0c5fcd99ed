"""Reading a ClickUp webhook delivery: which webhook, which event, which object, and its dedupe key.

ClickUp retries an event up to five times and may deliver it twice or out of order. The dedupe
key is ``webhook_id + event + history item ids`` (history ids are unique per change); events
that carry only an id (``taskDeleted``, ``listCreated``, ...) use ``event + object id`` within a
ten-minute window. An id-only *update* (``spaceUpdated``) cannot be told from a retry of an earlier
one, so such a duplicate is applied again rather than risk losing a change.

The envelope rules are the gateway's (``webhook_gateway/schemes/hex_body_id.py``; a test runs one table through
both). A body without a readable ``webhook_id`` cannot be routed and is refused. A routed body that
breaks any other rule, or whose text cannot be stored as it is (a lone surrogate from a JSON
``\\ud800`` escape), is not refused but parsed into a delivery with a ``problem``: the inbox sets it
aside as DEAD_LETTERED, visible and replayable, so it never blocks the deliveries behind it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from server.errors import InvalidArgument
from server.integrations.base import ParsedDelivery
from server.integrations.delivery_checks import DeliveryProblem, event_name, is_storable, shown_event

ID_ONLY_WINDOW_MS = 10 * 60 * 1000
_OBJECT_KEYS = ("task_id", "list_id", "folder_id", "space_id", "goal_id", "key_result_id")
_WEBHOOK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def _object_id(body: dict[str, Any]) -> str:
    """The first id present; every id field must have a usable type, not only the first one."""
    found = ""
    for key in _OBJECT_KEYS:
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise DeliveryProblem("BAD_OBJECT_ID", f"'{key}' must be a string or an integer")
        found = found or str(value).strip()[:200]
    return found


def _history_ids(body: dict[str, Any]) -> list[str]:
    items = body.get("history_items")
    if items is None:
        return []
    if not isinstance(items, list):
        raise DeliveryProblem("BAD_HISTORY", "'history_items' must be a list")
    ids = set()
    for item in items:
        value = item.get("id") if isinstance(item, dict) else None
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            ids.add(str(value).strip()[:200])
    return sorted(ids)


def parse_delivery(raw: bytes, received_ms: int) -> ParsedDelivery:
    """The delivery's routing and dedupe facts; raises InvalidArgument when it cannot even be routed."""
    try:
        # UTF-8 only, as the gateway reads it (json.loads on bytes would also accept UTF-16 and 32);
        # ValueError also covers a number too long to convert.
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise InvalidArgument("raw_body", "is not JSON (or nests too deep to read)", reason="NOT_JSON") from None
    if not isinstance(body, dict):
        raise InvalidArgument("raw_body", "must be a JSON object", reason="NOT_AN_OBJECT")
    webhook_id = body.get("webhook_id")
    if webhook_id is None or webhook_id == "":
        raise InvalidArgument("raw_body.webhook_id", "is missing", reason="MISSING_WEBHOOK_ID")
    if not isinstance(webhook_id, str) or not _WEBHOOK_ID.fullmatch(webhook_id):
        raise InvalidArgument(
            "raw_body.webhook_id", "must be 1-128 letters, digits, '.', '_', ':' or '-'", reason="BAD_WEBHOOK_ID"
        )
    shown = shown_event(body, "event")
    try:
        event = event_name(body, "event")
        object_id = _object_id(body)
        history = _history_ids(body)
        if not all(is_storable(text) for text in (event, object_id, *history)):
            raise DeliveryProblem("UNSTORABLE_TEXT", "the envelope holds text that cannot be stored (a lone surrogate)")
    except DeliveryProblem as problem:
        return problem.dead_letter("clickup", webhook_id, shown, raw)
    event = event.strip()
    if history:
        key = f"clickup|{webhook_id}|{event}|{','.join(history)}"
    else:
        key = f"clickup|{webhook_id}|{event}|{object_id}|{received_ms // ID_ONLY_WINDOW_MS}"
    return ParsedDelivery(
        webhook_id, event, object_id, key, reapply_duplicate=not history and event.endswith("Updated")
    )
