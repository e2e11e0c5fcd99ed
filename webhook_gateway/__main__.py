"""``python -m webhook_gateway [--host 127.0.0.1] [--port 8080]`` (console script ``webhook-gateway``)
serves the gateway. Two maintenance commands work on the spool (``GATEWAY_SPOOL_PATH``), also while
the gateway serves:

- ``webhook-gateway list-dead``: the deliveries set aside because the server kept failing on them;
- ``webhook-gateway requeue-dead [--id N ...]``: sends them again (all, or those ids), at the end
  of the queue, once the cause is fixed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

import uvicorn

from envconfig import Config
from webhook_gateway import logs
from webhook_gateway.app import create_app
from webhook_gateway.config import ConfigError, GatewayConfig, spool_path_from_env
from webhook_gateway.serve import uvicorn_config
from webhook_gateway.spool import Spool


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webhook-gateway", description="The webhook gateway.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    commands = parser.add_subparsers(dest="command", metavar="{list-dead,requeue-dead}")
    commands.add_parser("list-dead", help="list the deliveries set aside in the spool's dead table (JSON lines)")
    requeue = commands.add_parser("requeue-dead", help="send set-aside deliveries again")
    requeue.add_argument("--id", type=int, action="append", dest="ids", help="only this dead letter (repeatable)")
    return parser


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is not None:
        spool = Spool(spool_path_from_env(Config()))
        try:
            if args.command == "list-dead":
                for dead in spool.dead_letters():
                    line = {
                        "id": dead.id,
                        "integration": dead.integration,
                        "body_bytes": dead.body_bytes,
                        "received": _iso(dead.received_ms),
                        "set_aside": _iso(dead.dead_ms),
                        "attempts": dead.attempts,
                        "error": dead.error,
                    }
                    print(json.dumps(line))
            else:
                moved = spool.requeue_dead(args.ids)
                print(f"requeued {moved} dead deliveries; the gateway forwards them within seconds")
        finally:
            spool.close()
        return 0
    try:
        config = GatewayConfig.from_env()
    except ConfigError as exc:
        print(f"webhook-gateway: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(config.log_format)
    uvicorn.Server(uvicorn_config(create_app(config), config, args.host, args.port)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
