"""Logging: text for people, or one JSON object per line (``LOG_FORMAT=json``) for log pipelines.
Every line written while a request is handled carries its ``request_id`` (the caller's
``X-Request-ID``, or a new one, echoed in the response), so one delivery can be followed."""

from __future__ import annotations

import logging
import sys

from asgi_correlation_id import CorrelationIdFilter
from pythonjsonlogger.json import JsonFormatter

TEXT = "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(correlation_id)s %(message)s"
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger", "correlation_id": "request_id"}


def configure(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(CorrelationIdFilter(default_value="-"))
    formatter = JsonFormatter(JSON_FIELDS, rename_fields=RENAMED) if fmt == "json" else logging.Formatter(TEXT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
