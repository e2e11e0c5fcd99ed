"""Gateway configuration from the environment, checked at start-up."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

N = TypeVar("N", int, float)

DEFAULT_SPOOL_PATH = "gateway-spool.sqlite3"


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class GatewayConfig:
    server_target: str
    server_token: str
    spool_path: Path
    # Verification only: the webhook_id must still be registered with the server (else 401).
    static_secret: str | None = None
    forward_timeout_seconds: float = 5.0  # the server's deadline for one forwarded batch
    max_body_bytes: int = 1024 * 1024
    log_format: str = "text"
    # The whole request (head and body) must arrive within this; ClickUp gives up after 7 s.
    read_timeout_seconds: float = 5.0
    max_connections: int = 200

    def __repr__(self) -> str:
        return (
            f"GatewayConfig(server_target={self.server_target!r}, spool_path={str(self.spool_path)!r}, "
            f"static_secret={'***' if self.static_secret else None})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewayConfig:
        env = os.environ if env is None else env
        token = env.get("GATEWAY_SERVER_TOKEN", "")
        if not token:
            raise ConfigError("GATEWAY_SERVER_TOKEN is not set: a bearer token with the webhooks:deliver scope")
        log_format = env.get("LOG_FORMAT", "text")
        if log_format not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT must be 'text' or 'json', got {log_format!r}")
        return cls(
            log_format=log_format,
            server_target=env.get("GATEWAY_SERVER_TARGET", "127.0.0.1:50051"),
            server_token=token,
            spool_path=spool_path_from_env(env),
            static_secret=env.get("CLICKUP_WEBHOOK_SECRET") or None,
            forward_timeout_seconds=_number(
                env, "GATEWAY_FORWARD_TIMEOUT_SECONDS", float, 5.0, 0.1, 60, "a batch's deadline"
            ),
            read_timeout_seconds=_number(
                env, "GATEWAY_READ_TIMEOUT_SECONDS", float, 5.0, 0.1, 6.5, "inside ClickUp's 7 s delivery timeout"
            ),
            max_connections=_number(env, "GATEWAY_MAX_CONNECTIONS", int, 200, 1, 100_000, "open connections"),
        )


def spool_path_from_env(env: Mapping[str, str]) -> Path:
    return Path(env.get("GATEWAY_SPOOL_PATH", DEFAULT_SPOOL_PATH))


def _number(env: Mapping[str, str], name: str, cast: Callable[[str], N], default: N, low: N, high: N, why: str) -> N:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    kind = "a whole number" if cast is int else "a number"
    try:
        value = cast(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high} ({why}), got {raw!r}")
    return value
