"""OAuth 2.0 authorization-code sign-in, as a plugin offers it.

A plugin that can be connected by signing in returns an ``OAuthProvider`` from ``oauth_provider()``
(``None`` when this server holds no app credentials for it: OAuth is then *unavailable*, not broken).
The provider knows the third party's consent URL and token endpoint; the generic flow (state,
PKCE, sealing, testing, saving) is ``server/authorization.py``'s.

App credentials come from configuration only (``<INTEGRATION>_OAUTH_CLIENT_ID`` and
``<INTEGRATION>_OAUTH_CLIENT_SECRET`` or ``..._SECRET_FILE``), never from a browser, and the secret
never shows in a ``repr``, a log or an error.
"""

from __future__ import annotations

import abc
import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from envconfig import Config, ConfigError, secret
from server.integrations.credentials import OAuthTokens


@dataclass(frozen=True)
class OAuthApp:
    """The OAuth app registered with the third party: who this server is when it asks for a grant."""

    client_id: str
    client_secret: str = field(repr=False)

    @classmethod
    def from_config(cls, config: Config, integration: str) -> OAuthApp | None:
        """``<NAME>_OAUTH_CLIENT_ID`` with ``<NAME>_OAUTH_CLIENT_SECRET`` or ``..._SECRET_FILE``; None
        when no client id is set. A client id without a secret is a configuration error."""
        prefix = f"{integration.upper()}_OAUTH_CLIENT"
        client_id = config.optional(f"{prefix}_ID", secret)
        if client_id is None:
            return None
        inline, path = config.optional(f"{prefix}_SECRET", secret), config.optional(f"{prefix}_SECRET_FILE")
        if inline is not None and path is not None:
            raise ConfigError(f"set one of {prefix}_SECRET and {prefix}_SECRET_FILE, not both")
        if path is not None:
            try:
                inline = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{prefix}_SECRET_FILE {path!r} cannot be read: {exc.strerror}") from None
            if not inline or not inline.isprintable():
                raise ConfigError(f"{prefix}_SECRET_FILE {path!r} must hold the secret on one line")
        if inline is None:
            raise ConfigError(f"{prefix}_ID is set but neither {prefix}_SECRET nor {prefix}_SECRET_FILE is")
        return cls(client_id, inline)


class OAuthFlowError(Exception):
    """The third party refused a step of the flow (bad client, redirect URI, code). ``field`` is the
    request field to blame; the message never holds a code, token or secret."""

    def __init__(self, field: str, message: str, reason: str = "OAUTH_FLOW_FAILED") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.reason = reason


class GrantRevoked(Exception):
    """The third party says the grant is gone (revoked, or its refresh token dead): only a new
    authorization helps. Raised by plugin clients; the server pauses the integration on it."""


class OAuthProvider(abc.ABC):
    """One third party's authorization-code flow."""

    # Send a PKCE (S256) challenge: only where the third party is known to accept it.
    pkce: ClassVar[bool] = False

    @abc.abstractmethod
    def authorization_url(self, *, state: str, redirect_uri: str, code_challenge: str | None) -> str:
        """The consent page the browser goes to."""

    @abc.abstractmethod
    async def exchange_code(self, *, code: str, redirect_uri: str, code_verifier: str | None) -> OAuthTokens:
        """The token set for an authorization code; ``OAuthFlowError`` when the third party refuses."""


def new_state() -> str:
    """256 random bits, URL-safe: unguessable, and safe in a query string."""
    return secrets.token_urlsafe(32)


def new_code_verifier() -> str:
    """A PKCE verifier (RFC 7636: 43-128 characters of the unreserved set)."""
    return secrets.token_urlsafe(48)


def code_challenge(verifier: str) -> str:
    """The S256 challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
