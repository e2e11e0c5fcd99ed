"""Scheme ``hex-hmac-body-id``: a bare hex HMAC-SHA256 of the raw body in ``X-Signature``, the
secret found by the body's ``webhook_id`` (ClickUp's webhooks sign this way).

Its body rules (the envelope) are the ones the receiving plugin on the server applies too (one table
of bodies runs through both, ``tests/test_webhook_envelope_agreement.py``), so a delivery the gateway
acknowledges is one the server can route: never 2xx-and-drop. Only the routing facts are needed
before the signature check (``route``: structure and ``webhook_id``); the event fields come after
(``check``). ``parse_envelope`` runs all of them in order, for tests and callers without a signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from webhook_gateway.envelope import MAX_BODY_BYTES, Rejected, load_object
from webhook_gateway.schemes.base import Routed, Scheme, Signed, lookup_key
from webhook_gateway.signature import parse_hex_digest

HEADER = "X-Signature"
MAX_EVENT_CHARS = 200
OBJECT_ID_FIELDS = ("task_id", "list_id", "folder_id", "space_id", "goal_id", "key_result_id")


@dataclass(frozen=True)
class Envelope:
    webhook_id: str
    event: str


def webhook_id_of(data: dict[str, Any]) -> str:
    """The routing key, checked before it is used for a lookup."""
    if data.get("webhook_id") is None or data.get("webhook_id") == "":
        raise Rejected(400, "missing_webhook_id", "body has no 'webhook_id'")
    return lookup_key(data["webhook_id"], "'webhook_id'")


def check_fields(data: dict[str, Any], webhook_id: str) -> Envelope:
    """The event name, the history list and the object ids have usable types."""
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
    """Every body rule, in order; raises ``Rejected`` with the first one broken."""
    data = load_object(body)
    return check_fields(data, webhook_id_of(data))


class HexHmacBodyId(Scheme):
    name: ClassVar[str] = "hex-hmac-body-id"
    signature_headers: ClassVar[tuple[str, ...]] = ("x-signature",)
    keyed_by_route: ClassVar[bool] = False

    def signature(self, headers: Mapping[str, str]) -> Signed:
        return Signed(parse_hex_digest(headers.get("x-signature"), HEADER), HEADER)

    def route(self, body: bytes, route: str | None, max_bytes: int = MAX_BODY_BYTES) -> Routed:
        data = load_object(body, max_bytes)
        return Routed(webhook_id_of(data), data)

    def check(self, body: bytes, routed: Routed, max_bytes: int = MAX_BODY_BYTES) -> None:
        assert routed.data is not None  # route() parsed it
        check_fields(routed.data, routed.key)
