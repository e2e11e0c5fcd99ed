"""The scheme table's defaults: which signing scheme each integration we ship uses. This is the one
module of the gateway that names integrations; ``GATEWAY_SCHEMES`` adds to or overrides it."""

from __future__ import annotations

DEFAULT_SCHEMES: dict[str, str] = {
    "clickup": "hex-hmac-body-id",
    "jira": "hub-sha256-or-jwt-route",  # admin webhooks sign the body, an OAuth app's dynamic ones send a JWT
}

# Old single-tenant secret variables, read for one more release (with a warning): variable -> integration.
DEPRECATED_SECRET_VARIABLES: dict[str, str] = {
    "CLICKUP_WEBHOOK_SECRET": "clickup",
}
