"""ClickUp's OAuth 2.0 as the sandbox plays it: apps, single-use codes, grants bound to workspaces.

ClickUp authorizes per workspace (``team``), not per scope: at consent the user ticks the
workspaces an app may reach, and its token reaches those only (``GET /team`` lists them, anything
in another answers 401 OAUTH_027). Tokens have no refresh token and no expiry; they end when
revoked (in the sandbox: ``POST /_sandbox/oauth/revoke``), and a revoked token answers 401
OAUTH_019 "Token not found".

Redirect URIs. A ``redirect_uri`` matches a registered one when scheme, host, port and path are
equal (scheme and host case-insensitively, default ports filled in); its query is ignored for the
match and kept in the redirect; one with a fragment never matches. ClickUp's docs say only that
redirect URLs are registered with the app, so this exact comparison is the sandbox's (strict)
reading. Sandbox convenience, not ClickUp's: a registered loopback origin with neither port nor
path (``http://127.0.0.1``, ``http://localhost``, ``http://[::1]``) matches that scheme and host on
any port and path, so tests on ephemeral ports need not register each callback. The default app
``sandbox-client`` / ``sandbox-secret`` registers exactly those three.

Codes are single use, live 10 minutes and remember the client, user, chosen workspaces and
redirect URI. Errors (``OAuthError``), ClickUp's documented codes where there are any:

    authorize: unknown client_id          400 OAUTH_010 "Client not found"
               no redirect_uri            400 OAUTH_017 "Redirect URI not passed"
               redirect_uri not registered 400 OAUTH_007 "Redirect URI not registered"
    token:     unknown client, bad secret 400 OAUTH_010 "Client not found"
               code unknown, used, expired or issued to another client
                                          400 OAUTH_015 "Code not found"  (ECODE unverified: the
                                              sandbox's pick within the OAUTH_ family)

A code presented by another client is refused as unknown and stays usable by its own client.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

CODE_TTL_SECONDS = 600.0
DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # published: the sandbox's test app
LOOPBACK_ORIGINS = ("http://127.0.0.1", "http://localhost", "http://[::1]")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class OAuthError(Exception):
    """An OAuth refusal in ClickUp's terms: a message and an ECODE (rendered as JSON or HTML)."""

    def __init__(self, err: str, ecode: str, status: int = 400) -> None:
        super().__init__(err)
        self.err = err
        self.ecode = ecode
        self.status = status


def client_not_found() -> OAuthError:
    return OAuthError("Client not found", "OAUTH_010")


def code_not_found() -> OAuthError:
    return OAuthError("Code not found", "OAUTH_015")


def _parts(uri: str) -> SplitResult | None:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts


def _origin(parts: SplitResult) -> tuple[str, str, int]:
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS[scheme]


def valid_redirect_uri(uri: str) -> bool:
    """An absolute http(s) URL without a fragment: what can be registered or redirected to."""
    parts = _parts(uri)
    return parts is not None and not parts.fragment


def redirect_matches(registered: str, given: str) -> bool:
    want, got = _parts(registered), _parts(given)
    if want is None or got is None or got.fragment:
        return False
    wildcard = want.port is None and want.path in ("", "/") and want.hostname in ("127.0.0.1", "localhost", "::1")
    if wildcard:  # the sandbox's loopback convenience: any port, any path
        return (want.scheme.lower(), want.hostname) == (got.scheme.lower(), (got.hostname or "").lower())
    return _origin(want) == _origin(got) and (want.path or "/") == (got.path or "/")


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]
    name: str

    def allows(self, redirect_uri: str) -> bool:
        return any(redirect_matches(registered, redirect_uri) for registered in self.redirect_uris)

    def authenticates(self, secret: str) -> bool:
        return bool(secret) and hmac.compare_digest(self.secret.encode(), secret.encode())


@dataclass(frozen=True)
class Grant:
    """What one access token may do: act as ``user_id`` in ``team_ids``, on behalf of ``client_id``."""

    client_id: str
    user_id: int
    team_ids: frozenset[str]


@dataclass(frozen=True)
class AuthorizationCode:
    grant: Grant
    redirect_uri: str | None
    expires_at: float


@dataclass(frozen=True)
class Caller:
    """Who an API request acts as: a user, and, for an OAuth token, the grant that bounds it."""

    user_id: int
    grant: Grant | None = None

    @property
    def client_id(self) -> str | None:
        return None if self.grant is None else self.grant.client_id

    def reaches(self, team_id: str) -> bool:
        """Personal tokens reach every workspace of their user; OAuth tokens the ones consented to."""
        return self.grant is None or team_id in self.grant.team_ids


def default_client() -> OAuthClient:
    return OAuthClient(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, LOOPBACK_ORIGINS, "Sandbox Integration")


class OAuth:
    """The sandbox's OAuth apps, outstanding codes, and the grants behind issued access tokens."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        client = default_client()
        self.clients: dict[str, OAuthClient] = {client.client_id: client}
        self.codes: dict[str, AuthorizationCode] = {}
        self.grants: dict[str, Grant] = {}  # access token -> grant
        self.revoked: dict[str, Grant] = {}

    def register(self, client: OAuthClient) -> None:
        """Add an app, or replace the one with the same client id."""
        self.clients[client.client_id] = client

    def authorizing(self, client_id: str | None, redirect_uri: str | None) -> OAuthClient:
        """The app an authorize request names, once its redirect URI may be trusted."""
        client = self.clients.get(client_id or "")
        if client is None:
            raise client_not_found()
        if not redirect_uri:
            raise OAuthError("Redirect URI not passed", "OAUTH_017")
        if not client.allows(redirect_uri):
            raise OAuthError("Redirect URI not registered", "OAUTH_007")
        return client

    def issue_code(self, client_id: str, user_id: int, team_ids: Iterable[str], redirect_uri: str | None) -> str:
        code = secrets.token_hex(16)
        grant = Grant(client_id, user_id, frozenset(team_ids))
        self.codes[code] = AuthorizationCode(grant, redirect_uri, self.clock() + CODE_TTL_SECONDS)
        return code

    def redeem(self, client_id: str, client_secret: str, code: str) -> tuple[str, Grant]:
        """Exchange a code for a new access token; the code is spent whatever its fate with its client."""
        client = self.clients.get(client_id)
        if client is None or not client.authenticates(client_secret):
            raise client_not_found()
        issued = self.codes.get(code)
        if issued is None or issued.grant.client_id != client.client_id:
            raise code_not_found()
        del self.codes[code]
        if self.clock() >= issued.expires_at:
            raise code_not_found()
        token = secrets.token_hex(24)
        self.grants[token] = issued.grant
        return token, issued.grant

    def revoke(self, token: str) -> Grant | None:
        """Revoke an OAuth access token (again: no change); None when it was never one."""
        grant = self.grants.pop(token, None)
        if grant is not None:
            self.revoked[token] = grant
        return grant or self.revoked.get(token)

    def forget_grants(self) -> None:
        """A new world has other users and teams: codes and tokens of the old one mean nothing."""
        self.codes.clear()
        self.grants.clear()
        self.revoked.clear()
