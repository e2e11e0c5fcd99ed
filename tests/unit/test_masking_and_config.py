from __future__ import annotations

import json

import pytest

from server.auth import hash_token
from server.config import ConfigError, ServerConfig
from server.crypto import generate_key_spec
from server.secrets_mask import is_mask_of, mask_secret

TOKENS = json.dumps({"tokens": [{"sha256": hash_token("t"), "scopes": ["integrations:read"]}]})


def test_long_secret_keeps_a_recognisable_hint() -> None:
    secret = "pk_12345678_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    masked = mask_secret(secret)
    assert masked == "pk_1****2345"
    assert is_mask_of(masked, secret)
    assert not is_mask_of(masked, secret + "x")


def test_short_secret_is_fully_masked() -> None:
    assert mask_secret("pk_short") == "********"
    assert mask_secret("") == ""


def base_env(**overrides: str) -> dict[str, str]:
    env = {
        "INTEGRATION_ENCRYPTION_KEYS": generate_key_spec("k1"),
        "INTEGRATIONS_AUTH_TOKENS": TOKENS,
        "NEO4J_PASSWORD": "pw",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != "<unset>"}


def test_valid_environment_gives_typed_config_with_defaults() -> None:
    config = ServerConfig.from_env(base_env())
    assert config.grpc_address == "127.0.0.1:50051"
    assert config.clickup_rate_limit_per_minute == 100
    assert "pw" not in repr(config)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"INTEGRATION_ENCRYPTION_KEYS": "<unset>"}, "INTEGRATION_ENCRYPTION_KEYS is not set"),
        ({"INTEGRATION_ENCRYPTION_KEYS": "k1:short"}, "INTEGRATION_ENCRYPTION_KEYS is invalid"),
        ({"INTEGRATIONS_AUTH_TOKENS": "<unset>"}, "no API tokens configured"),
        ({"INTEGRATIONS_AUTH_TOKENS": '{"tokens": []}'}, "lists no tokens"),
        ({"INTEGRATIONS_AUTH_TOKENS_FILE": "/nonexistent/tokens.json"}, "cannot be read"),
        ({"NEO4J_PASSWORD": "<unset>"}, "NEO4J_PASSWORD is not set"),
        ({"CLICKUP_TIMEOUT_SECONDS": "soon"}, "CLICKUP_TIMEOUT_SECONDS must be a number"),
        ({"CLICKUP_RATE_LIMIT_PER_MINUTE": "0"}, "between 1 and"),
        ({"CLICKUP_API_URL": "ftp://x"}, "http"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    ],
)
def test_bad_environment_names_the_variable(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ServerConfig.from_env(base_env(**overrides))
