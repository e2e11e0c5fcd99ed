"""Scheme ``hub-sha256-route``: ``sha256=<hex HMAC-SHA256 of the raw body>`` in
``X-Hub-Signature-256`` or ``X-Hub-Signature`` (Jira admin webhooks, GitHub), the secret found by the
route key in the path, ``/webhooks/{integration}/{key}``: these bodies carry no webhook id, so each
registration is given its own URL.

``X-Hub-Signature-256`` wins when both are sent (GitHub puts a SHA-1 digest in ``X-Hub-Signature``);
only ``sha256`` is accepted. The body is verified before it is parsed, then must be a JSON object
of bounded depth; what the events mean is the server's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from webhook_gateway.envelope import MAX_BODY_BYTES, load_object
from webhook_gateway.schemes.base import Routed, Scheme, Signed, lookup_key
from webhook_gateway.signature import parse_hex_digest

HEADERS = ("X-Hub-Signature-256", "X-Hub-Signature")


class HubSha256Route(Scheme):
    name: ClassVar[str] = "hub-sha256-route"
    signature_headers: ClassVar[tuple[str, ...]] = tuple(h.lower() for h in HEADERS)
    keyed_by_route: ClassVar[bool] = True

    def signature(self, headers: Mapping[str, str]) -> Signed:
        for header in HEADERS:
            value = headers.get(header.lower())
            if value is not None:
                return Signed(parse_hex_digest(value, header, prefix="sha256="), header)
        return Signed(parse_hex_digest(None, " or ".join(HEADERS)), HEADERS[0])  # raises: no header

    def route(self, body: bytes, route: str | None, max_bytes: int = MAX_BODY_BYTES) -> Routed:
        return Routed(lookup_key(route, "the path"))

    def check(self, body: bytes, routed: Routed, max_bytes: int = MAX_BODY_BYTES) -> None:
        load_object(body, max_bytes)
