"""Server configuration: one typed object read from the environment and checked at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from server.auth import TokenConfigError, TokenRegistry
from server.crypto import KeyConfigError, KeyRing


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable and what would be right."""


def _switch(env: Mapping[str, str], name: str, default: str = "on") -> bool:
    value = env.get(name, default).strip().lower()
    if value not in ("on", "off"):
        raise ConfigError(f"{name} must be 'on' or 'off', got {value!r}")
    return value == "on"


def _address(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    port = value.rpartition(":")[2]
    if value and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(f"{name} must be host:port, got {value!r}")
    return value or None


def _public_url(env: Mapping[str, str]) -> str | None:
    url = env.get("WEBHOOK_PUBLIC_URL", "").strip()
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"WEBHOOK_PUBLIC_URL must be the gateway's http(s) URL, got {url!r}")
    return url or None


@dataclass(frozen=True)
class ServerConfig:
    grpc_address: str
    neo4j_uri: str
    neo4j_user: str
    neo4j_password: str
    neo4j_database: str
    keyring: KeyRing
    tokens: TokenRegistry
    clickup_api_url: str
    clickup_timeout_seconds: float
    clickup_rate_limit_per_minute: int
    log_format: str
    log_level: str
    shutdown_grace_seconds: float
    import_lease_seconds: float = 30.0
    webhook_worker: bool = True
    webhook_public_url: str | None = None
    live_sync_check_seconds: float = 60.0
    metrics_address: str | None = None

    def __repr__(self) -> str:
        return (
            f"ServerConfig(grpc_address={self.grpc_address!r}, neo4j_uri={self.neo4j_uri!r}, "
            f"clickup_api_url={self.clickup_api_url!r}, keyring={self.keyring!r}, tokens={len(self.tokens)})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerConfig:
        env = os.environ if env is None else env

        def number(name: str, default: str, *, low: float, high: float) -> float:
            raw = env.get(name, default)
            try:
                value = float(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from None
            if not low <= value <= high:
                raise ConfigError(f"{name} must be between {low:g} and {high:g}, got {raw}")
            return value

        keys = env.get("INTEGRATION_ENCRYPTION_KEYS", "")
        if not keys:
            raise ConfigError(
                "INTEGRATION_ENCRYPTION_KEYS is not set: the server refuses to store credentials without an "
                "encryption key. Set it to '<key id>:<base64 of 32 random bytes>' (newest first, comma-separated); "
                "`python -m server new-key` prints one"
            )
        try:
            keyring = KeyRing.from_spec(keys)
        except KeyConfigError as exc:
            raise ConfigError(
                f"INTEGRATION_ENCRYPTION_KEYS is invalid: {exc}. Each entry is '<key id>:<URL-safe base64 of 32 "
                "bytes>', exactly as `python -m server new-key` prints it"
            ) from None

        token_file, token_json = env.get("INTEGRATIONS_AUTH_TOKENS_FILE"), env.get("INTEGRATIONS_AUTH_TOKENS")
        if token_file:
            try:
                token_text = Path(token_file).read_text()
            except OSError as exc:
                raise ConfigError(
                    f"INTEGRATIONS_AUTH_TOKENS_FILE {token_file!r} cannot be read: {exc.strerror}"
                ) from None
            source = "INTEGRATIONS_AUTH_TOKENS_FILE"
        elif token_json:
            token_text, source = token_json, "INTEGRATIONS_AUTH_TOKENS"
        else:
            raise ConfigError(
                "no API tokens configured: set INTEGRATIONS_AUTH_TOKENS_FILE (or INTEGRATIONS_AUTH_TOKENS) to "
                '{"tokens": [{"name": ..., "sha256": ..., "scopes": [...]}]}; `python -m server new-token` makes one'
            )
        try:
            tokens = TokenRegistry.from_json(token_text)
        except TokenConfigError as exc:
            raise ConfigError(f"{source} is invalid: {exc}") from None
        if not len(tokens):
            raise ConfigError(f"{source} lists no tokens: every RPC would be refused")

        password = env.get("NEO4J_PASSWORD", "")
        if not password:
            raise ConfigError("NEO4J_PASSWORD is not set")
        log_format = env.get("LOG_FORMAT", "text")
        if log_format not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT must be 'text' or 'json', got {log_format!r}")
        api_url = env.get("CLICKUP_API_URL", "https://api.clickup.com/api/v2")
        if not api_url.startswith(("http://", "https://")):
            raise ConfigError(f"CLICKUP_API_URL must be an http(s) URL, got {api_url!r}")
        return cls(
            grpc_address=env.get("INTEGRATIONS_GRPC_ADDRESS", "127.0.0.1:50051"),
            neo4j_uri=env.get("NEO4J_URI", "bolt://127.0.0.1:7687"),
            neo4j_user=env.get("NEO4J_USER", "neo4j"),
            neo4j_password=password,
            neo4j_database=env.get("NEO4J_DATABASE", "neo4j"),
            keyring=keyring,
            tokens=tokens,
            clickup_api_url=api_url,
            clickup_timeout_seconds=number("CLICKUP_TIMEOUT_SECONDS", "30", low=0.1, high=300),
            clickup_rate_limit_per_minute=int(number("CLICKUP_RATE_LIMIT_PER_MINUTE", "100", low=1, high=100000)),
            log_format=log_format,
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            shutdown_grace_seconds=number("SHUTDOWN_GRACE_SECONDS", "10", low=0, high=600),
            import_lease_seconds=number("IMPORT_LEASE_SECONDS", "30", low=1, high=3600),
            webhook_worker=_switch(env, "WEBHOOK_WORKER"),
            webhook_public_url=_public_url(env),
            live_sync_check_seconds=number("LIVE_SYNC_CHECK_SECONDS", "60", low=1, high=86400),
            metrics_address=_address(env, "METRICS_ADDRESS"),
        )
