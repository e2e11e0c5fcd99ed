"""HMAC-SHA256 of the exact raw body, compared in constant time; the HMAC schemes differ only in
where the digest travels (``schemes/``; a scheme that signs a token instead overrides ``verify``).

Never re-serialise: senders sign their own bytes, and any other serialisation hashes differently
(TV10 of the reference shows a genuine delivery failing that way).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from webhook_gateway.envelope import Rejected, SignatureMismatch

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def expected_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_hex_digest(value: str | None, header: str, prefix: str = "") -> str:
    """``prefix`` + 64 hex digits, lower-cased without the prefix; refused before any lookup.

    Checked up front so that an unsigned or garbled delivery costs no RPC, and so that the
    constant-time compare only ever sees ASCII (``compare_digest`` raises on other text).
    """
    provided = (value or "").strip()
    if not provided:
        raise Rejected(401, "missing_signature", f"{header} header is required")
    if not provided.startswith(prefix) or not _HEX_SHA256.fullmatch(provided[len(prefix) :]):
        raise Rejected(401, "bad_signature", f"{header} must be {prefix}<64 hexadecimal digits>")
    return provided[len(prefix) :].lower()


def verify(secret: str, body: bytes, digest: str, header: str) -> None:
    """``digest`` comes from ``parse_hex_digest`` (lower-case hex)."""
    if not hmac.compare_digest(expected_signature(secret, body), digest):
        raise SignatureMismatch(f"{header} does not match the body")
