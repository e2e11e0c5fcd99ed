"""Which scheme each integration uses and the single-tenant secrets, read from the environment."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from webhook_gateway.config import ConfigError, GatewayConfig
from webhook_gateway.schemes.defaults import DEFAULT_SCHEMES

BASE = {"GATEWAY_SERVER_TOKEN": "t"}


def test_the_shipped_integrations_have_schemes_by_default() -> None:
    assert GatewayConfig.from_env(BASE).schemes == {"clickup": "hex-hmac-body-id", "jira": "hub-sha256-or-jwt-route"}
    assert GatewayConfig(server_target="x", server_token="t", spool_path=Path("s")).schemes == DEFAULT_SCHEMES


SCHEME_SETTINGS = [
    ("adds one", "planner=hub-sha256-route", {**DEFAULT_SCHEMES, "planner": "hub-sha256-route"}),
    ("overrides a default", "clickup=hub-sha256-route", {**DEFAULT_SCHEMES, "clickup": "hub-sha256-route"}),
    ("turns one off", "jira=off", {"clickup": "hex-hmac-body-id"}),
    (
        "spaces and empty entries",
        " github = hub-sha256-route ,, planner_2=hex-hmac-body-id, ",
        {**DEFAULT_SCHEMES, "github": "hub-sha256-route", "planner_2": "hex-hmac-body-id"},
    ),
    ("empty", "", DEFAULT_SCHEMES),
]


@pytest.mark.parametrize(("case", "raw", "expected"), SCHEME_SETTINGS, ids=[row[0] for row in SCHEME_SETTINGS])
def test_gateway_schemes_lay_over_the_defaults(case: str, raw: str, expected: dict[str, str]) -> None:
    assert GatewayConfig.from_env(BASE | {"GATEWAY_SCHEMES": raw}).schemes == expected, case


BAD_SCHEMES = [
    ("no scheme", "planner", "integration=scheme"),
    ("no name", "=hub-sha256-route", "integration=scheme"),
    ("upper-case name", "Planner=hub-sha256-route", "lower-case"),
    ("a dash in the name", "my-planner=hub-sha256-route", "lower-case"),
    (
        "unknown scheme",
        "planner=sha1-hmac",
        "known: hex-hmac-body-id, hub-sha256-or-jwt-route, hub-sha256-route, jwt-hs256-route, or off",
    ),
]


@pytest.mark.parametrize(("case", "raw", "says"), BAD_SCHEMES, ids=[row[0] for row in BAD_SCHEMES])
def test_a_bad_gateway_schemes_entry_names_the_variable(case: str, raw: str, says: str) -> None:
    with pytest.raises(ConfigError, match="GATEWAY_SCHEMES") as error:
        GatewayConfig.from_env(BASE | {"GATEWAY_SCHEMES": raw})
    assert says in str(error.value), case


def test_static_secrets_are_per_integration() -> None:
    env = BASE | {"WEBHOOK_SECRET_CLICKUP": "c", "WEBHOOK_SECRET_JIRA": "j", "WEBHOOK_SECRET_PLANNER": ""}
    config = GatewayConfig.from_env(env)
    assert config.static_secrets == {"clickup": "c", "jira": "j"}
    assert "'c'" not in repr(config)
    assert "'j'" not in repr(config)
    assert "static_secrets={'clickup': '***', 'jira': '***'}" in repr(config)


def test_a_static_secret_follows_a_configured_scheme() -> None:
    env = BASE | {"GATEWAY_SCHEMES": "planner=hub-sha256-route", "WEBHOOK_SECRET_PLANNER": "t"}
    assert GatewayConfig.from_env(env).static_secrets == {"planner": "t"}


def test_a_static_secret_for_an_integration_without_a_scheme_is_refused() -> None:
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET_PLANNER is set, but 'planner' has no signing scheme"):
        GatewayConfig.from_env(BASE | {"WEBHOOK_SECRET_PLANNER": "t"})
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET_JIRA"):
        GatewayConfig.from_env(BASE | {"GATEWAY_SCHEMES": "jira=off", "WEBHOOK_SECRET_JIRA": "j"})


def test_the_old_secret_variable_still_works_for_one_release_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match="CLICKUP_WEBHOOK_SECRET is deprecated.*WEBHOOK_SECRET_CLICKUP"):
        config = GatewayConfig.from_env(BASE | {"CLICKUP_WEBHOOK_SECRET": "old"})
    assert config.static_secrets == {"clickup": "old"}


def test_the_new_secret_variable_wins_over_the_old_one() -> None:
    with pytest.warns(FutureWarning, match="CLICKUP_WEBHOOK_SECRET"):
        config = GatewayConfig.from_env(BASE | {"CLICKUP_WEBHOOK_SECRET": "old", "WEBHOOK_SECRET_CLICKUP": "new"})
    assert config.static_secrets == {"clickup": "new"}


def test_no_warning_without_the_old_variable() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert GatewayConfig.from_env(BASE | {"CLICKUP_WEBHOOK_SECRET": ""}).static_secrets == {}


def test_secrets_with_a_newline_are_refused_without_being_shown() -> None:
    for env in (
        {"GATEWAY_SERVER_TOKEN": "s3cr3t-token\n"},
        BASE | {"WEBHOOK_SECRET_CLICKUP": "s3cr3t-hook\r\n"},
    ):
        with pytest.raises(ConfigError, match="must be printable text") as refused:
            GatewayConfig.from_env(env)
        assert "s3cr3t" not in str(refused.value)
