"""Connecting an integration by signing in: the generic OAuth 2.0 authorization-code flow.

``start`` makes an unguessable, single-use ``state`` bound to the org, project, integration,
caller and redirect URI, stores its hash (``graph/authorization_states.py``: any replica can
complete it) and returns the plugin's consent URL. ``complete`` takes the state back (once, and only
with every binding matching), exchanges the code through the plugin, tests and saves the token set
sealed (``Gallery.connect``). What the third party's consent page and token endpoint look like is
the plugin's ``OAuthProvider``; nothing here names one. Codes, states, verifiers and tokens are
never logged or returned.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from graph.authorization_states import AuthorizationStates, PendingAuthorization, StateCollision, state_hash
from graph.integration_store import IntegrationKey
from server.crypto import DecryptionError, KeyRing, record_aad
from server.errors import FailedPrecondition, InvalidArgument, ServiceError, Unavailable
from server.gallery import Gallery, IntegrationView
from server.integrations.base import AnyIntegration, ConnectionCheck
from server.integrations.oauth import (
    OAuthFlowError,
    OAuthProvider,
    code_challenge,
    new_code_verifier,
    new_state,
)
from server.webhooks import safe_text

logger = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=10)
MAX_REDIRECT_URI = 2000
MAX_STATE = 256
MAX_CODE = 2048
_VERIFIER_AAD = "authorization-verifier"


@dataclass(frozen=True)
class StartedAuthorization:
    authorization_url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True)
class CompletedAuthorization:
    view: IntegrationView
    check: ConnectionCheck


class OAuthUnavailable(FailedPrecondition):
    def __init__(self, plugin: AnyIntegration) -> None:
        super().__init__(
            f"signing in to {plugin.display_name} is not available on this server (no OAuth app configured: "
            f"set {plugin.name.upper()}_OAUTH_CLIENT_ID and its secret); connect with an API token",
            reason="OAUTH_UNAVAILABLE",
        )


def _redirect_uri(value: str) -> str:
    if not value:
        raise InvalidArgument("redirect_uri", "required: where the third party sends the browser back")
    if len(value) > MAX_REDIRECT_URI or not value.isprintable() or " " in value:
        raise InvalidArgument("redirect_uri", f"must be a URL of at most {MAX_REDIRECT_URI} printable characters")
    try:
        parts = urlsplit(value)
        if parts.port is not None and parts.port == 0:  # reading .port raises for a bad or out-of-range port
            raise ValueError("port 0")
    except ValueError:
        raise InvalidArgument("redirect_uri", "is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument("redirect_uri", "must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise InvalidArgument("redirect_uri", "must not carry credentials or a fragment")
    return value


def _bounded(field: str, value: str, limit: int) -> str:
    if len(value) > limit or not value.isprintable():
        raise InvalidArgument(field, f"must be at most {limit} printable characters")
    return value


class Authorizations:
    """Start and complete sign-ins; one object, used by the gRPC handlers."""

    def __init__(self, gallery: Gallery, states: AuthorizationStates, keyring: KeyRing) -> None:
        self._gallery = gallery
        self._states = states
        self._keyring = keyring

    def _provider(self, name: str) -> tuple[AnyIntegration, OAuthProvider]:
        plugin = self._gallery.plugin(name)
        provider = plugin.oauth_provider()
        if provider is None:
            raise OAuthUnavailable(plugin)
        return plugin, provider

    async def start(
        self, org_id: str, project_id: str, name: str, redirect_uri: str, caller: str
    ) -> StartedAuthorization:
        plugin, provider = self._provider(name)
        redirect = _redirect_uri(redirect_uri)
        for _ in range(3):
            state = new_state()
            hashed = state_hash(state)
            verifier = new_code_verifier() if provider.pkce else None
            sealed = self._keyring.seal(verifier.encode(), record_aad(_VERIFIER_AAD, hashed)) if verifier else None
            expires_at = datetime.now(UTC) + STATE_TTL
            pending = PendingAuthorization(
                hashed, org_id, project_id, plugin.name, caller, redirect, sealed, expires_at
            )
            try:
                await self._states.add(pending)
            except StateCollision:  # 256 random bits: not in this universe, but never reuse one
                continue
            url = provider.authorization_url(
                state=state, redirect_uri=redirect, code_challenge=code_challenge(verifier) if verifier else None
            )
            logger.info("sign-in to %s started for %s/%s by %s", plugin.name, org_id, project_id, caller)
            return StartedAuthorization(url, state, expires_at)
        raise Unavailable("could not make a sign-in state; try again", reason="STATE_UNAVAILABLE")

    async def complete(
        self,
        org_id: str,
        project_id: str,
        name: str,
        *,
        state: str,
        code: str,
        error: str,
        error_description: str,
        caller: str,
    ) -> CompletedAuthorization:
        """Exchange, test and save; every refusal leaves the integration as it was."""
        plugin, provider = self._provider(name)
        if not state:
            raise InvalidArgument("state", "required: the state the redirect carried")
        _bounded("state", state, MAX_STATE)
        _bounded("code", code, MAX_CODE)
        _bounded("error", error, 200)
        if bool(code) == bool(error):
            raise InvalidArgument("code", "send exactly one of code and error, as the redirect carried them")
        pending = await self._states.take(state_hash(state), org_id, project_id, plugin.name, caller)
        if pending is None:
            raise InvalidArgument(
                "state",
                "unknown, already used, or started by another caller, project or integration: start the sign-in again",
                reason="AUTHORIZATION_STATE_INVALID",
            )
        if pending.expires_at < datetime.now(UTC):
            raise InvalidArgument(
                "state",
                "expired (a sign-in must finish within 10 minutes): start again",
                reason="AUTHORIZATION_EXPIRED",
            )
        if error:
            detail = safe_text(error_description, 300) if error_description else ""
            raise FailedPrecondition(
                f"{plugin.display_name} sign-in was not completed ({safe_text(error, 100)}"
                + (f": {detail}" if detail else "")
                + "); nothing was changed",
                reason="AUTHORIZATION_DENIED",
            )
        verifier = self._verifier(pending)
        try:
            tokens = await provider.exchange_code(code=code, redirect_uri=pending.redirect_uri, code_verifier=verifier)
        except OAuthFlowError as exc:
            if exc.reason == "PROVIDER_UNAVAILABLE":
                raise Unavailable(f"{plugin.display_name}: {exc.message}", reason=exc.reason) from None
            raise InvalidArgument(exc.field, exc.message, reason=exc.reason) from None
        key = IntegrationKey(org_id, project_id, plugin.name)
        view, check = await self._gallery.connect(key, tokens)
        logger.info("sign-in to %s completed for %s/%s by %s", plugin.name, org_id, project_id, caller)
        return CompletedAuthorization(view, check)

    def _verifier(self, pending: PendingAuthorization) -> str | None:
        if pending.verifier_ciphertext is None:
            return None
        try:
            aad = record_aad(_VERIFIER_AAD, pending.state_hash)
            return self._keyring.open(pending.verifier_ciphertext, aad).decode()
        except DecryptionError as exc:
            raise ServiceError(f"the sign-in's verifier cannot be read ({exc}); start again") from None
