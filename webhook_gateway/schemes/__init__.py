"""HTTP signing schemes, by name: the gateway knows these, not integrations. Which integration
uses which comes from configuration (``GATEWAY_SCHEMES``, defaults in ``defaults.py``)."""

from __future__ import annotations

from webhook_gateway.schemes.base import Routed, Scheme, Signed
from webhook_gateway.schemes.hex_body_id import HexHmacBodyId
from webhook_gateway.schemes.hub_or_jwt_route import HubSha256OrJwtRoute
from webhook_gateway.schemes.hub_route import HubSha256Route
from webhook_gateway.schemes.jwt_route import JwtHs256Route

SCHEMES: dict[str, Scheme] = {
    scheme.name: scheme for scheme in (HexHmacBodyId(), HubSha256Route(), JwtHs256Route(), HubSha256OrJwtRoute())
}

__all__ = ["SCHEMES", "Routed", "Scheme", "Signed"]
