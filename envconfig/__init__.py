"""One reader of settings from the environment, shared by the server, the gateway and the clients.

Modelled on Starlette's ``Config``: ``config("NAME", cast, default=...)`` reads a mapping (the process
environment unless given one), casts the text and, when it cannot, raises ``ConfigError`` naming the
variable and what it accepts. It imports nothing of ours, so every layer may use it.
"""

from __future__ import annotations

from envconfig.casts import address, boolean, choice, duration, integer, number, secret, url
from envconfig.reader import Config, ConfigError, Invalid

__all__ = [
    "Config",
    "ConfigError",
    "Invalid",
    "address",
    "boolean",
    "choice",
    "duration",
    "integer",
    "number",
    "secret",
    "url",
]
