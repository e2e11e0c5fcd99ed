"""Where callers in this package find their bearer token: ``INTEGRATIONS_TOKEN_FILE`` (preferred: no
secret in the environment or process list) or ``INTEGRATIONS_TOKEN``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class TokenMissing(ValueError):
    """No usable token; the message names the variable to set."""


def bearer_token(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    path = env.get("INTEGRATIONS_TOKEN_FILE")
    if path:
        try:
            token = Path(path).expanduser().read_text().strip()
        except OSError as exc:
            raise TokenMissing(f"INTEGRATIONS_TOKEN_FILE {path!r} cannot be read: {exc.strerror}") from None
    else:
        token = env.get("INTEGRATIONS_TOKEN", "")
    if not token:
        raise TokenMissing("set INTEGRATIONS_TOKEN_FILE (or INTEGRATIONS_TOKEN) to a bearer token")
    return token
