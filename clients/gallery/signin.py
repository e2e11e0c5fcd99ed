"""Connecting an integration by signing in (OAuth 2.0), the browser's half.

    POST /api/orgs/{org}/projects/{project}/integrations/{name}/authorizations   -> {"authorization_url"}
    GET  /oauth/callback?code=…&state=…   (or ?error=…&state=…)                -> 303 back to the page
    GET  /api/orgs/{org}/projects/{project}/signin-result                        -> the outcome, once

Start asks the server for the consent URL with ``redirect_uri = <the gallery's origin>/oauth/callback``
and remembers, in an HttpOnly, SameSite=Lax cookie sent only to the callback path, which org, project
and integration this browser started and the SHA-256 of the state. The callback refuses a state whose
hash is not the cookie's before any RPC: a browser completes only a sign-in it started, so a link
that carries somebody else's code and state cannot connect this project to their account.

The outcome goes back to the page in a second short-lived cookie that the page reads once through
the API: no URL the gallery makes carries a code, a state or a message somebody else composed.
Tokens and the client secret never reach the gallery at all; states and codes are never logged.
A browser has one sign-in under way at a time: starting another replaces the first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response

from clients.errors import IntegrationsError
from integrations.v1 import integration_service_pb2 as pb

CALLBACK_PATH = "/oauth/callback"
PENDING_COOKIE = "gallery_signin"
RESULT_COOKIE = "gallery_signin_result"
# The server keeps a state for 10 minutes; the cookie never outlives it (and never lasts longer).
MAX_PENDING_SECONDS = 900
RESULT_SECONDS = 300
MAX_MESSAGE_CHARS = 300
# Longer than any state or code the server accepts: a parameter past this is not from the provider.
MAX_PARAMETER_CHARS = 4096

Outcome = Literal["connected", "declined", "failed"]


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


def _encode(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":"), ensure_ascii=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(raw: str | None) -> dict[str, Any] | None:
    """A cookie's JSON object, or None for anything else: a cookie is the browser's to mangle."""
    if not raw or len(raw) > 4096:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class PendingSignIn:
    """What one browser started: enough to complete it and to recognise its state."""

    org: str
    project: str
    name: str
    state_sha256: str

    def matches(self, state: str) -> bool:
        return hmac.compare_digest(self.state_sha256, state_hash(state))

    @classmethod
    def read(cls, request: Request) -> PendingSignIn | None:
        value = _decode(request.cookies.get(PENDING_COOKIE))
        fields = ("org", "project", "name", "state_sha256")
        if value is None or set(value) != set(fields) or not all(isinstance(value[f], str) for f in fields):
            return None
        return cls(**{field: value[field] for field in fields})

    def remember(self, response: Response, expire_time: datetime, *, secure: bool) -> None:
        seconds = int((expire_time - datetime.now(UTC)).total_seconds())
        response.set_cookie(
            PENDING_COOKIE,
            _encode(asdict(self)),
            max_age=max(1, min(seconds, MAX_PENDING_SECONDS)),
            path=CALLBACK_PATH,
            secure=secure,
            httponly=True,
            samesite="lax",
        )

    @staticmethod
    def forget(response: Response, *, secure: bool) -> None:
        response.delete_cookie(PENDING_COOKIE, path=CALLBACK_PATH, secure=secure, httponly=True, samesite="lax")


@dataclass(frozen=True)
class SignInResult:
    """The one line the card shows after the callback."""

    name: str
    outcome: Outcome
    message: str

    @classmethod
    def connected(cls, name: str, done: pb.CompleteAuthorizationResponse) -> SignInResult:
        label = done.integration.display_name or name
        who = done.account.username or done.account.email or done.account.id
        count = len(done.workspaces)
        places = ", ".join(w.name or w.id for w in done.workspaces)
        noun = "workspace" if count == 1 else "workspaces"
        covered = f"{count} {noun}: {places}" if places else f"{count} {noun}"
        return cls(name, "connected", f"Connected to {label} through sign-in as {who} · {covered}")

    @classmethod
    def from_error(cls, name: str, exc: IntegrationsError) -> SignInResult:
        if exc.reason == "AUTHORIZATION_DENIED":
            return cls(name, "declined", f"Sign-in declined: {exc.message}")
        return cls(name, "failed", f"Sign-in failed: {exc.message}")

    def remember(self, response: Response, org: str, project: str, *, secure: bool) -> None:
        value = asdict(self) | {"message": self.message[:MAX_MESSAGE_CHARS]}
        response.set_cookie(
            RESULT_COOKIE,
            _encode(value),
            max_age=RESULT_SECONDS,
            path=result_path(org, project),
            secure=secure,
            httponly=True,
            samesite="lax",
        )

    @classmethod
    def read(cls, request: Request) -> SignInResult | None:
        """The result this browser was sent back with; the caller deletes the cookie (``forget``)."""
        value = _decode(request.cookies.get(RESULT_COOKIE))
        if value is None or set(value) != {"name", "outcome", "message"}:
            return None
        name, outcome, message = value["name"], value["outcome"], value["message"]
        if not (isinstance(name, str) and isinstance(message, str)) or outcome not in (
            "connected",
            "declined",
            "failed",
        ):
            return None
        return cls(name, outcome, message[:MAX_MESSAGE_CHARS])

    @staticmethod
    def forget(response: Response, org: str, project: str, *, secure: bool) -> None:
        path = result_path(org, project)
        response.delete_cookie(RESULT_COOKIE, path=path, secure=secure, httponly=True, samesite="lax")

    def as_json(self) -> dict[str, str]:
        return asdict(self)


def result_path(org: str, project: str) -> str:
    return f"/api/orgs/{org}/projects/{project}/signin-result"


def own_origin(public_origin: str | None, request: Request) -> str:
    """Where the browser reaches the gallery: the public URL behind a proxy, else this request's own
    origin (its Host has passed the allow-list), so the callback gets the cookie the start set."""
    if public_origin is not None:
        return public_origin
    return f"{request.url.scheme}://{request.headers.get('host', '').lower()}"


@dataclass(frozen=True)
class Redirect:
    """The query a provider sends the browser back with, checked before anything else is done."""

    state: str
    code: str
    error: str
    error_description: str

    @classmethod
    def parse(cls, request: Request) -> Redirect | str:
        """The redirect, or why it cannot be one (answered with 400)."""
        query = request.query_params
        values = {key: query.get(key, "") for key in ("state", "code", "error", "error_description")}
        for key in values:
            if len(query.getlist(key)) > 1:
                return f"the redirect carries {key} more than once"
        if any(len(value) > MAX_PARAMETER_CHARS for value in values.values()):
            return "the redirect's parameters are too long"
        if not values["state"]:
            return "the redirect carries no state"
        if bool(values["code"]) == bool(values["error"]):
            return "the redirect must carry exactly one of code and error"
        return cls(**values)

    def complete_request(self, pending: PendingSignIn) -> pb.CompleteAuthorizationRequest:
        return pb.CompleteAuthorizationRequest(
            org_id=pending.org,
            project_id=pending.project,
            name=pending.name,
            state=self.state,
            code=self.code,
            error=self.error[:200],
            error_description=self.error_description[:500],
        )
