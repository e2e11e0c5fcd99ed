"""The gallery's one error shape, for handlers and guards alike: ``{"error": {code, message, fields}}``."""

from __future__ import annotations

from starlette.responses import JSONResponse


def error(
    status: int, code: str, message: str, fields: dict[str, str] | None = None, *, close: bool = False
) -> JSONResponse:
    """``close`` ends the connection after the answer: used when the request's body was left unread."""
    headers = {"connection": "close"} if close else None
    body = {"error": {"code": code, "message": message, "fields": fields or {}}}
    return JSONResponse(body, status_code=status, headers=headers)
