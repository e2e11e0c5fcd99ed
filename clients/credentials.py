"""Where callers in this package find their bearer token: ``INTEGRATIONS_TOKEN_FILE`` (preferred: no
secret in the environment or process list) or ``INTEGRATIONS_TOKEN``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from envconfig import Config, ConfigError, secret


class TokenMissing(ValueError):
    """No usable token; the message names the variable to set."""


def bearer_token(env: Mapping[str, str] | Config | None = None) -> str:
    config = env if isinstance(env, Config) else Config(env)
    path = config.raw("INTEGRATIONS_TOKEN_FILE")
    if path:
        try:
            token = Path(path).expanduser().read_text().strip()
        except OSError as exc:
            raise TokenMissing(f"INTEGRATIONS_TOKEN_FILE {path!r} cannot be read: {exc.strerror}") from None
    else:
        try:
            token = config.optional("INTEGRATIONS_TOKEN", secret) or ""
        except ConfigError as exc:  # a pasted newline, say; the message never shows the token
            raise TokenMissing(str(exc)) from None
    if not token:
        raise TokenMissing("set INTEGRATIONS_TOKEN_FILE (or INTEGRATIONS_TOKEN) to a bearer token")
    return token
