"""Server configuration: one typed object read from the environment and checked at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from envconfig import Config, ConfigError, address, boolean, choice, duration, integer, secret, url
from server.auth import TokenConfigError, TokenRegistry
from server.crypto import KeyConfigError, KeyRing
from server.integrations.registry import IntegrationRegistry, default_registry

__all__ = ["ConfigError", "ServerConfig"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class ServerConfig:
    grpc_address: str
    neo4j_uri: str
    neo4j_user: str
    neo4j_password: str
    neo4j_database: str
    keyring: KeyRing
    tokens: TokenRegistry
    plugins: IntegrationRegistry  # every integration shipped, configured from its own variables
    log_format: str
    log_level: str
    shutdown_grace_seconds: float
    import_lease_seconds: float = 30.0
    webhook_worker: bool = True
    webhook_public_url: str | None = None
    live_sync_check_seconds: float = 60.0
    metrics_address: str | None = None
    delete_batch_nodes: int = 1000  # nodes (with their relationships) per transaction of a data deletion
    webhook_max_attempts: int = 5  # an event that failed this often is FAILED, for a replay
    import_job_retention_days: int = 90  # ended import jobs older than this are forgotten
    full_import_every_hours: int = 24  # the scheduled sync is a full import this often (0: never)

    def __repr__(self) -> str:
        return (
            f"ServerConfig(grpc_address={self.grpc_address!r}, neo4j_uri={self.neo4j_uri!r}, "
            f"plugins={[p.name for p in self.plugins.all()]}, keyring={self.keyring!r}, tokens={len(self.tokens)})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerConfig:
        config = Config(env)
        keyring, tokens = _keyring(config), _tokens(config)  # the settings without a default first
        return cls(
            grpc_address=config("INTEGRATIONS_GRPC_ADDRESS", default="127.0.0.1:50051"),
            neo4j_uri=config("NEO4J_URI", default="bolt://127.0.0.1:7687"),
            neo4j_user=config("NEO4J_USER", default="neo4j"),
            neo4j_password=config("NEO4J_PASSWORD", secret),
            neo4j_database=config("NEO4J_DATABASE", default="neo4j"),
            keyring=keyring,
            tokens=tokens,
            plugins=default_registry(config),
            log_format=config("LOG_FORMAT", choice("text", "json"), default="text"),
            log_level=config("LOG_LEVEL", choice(*LOG_LEVELS, fold_case=True), default="INFO"),
            shutdown_grace_seconds=config("SHUTDOWN_GRACE_SECONDS", duration(0, 600), default="10"),
            import_lease_seconds=config("IMPORT_LEASE_SECONDS", duration(1, 3600), default="30"),
            webhook_worker=config("WEBHOOK_WORKER", boolean, default="on"),
            webhook_public_url=config.optional(
                "WEBHOOK_PUBLIC_URL", url("http", "https", what="the gateway's http(s) URL")
            ),
            live_sync_check_seconds=config("LIVE_SYNC_CHECK_SECONDS", duration(1, 86400), default="60"),
            metrics_address=config.optional("METRICS_ADDRESS", address),
            delete_batch_nodes=config("DELETE_BATCH_NODES", integer(1, 100_000), default="1000"),
            webhook_max_attempts=config("WEBHOOK_MAX_ATTEMPTS", integer(1, 20), default="5"),
            import_job_retention_days=config("IMPORT_JOB_RETENTION_DAYS", integer(1, 3650), default="90"),
            full_import_every_hours=config("FULL_IMPORT_EVERY_HOURS", integer(0, 8760), default="24"),
        )


def _keyring(config: Config) -> KeyRing:
    keys = config(  # no secret cast: the key ring's own errors say which entry is wrong, never its bytes
        "INTEGRATION_ENCRYPTION_KEYS",
        help="the server refuses to store credentials without an encryption key. Set it to '<key id>:<base64 "
        "of 32 random bytes>' (newest first, comma-separated); `python -m server new-key` prints one",
    )
    try:
        return KeyRing.from_spec(keys)
    except KeyConfigError as exc:
        raise ConfigError(
            f"INTEGRATION_ENCRYPTION_KEYS is invalid: {exc}. Each entry is '<key id>:<URL-safe base64 of 32 "
            "bytes>', exactly as `python -m server new-key` prints it"
        ) from None


def _tokens(config: Config) -> TokenRegistry:
    token_file, token_json = config.raw("INTEGRATIONS_AUTH_TOKENS_FILE"), config.raw("INTEGRATIONS_AUTH_TOKENS")
    if token_file:
        try:
            token_text = Path(token_file).read_text()
        except OSError as exc:
            raise ConfigError(f"INTEGRATIONS_AUTH_TOKENS_FILE {token_file!r} cannot be read: {exc.strerror}") from None
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
    return tokens
