from __future__ import annotations

import json

import pytest

from server.auth import Grant, Scope, TokenConfigError, TokenRegistry, hash_token
from server.errors import PermissionDenied, Unauthenticated


def registry() -> TokenRegistry:
    return TokenRegistry.from_json(
        json.dumps(
            {
                "tokens": [
                    {"name": "ops", "sha256": hash_token("ops-token"), "scopes": ["integrations:read"]},
                    {
                        "name": "acme",
                        "sha256": hash_token("acme-token"),
                        "scopes": ["integrations:read"],
                        "org_id": "acme",
                        "project_id": "p1",
                    },
                ]
            }
        )
    )


def test_bearer_token_maps_to_its_grant() -> None:
    grant = registry().authenticate([("authorization", "Bearer ops-token")])
    assert grant.name == "ops"
    assert grant.scopes == frozenset({Scope.READ})


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ([], "MISSING_TOKEN"),
        ([("authorization", "ops-token")], "MALFORMED_TOKEN"),
        ([("authorization", "Basic b3BzOnRva2Vu")], "MALFORMED_TOKEN"),
        ([("authorization", "Bearer ")], "MALFORMED_TOKEN"),
        ([("authorization", "Bearer not-a-token")], "INVALID_TOKEN"),
    ],
)
def test_bad_credentials_are_unauthenticated(metadata: list[tuple[str, str]], reason: str) -> None:
    with pytest.raises(Unauthenticated) as info:
        registry().authenticate(metadata)
    assert info.value.reason == reason
    assert "ops-token" not in info.value.message


def test_scope_and_tenant_are_enforced() -> None:
    grant = Grant("acme", frozenset({Scope.READ}), "acme", "p1")
    grant.require(Scope.READ, "acme", "p1")
    with pytest.raises(PermissionDenied, match="integrations:write"):
        grant.require(Scope.WRITE, "acme", "p1")
    with pytest.raises(PermissionDenied, match="org 'other'"):
        grant.require(Scope.READ, "other", "p1")
    with pytest.raises(PermissionDenied, match="project 'p2'"):
        grant.require(Scope.READ, "acme", "p2")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("not json", "not JSON"),
        ("[]", "must be an object"),
        ('{"tokens": [1]}', r"tokens\[0\] must be an object"),
        ('{"tokens": [{"sha256": "abc", "scopes": ["integrations:read"]}]}', "64 lower-case hex"),
        (json.dumps({"tokens": [{"sha256": "a" * 64, "scopes": []}]}), "non-empty list"),
        (json.dumps({"tokens": [{"sha256": "a" * 64, "scopes": ["admin"]}]}), "unknown scope"),
        (
            json.dumps({"tokens": [{"sha256": "a" * 64, "scopes": ["integrations:read"], "project_id": "p"}]}),
            "project_id needs org_id",
        ),
    ],
)
def test_bad_token_config_is_rejected_with_the_entry_named(config: str, message: str) -> None:
    with pytest.raises(TokenConfigError, match=message):
        TokenRegistry.from_json(config)
