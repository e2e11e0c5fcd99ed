"""What a ClickUp delivery must look like before it is kept: the envelope rules.

The same rules hold in the server (``server/integrations/clickup/webhooks.py``; one table of bodies
is run through both), so a delivery the gateway acknowledges is one the server can route: never
2xx-and-drop. Every rule failure is a ``Rejected`` (a 4xx with a stable reason), never a crash.

The gateway applies them in stages around the signature check, because only the routing facts
are needed before it: ``load_object`` (size, bounded depth, UTF-8 JSON object) and
``webhook_id_of`` come first; the secret lookup and HMAC follow; ``check_fields`` comes last.
``parse_envelope`` runs all of them in order, for tests and for callers without a signature.

Lone surrogates (a JSON ``"\\ud800"`` escape) are not a structural error: they survive parsing, and
the server sets such a routed delivery aside as DEAD_LETTERED. Only ``webhook_id`` has a charset.
"""

from __future__ import annotations

import json
import re
from array import array
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_EVENT_CHARS = 200
OBJECT_ID_FIELDS = ("task_id", "list_id", "folder_id", "space_id", "goal_id", "key_result_id")
WEBHOOK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")  # used with fullmatch: no "$" before a "\n"

_BRACKETS = bytes.maketrans(b"[]{}", b"()()")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"()", b"\x01\xff")  # +1 and -1 as signed bytes


class Rejected(Exception):
    """A delivery refused at the edge: the HTTP status, a stable reason and a sentence for people."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Envelope:
    webhook_id: str
    event: str


def _structure(body: bytes) -> bytes:
    """The body's brackets outside strings, as ``(`` and ``)``; an unterminated string runs to the end.

    Escaped backslashes go first, then escaped quotes (both left to right, as JSON reads them);
    what is left splits on quotes into outside, inside, outside, ... All of it at C speed.
    """
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(unescaped.split(b'"')[0::2])
    return outside.translate(_BRACKETS, _NOT_BRACKETS)


def check_depth(body: bytes, limit: int = MAX_DEPTH) -> None:
    """Refuses nesting deeper than ``limit`` without parsing (so never a RecursionError).

    Depth is the running count of ``[``/``{`` minus ``]``/``}`` outside strings. Fast path: each
    pass of deleting adjacent ``()`` pairs removes one level of every nest and keeps the depth of
    what survives, so if no ``(`` is left after ``limit`` passes nothing is deeper. Otherwise (deep
    or malformed input) the exact running count is taken. Both are linear and run in C.
    """
    structure = _structure(body)
    reduced = structure
    for _ in range(limit):
        shorter = reduced.replace(b"()", b"")
        if shorter == reduced:
            break
        reduced = shorter
    if b"(" in reduced and max(accumulate(array("b", structure.translate(_STEPS)))) > limit:
        raise Rejected(400, "too_deep", f"the body nests deeper than {limit} levels")


def load_object(body: bytes, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """Rules 1 and 2: at most ``max_bytes``, bounded depth, UTF-8 JSON, an object."""
    if len(body) > max_bytes:
        raise Rejected(413, "too_large", f"body is larger than {max_bytes} bytes")
    check_depth(body)
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, a 5000-digit number
        raise Rejected(400, "not_json", "body is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise Rejected(400, "not_an_object", "body must be a JSON object")
    return data


def webhook_id_of(data: dict[str, Any]) -> str:
    """Rule 3: the routing key, checked before it is used for a lookup."""
    webhook_id = data.get("webhook_id")
    if webhook_id is None or webhook_id == "":
        raise Rejected(400, "missing_webhook_id", "body has no 'webhook_id'")
    if not isinstance(webhook_id, str) or not WEBHOOK_ID.fullmatch(webhook_id):
        raise Rejected(400, "bad_webhook_id", "'webhook_id' must be 1-128 letters, digits, '.', '_', ':' or '-'")
    return webhook_id


def check_fields(data: dict[str, Any], webhook_id: str) -> Envelope:
    """Rules 4 to 6: the event name, the history list and the object ids have usable types."""
    event = data.get("event")
    if not isinstance(event, str) or not event.strip():
        raise Rejected(400, "missing_event", "body has no 'event' (a non-empty string)")
    if len(event) > MAX_EVENT_CHARS:
        raise Rejected(400, "bad_event", f"'event' is longer than {MAX_EVENT_CHARS} characters")
    history = data.get("history_items")
    if history is not None and not isinstance(history, list):
        raise Rejected(400, "bad_history", "'history_items' must be a list")
    for field in OBJECT_ID_FIELDS:
        value = data.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise Rejected(400, "bad_object_id", f"'{field}' must be a string or an integer")
    return Envelope(webhook_id, event)


def parse_envelope(body: bytes) -> Envelope:
    """Every rule, in order; raises ``Rejected`` with the first one broken."""
    data = load_object(body)
    return check_fields(data, webhook_id_of(data))
