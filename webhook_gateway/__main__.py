"""``python -m webhook_gateway [--host 127.0.0.1] [--port 8080]`` (console script ``webhook-gateway``)."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from webhook_gateway import logs
from webhook_gateway.app import create_app
from webhook_gateway.config import ConfigError, GatewayConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="webhook-gateway", description="The ClickUp webhook gateway.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    try:
        config = GatewayConfig.from_env()
    except ConfigError as exc:
        print(f"webhook-gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(config.log_format)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
