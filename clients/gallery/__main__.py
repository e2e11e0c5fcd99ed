"""``python -m clients.gallery [--host 127.0.0.1] [--port 8070]`` (console script ``integrations-gallery``).

The gallery acts with its own service token, so whoever reaches it may change integrations of the
projects in ``GALLERY_PROJECTS``: bind it to loopback (the default) or put it behind the platform's
sign-in proxy."""

from __future__ import annotations

import argparse
import logging.config
import sys
from typing import Any

import uvicorn

from clients.gallery.app import create_app
from clients.gallery.config import ConfigError, GalleryConfig


def log_config(fmt: str) -> dict[str, Any]:
    """Text, or JSON lines for log pipelines; each line carries the request's X-Request-ID."""
    formatters = {
        "text": {"format": "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(correlation_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "correlation_id": "request_id"},
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,  # the app's module loggers exist before this runs
        "filters": {"request_id": {"()": "asgi_correlation_id.CorrelationIdFilter", "default_value": "-"}},
        "formatters": {fmt: formatters[fmt]},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": fmt}},
        "root": {"handlers": ["stderr"], "level": "INFO"},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="integrations-gallery", description="The Integration Gallery web page.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8070)
    args = parser.parse_args(argv)
    try:
        config = GalleryConfig.from_env()
    except ConfigError as exc:
        print(f"integrations-gallery: configuration error: {exc}", file=sys.stderr)
        return 2
    logging.config.dictConfig(log_config(config.log_format))
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
