"""Checking a ClickUp delivery: hex HMAC-SHA256 of the exact raw body, constant-time compare.

Never re-serialise: ClickUp signs its compact bytes, and any other serialisation hashes
differently (TV10 of the reference shows a genuine delivery failing that way).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any


class Rejected(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Envelope:
    webhook_id: str
    event: str


def expected_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, provided: str) -> None:
    if not hmac.compare_digest(expected_signature(secret, body), provided.strip().lower()):
        raise Rejected(401, "bad_signature", "X-Signature does not match the body")


def envelope(body: bytes) -> Envelope:
    try:
        data: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Rejected(400, "not_json", "body is not JSON") from None
    if not isinstance(data, dict):
        raise Rejected(400, "not_an_object", "body must be a JSON object")
    event, webhook_id = data.get("event"), data.get("webhook_id")
    if not isinstance(event, str) or not event:
        raise Rejected(400, "missing_event", "body has no 'event'")
    if not isinstance(webhook_id, str) or not webhook_id:
        raise Rejected(400, "missing_webhook_id", "body has no 'webhook_id'")
    return Envelope(webhook_id, event)
