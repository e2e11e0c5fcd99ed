"""How the gateway is served: uvicorn with the gateway's HTTP limits, logging through ours.

One function builds the server's settings, so ``python -m webhook_gateway`` and the tests run the
very same edge (limits, no access log, uvicorn's lines in the gateway's log format).
"""

from __future__ import annotations

import uvicorn
from starlette.applications import Starlette

from webhook_gateway.config import GatewayConfig
from webhook_gateway.http_limits import HttpLimits, protocol_for


def uvicorn_config(app: Starlette, config: GatewayConfig, host: str, port: int) -> uvicorn.Config:
    limits = HttpLimits(read_timeout=config.read_timeout_seconds, max_connections=config.max_connections)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_for(limits),
        ws="none",
        lifespan="on",
        log_config=None,  # uvicorn's lines go through the root handler: same format, request ids
        log_level="warning",
        access_log=False,
        server_header=False,
        timeout_keep_alive=5,
    )
