"""Gateway configuration from the environment, checked at start-up."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from envconfig import Config, ConfigError, choice, duration, integer, secret
from webhook_gateway.schemes import SCHEMES
from webhook_gateway.schemes.defaults import DEFAULT_SCHEMES, DEPRECATED_SECRET_VARIABLES

DEFAULT_SPOOL_PATH = "gateway-spool.sqlite3"
SECRET_PREFIX = "WEBHOOK_SECRET_"
# An integration's name as it appears in the path; no "-", so it maps to WEBHOOK_SECRET_<NAME> and back.
INTEGRATION = re.compile(r"[a-z][a-z0-9_]{0,39}")
OFF = "off"

__all__ = ["ConfigError", "GatewayConfig"]


@dataclass(frozen=True)
class GatewayConfig:
    server_target: str
    server_token: str
    spool_path: Path
    # Integration -> signing scheme name; an integration not listed has no webhook route (404).
    schemes: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SCHEMES))
    # Integrations configured "off": refused even when the server names a scheme for them.
    disabled: frozenset[str] = frozenset()
    # Integration -> single-tenant secret. Verification only: the webhook must still be registered
    # with the server (else 401).
    static_secrets: Mapping[str, str] = field(default_factory=dict)
    forward_timeout_seconds: float = 5.0  # the server's deadline for one forwarded batch
    max_body_bytes: int = 1024 * 1024
    log_format: str = "text"
    # The whole request (head and body) must arrive within this; ClickUp gives up after 7 s.
    read_timeout_seconds: float = 5.0
    max_connections: int = 200

    def __repr__(self) -> str:
        return (
            f"GatewayConfig(server_target={self.server_target!r}, spool_path={str(self.spool_path)!r}, "
            f"schemes={dict(self.schemes)!r}, static_secrets={dict.fromkeys(self.static_secrets, '***')!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewayConfig:
        config = Config(env)
        token = config("GATEWAY_SERVER_TOKEN", secret, help="a bearer token with the webhooks:deliver scope")
        schemes = schemes_from_env(config)
        return cls(
            log_format=config("LOG_FORMAT", choice("text", "json"), default="text"),
            schemes=schemes,
            disabled=disabled_from_env(config),
            static_secrets=static_secrets_from_env(config, schemes),
            server_target=config("GATEWAY_SERVER_TARGET", default="127.0.0.1:50051"),
            server_token=token,
            spool_path=spool_path_from_env(config),
            forward_timeout_seconds=config(
                "GATEWAY_FORWARD_TIMEOUT_SECONDS", duration(0.1, 60, "a batch's deadline"), default="5"
            ),
            read_timeout_seconds=config(
                "GATEWAY_READ_TIMEOUT_SECONDS",
                duration(0.1, 6.5, "inside a sender's 7 s delivery timeout"),
                default="5",
            ),
            max_connections=config("GATEWAY_MAX_CONNECTIONS", integer(1, 100_000, "open connections"), default="200"),
        )


def schemes_from_env(config: Config) -> dict[str, str]:
    """The defaults, with ``GATEWAY_SCHEMES`` ("name=scheme,name=off,...") laid over them."""
    schemes = dict(DEFAULT_SCHEMES)
    raw = config("GATEWAY_SCHEMES", default="")
    known = ", ".join(sorted(SCHEMES))
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        name, equals, scheme = (part.strip() for part in entry.partition("="))
        if not equals or not INTEGRATION.fullmatch(name):
            raise ConfigError(
                f"GATEWAY_SCHEMES entries are integration=scheme with a lower-case integration name, got {entry!r}"
            )
        if scheme == OFF:
            schemes.pop(name, None)
        elif scheme in SCHEMES:
            schemes[name] = scheme
        else:
            raise ConfigError(f"GATEWAY_SCHEMES: {scheme!r} for {name!r} is no scheme; known: {known}, or {OFF}")
    return schemes


def disabled_from_env(config: Config) -> frozenset[str]:
    """The integrations ``GATEWAY_SCHEMES`` turns off (``name=off``)."""
    entries = (part.partition("=") for part in config("GATEWAY_SCHEMES", default="").split(","))
    return frozenset(name.strip() for name, _, scheme in entries if scheme.strip() == OFF)


def static_secrets_from_env(config: Config, schemes: Mapping[str, str]) -> dict[str, str]:
    """``WEBHOOK_SECRET_<INTEGRATION>`` per integration, and the deprecated names for one release."""
    secrets: dict[str, str] = {}
    for variable, integration in DEPRECATED_SECRET_VARIABLES.items():
        old = config.optional(variable, secret)
        if old is not None:
            replacement = SECRET_PREFIX + integration.upper()
            warnings.warn(
                f"{variable} is deprecated and will be removed in the next release: set {replacement} instead",
                FutureWarning,
                stacklevel=2,
            )
            secrets[integration] = old
    for variable in config.names(SECRET_PREFIX):
        integration = variable.removeprefix(SECRET_PREFIX).lower()
        if integration not in schemes:
            raise ConfigError(
                f"{variable} is set, but {integration!r} has no signing scheme (GATEWAY_SCHEMES); "
                f"integrations with one: {', '.join(sorted(schemes)) or 'none'}"
            )
        secrets[integration] = config(variable, secret)  # the new name wins over a deprecated one
    return secrets


def spool_path_from_env(config: Config) -> Path:
    return Path(config("GATEWAY_SPOOL_PATH", default=DEFAULT_SPOOL_PATH))
