"""Scheme ``hub-sha256-or-jwt-route``: one route-keyed URL that takes both ways an integration's
webhooks may be signed, as Jira's are: admin webhooks with ``X-Hub-Signature(-256)`` (exactly
``hub-sha256-route``), dynamic webhooks of an OAuth app with ``Authorization: Bearer <JWT>``
(exactly ``jwt-hs256-route``: read there what a token proves, and that it does not cover the body).

A hub header, when present (even empty or garbled), decides: it is never rescued by a token, so a
sender that meant to sign the body cannot be downgraded to a token that does not cover it. Only
without one is ``Authorization`` read. The secret comes from the same lookup either way: the
server keeps, per registration, the admin webhook's secret or the OAuth app's client secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from webhook_gateway.envelope import MAX_BODY_BYTES, Rejected
from webhook_gateway.schemes.base import Routed, Scheme, Signed
from webhook_gateway.schemes.hub_route import HEADERS as HUB_HEADERS
from webhook_gateway.schemes.hub_route import HubSha256Route
from webhook_gateway.schemes.jwt_route import HEADER as TOKEN_HEADER
from webhook_gateway.schemes.jwt_route import JwtHs256Route, SignedToken


class HubSha256OrJwtRoute(Scheme):
    name: ClassVar[str] = "hub-sha256-or-jwt-route"
    signature_headers: ClassVar[tuple[str, ...]] = HubSha256Route.signature_headers + JwtHs256Route.signature_headers
    keyed_by_route: ClassVar[bool] = True

    def __init__(self, hub: HubSha256Route | None = None, token: JwtHs256Route | None = None) -> None:
        self._hub = hub or HubSha256Route()
        self._token = token or JwtHs256Route()

    def signature(self, headers: Mapping[str, str]) -> Signed:
        if any(header in headers for header in HubSha256Route.signature_headers):
            return self._hub.signature(headers)
        if TOKEN_HEADER.lower() in headers:
            return self._token.signature(headers)
        expected = " or ".join((*HUB_HEADERS, TOKEN_HEADER))
        raise Rejected(401, "missing_signature", f"{expected} header is required")

    def route(self, body: bytes, route: str | None, max_bytes: int = MAX_BODY_BYTES) -> Routed:
        return self._hub.route(body, route, max_bytes)

    def verify(self, secret: str, body: bytes, signed: Signed) -> None:
        (self._token if isinstance(signed, SignedToken) else self._hub).verify(secret, body, signed)

    def check(self, body: bytes, routed: Routed, max_bytes: int = MAX_BODY_BYTES) -> None:
        self._hub.check(body, routed, max_bytes)
