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
from starlette.types import ASGIApp

from clients.gallery.app import create_app
from clients.gallery.config import ConfigError, GalleryConfig

# The page's requests are small: a request line and headers past 16 KiB are not from it (h11 answers
# 400 and closes; uvicorn's default httptools parser has no such cap). Connections and tasks past
# MAX_CONCURRENCY get 503 instead of queueing without end.
MAX_HEAD_BYTES = 16 * 1024
MAX_CONCURRENCY = 256


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


def server_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    """How the gallery is served: the same in production and in the test that checks the limits."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        limit_concurrency=MAX_CONCURRENCY,
        log_level="warning",
    )


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
    uvicorn.Server(server_config(create_app(config), args.host, args.port)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
