"""Checking a ClickUp delivery: hex HMAC-SHA256 of the exact raw body, constant-time compare.

Never re-serialise: ClickUp signs its compact bytes, and any other serialisation hashes
differently (TV10 of the reference shows a genuine delivery failing that way).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from webhook_gateway.envelope import Rejected

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def expected_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_signature(header: str | None) -> str:
    """The ``X-Signature`` value, refused before any lookup when absent or not 64 hex digits.

    Checked up front so that an unsigned or garbled delivery costs no RPC, and so that the
    constant-time compare only ever sees ASCII (``compare_digest`` raises on other text).
    """
    provided = (header or "").strip()
    if not provided:
        raise Rejected(401, "missing_signature", "X-Signature header is required")
    if not _HEX_SHA256.fullmatch(provided):
        raise Rejected(401, "bad_signature", "X-Signature must be 64 hexadecimal digits")
    return provided.lower()


def verify(secret: str, body: bytes, provided: str) -> None:
    if not hmac.compare_digest(expected_signature(secret, body), parse_signature(provided)):
        raise Rejected(401, "bad_signature", "X-Signature does not match the body")
