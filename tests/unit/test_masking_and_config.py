from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from server.auth import hash_token
from server.config import ConfigError, ServerConfig
from server.crypto import generate_key_spec
from server.integrations.clickup.plugin import ClickUpIntegration, ClickUpSettings
from server.secrets_mask import is_mask_of, mask_secret

ROOT = Path(__file__).resolve().parents[2]
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


def clickup_settings(config: ServerConfig) -> ClickUpSettings:
    """The ClickUp plugin reads its own variables; the server's config holds the configured plugin."""
    plugin = config.plugins.get("clickup")
    assert isinstance(plugin, ClickUpIntegration)
    return plugin.settings


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
    assert clickup_settings(config).rate_limit_per_minute == 100
    assert config.import_job_retention_days == 90
    assert config.full_import_every_hours == 24
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
        ({"LOG_LEVEL": "trace"}, "LOG_LEVEL must be one of 'DEBUG', 'INFO'"),
        ({"WEBHOOK_WORKER": "maybe"}, "WEBHOOK_WORKER must be one of on/off"),
        ({"METRICS_ADDRESS": "127.0.0.1"}, "METRICS_ADDRESS must be host:port"),
        ({"WEBHOOK_PUBLIC_URL": "gateway.example.com"}, "WEBHOOK_PUBLIC_URL must be the gateway's http"),
        ({"IMPORT_LEASE_SECONDS": "2h"}, "IMPORT_LEASE_SECONDS must be between 1 and 3600 seconds"),
        ({"IMPORT_JOB_RETENTION_DAYS": "0"}, "IMPORT_JOB_RETENTION_DAYS must be between 1 and 3650"),
        ({"FULL_IMPORT_EVERY_HOURS": "-1"}, "FULL_IMPORT_EVERY_HOURS must be between 0 and 8760"),
    ],
)
def test_bad_environment_names_the_variable(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ServerConfig.from_env(base_env(**overrides))


def test_settings_are_read_by_the_shared_reader() -> None:
    """Durations take units, switches take the usual words, levels any case, blanks mean the default."""
    config = ServerConfig.from_env(
        base_env(
            CLICKUP_TIMEOUT_SECONDS="1500ms",
            LIVE_SYNC_CHECK_SECONDS="2m",
            WEBHOOK_WORKER="false",
            LOG_LEVEL="debug",
            CLICKUP_RATE_LIMIT_PER_MINUTE=" ",
            WEBHOOK_PUBLIC_URL="",
        )
    )
    clickup = clickup_settings(config)
    assert (clickup.timeout_seconds, config.live_sync_check_seconds) == (1.5, 120.0)
    assert (config.webhook_worker, config.log_level, clickup.rate_limit_per_minute) == (False, "DEBUG", 100)
    assert config.webhook_public_url is None


GOOD_KEY = generate_key_spec("k1")
BAD_KEYS = [
    ("'!!' inside", GOOD_KEY[:20] + "!!" + GOOD_KEY[22:], "entry 1 (key id 'k1') is not URL-safe base64"),
    ("space inside", GOOD_KEY[:20] + " " + GOOD_KEY[21:], "entry 1 contains whitespace"),
    ("trailing newline", GOOD_KEY + "\n", "entry 1 contains whitespace"),
    (
        "wrong length",
        "k1:" + base64.urlsafe_b64encode(bytes(16)).decode(),
        "entry 1 (key id 'k1') must decode to 32 bytes",
    ),
    ("empty id", ":" + GOOD_KEY[3:], "entry 1 must look like '<key id>:"),
    ("duplicate id", f"{GOOD_KEY},{generate_key_spec('k1')}", "entry 2 (key id 'k1'): key id 'k1' is listed twice"),
]


@pytest.mark.parametrize(("spec", "message"), [row[1:] for row in BAD_KEYS], ids=[row[0] for row in BAD_KEYS])
def test_a_malformed_encryption_key_names_the_variable_and_the_entry(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        ServerConfig.from_env(base_env(INTEGRATION_ENCRYPTION_KEYS=spec))
    text = str(info.value)
    assert text.startswith("INTEGRATION_ENCRYPTION_KEYS is invalid: ")
    assert message in text
    assert "python -m server new-key" in text
    assert GOOD_KEY[3:20] not in text, "key material is never echoed"


def test_the_server_process_refuses_to_start_with_a_malformed_key() -> None:
    """Start-up stops at the configuration, before any connection: exit status 2, one clear line."""
    spec = GOOD_KEY[:20] + "!!" + GOOD_KEY[22:]
    env = {**base_env(INTEGRATION_ENCRYPTION_KEYS=spec), "PATH": os.environ.get("PATH", "")}
    result = subprocess.run(
        [sys.executable, "-m", "server"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        "integrations-server: configuration error: INTEGRATION_ENCRYPTION_KEYS is invalid: entry 1 (key id 'k1')"
    )
    assert "Traceback" not in result.stderr
    assert GOOD_KEY[3:20] not in result.stderr + result.stdout
