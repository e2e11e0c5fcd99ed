"""What the sandboxes' admin routes (``/_sandbox/…``) share: one error they answer with, and one way
to read a JSON-object body. A stand-in's own code; nothing of the service under test."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request


class AdminError(Exception):
    """A refused admin request: answered ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object; empty counts as ``{}``."""
    try:
        data = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError:
        raise AdminError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise AdminError(400, "body must be a JSON object")
    return data
