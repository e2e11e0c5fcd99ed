"""Gateway configuration from the environment, checked at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class GatewayConfig:
    server_target: str
    server_token: str
    spool_path: Path
    static_secret: str | None = None
    forward_timeout_seconds: float = 5.0  # the server's deadline for one forwarded batch
    max_body_bytes: int = 1024 * 1024
    log_format: str = "text"

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
        raw_timeout = env.get("GATEWAY_FORWARD_TIMEOUT_SECONDS", "5")
        try:
            timeout = float(raw_timeout)
        except ValueError:
            raise ConfigError(f"GATEWAY_FORWARD_TIMEOUT_SECONDS must be a number, got {raw_timeout!r}") from None
        if not 0.1 <= timeout <= 60:
            raise ConfigError("GATEWAY_FORWARD_TIMEOUT_SECONDS must be between 0.1 and 60 (a batch's deadline)")
        log_format = env.get("LOG_FORMAT", "text")
        if log_format not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT must be 'text' or 'json', got {log_format!r}")
        return cls(
            log_format=log_format,
            server_target=env.get("GATEWAY_SERVER_TARGET", "127.0.0.1:50051"),
            server_token=token,
            spool_path=Path(env.get("GATEWAY_SPOOL_PATH", "gateway-spool.sqlite3")),
            static_secret=env.get("CLICKUP_WEBHOOK_SECRET") or None,
            forward_timeout_seconds=timeout,
        )
