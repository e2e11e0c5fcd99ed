"""Bearer-token authentication and scope/tenant authorisation for every RPC.

Tokens are configured as SHA-256 hashes (tokens are random and long, so a plain hash is
enough and the config file holds nothing replayable). A token grants scopes and may be
pinned to one org, or one org and project.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from server.errors import PermissionDenied, Unauthenticated


class Scope(StrEnum):
    READ = "integrations:read"
    WRITE = "integrations:write"
    DELIVER = "webhooks:deliver"


class TokenConfigError(ValueError):
    """The token configuration is invalid; the message names the entry."""


@dataclass(frozen=True)
class Grant:
    name: str
    scopes: frozenset[Scope]
    org_id: str | None = None
    project_id: str | None = None

    def covers(self, org_id: str, project_id: str) -> bool:
        """Whether this token's pin (if any) includes the project: checked on every RPC that touches
        a tenant's data, including those whose request names no tenant (webhook delivery)."""
        return (self.org_id is None or self.org_id == org_id) and (
            self.project_id is None or self.project_id == project_id
        )

    def require(self, scope: Scope, org_id: str | None = None, project_id: str | None = None) -> None:
        if scope not in self.scopes:
            raise PermissionDenied(f"token {self.name!r} lacks the {scope.value!r} scope", reason="MISSING_SCOPE")
        if self.org_id is not None and org_id is not None and org_id != self.org_id:
            raise PermissionDenied(f"token {self.name!r} may not access org {org_id!r}", reason="WRONG_TENANT")
        if self.project_id is not None and project_id is not None and project_id != self.project_id:
            raise PermissionDenied(f"token {self.name!r} may not access project {project_id!r}", reason="WRONG_TENANT")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "ihk_" + secrets.token_urlsafe(32)


class TokenRegistry:
    def __init__(self, grants_by_hash: Mapping[str, Grant]) -> None:
        self._grants = dict(grants_by_hash)

    def __len__(self) -> int:
        return len(self._grants)

    @classmethod
    def from_json(cls, text: str) -> TokenRegistry:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TokenConfigError(f"token config is not JSON: {exc.msg} at line {exc.lineno}") from None
        entries = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise TokenConfigError('token config must be an object {"tokens": [...]}')
        return cls(dict(_parse_entry(i, e) for i, e in enumerate(entries)))

    def authenticate(self, metadata: Iterable[tuple[str, Any]]) -> Grant:
        values = [v for k, v in metadata if k.lower() == "authorization"]
        if not values:
            raise Unauthenticated("missing bearer token in 'authorization' metadata", reason="MISSING_TOKEN")
        scheme, _, token = str(values[0]).partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("authorization metadata must be 'Bearer <token>'", reason="MALFORMED_TOKEN")
        grant = self._grants.get(hash_token(token.strip()))
        if grant is None:
            raise Unauthenticated("unknown or revoked token", reason="INVALID_TOKEN")
        return grant


def _parse_entry(index: int, entry: Any) -> tuple[str, Grant]:
    where = f"tokens[{index}]"
    if not isinstance(entry, dict):
        raise TokenConfigError(f"{where} must be an object")
    digest = entry.get("sha256")
    if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise TokenConfigError(f"{where}.sha256 must be 64 lower-case hex characters (hash, not the token)")
    raw_scopes = entry.get("scopes")
    if not isinstance(raw_scopes, list) or not raw_scopes:
        raise TokenConfigError(f"{where}.scopes must be a non-empty list")
    try:
        scopes = frozenset(Scope(s) for s in raw_scopes)
    except ValueError:
        allowed = ", ".join(s.value for s in Scope)
        raise TokenConfigError(f"{where}.scopes has an unknown scope; allowed: {allowed}") from None
    org_id, project_id = entry.get("org_id"), entry.get("project_id")
    if project_id is not None and org_id is None:
        raise TokenConfigError(f"{where}: project_id needs org_id")
    name = entry.get("name") or f"token-{index}"
    return digest, Grant(str(name), scopes, org_id, project_id)
