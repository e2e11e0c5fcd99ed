"""The answer when the gateway itself is wrong: a JSON 500 and one ERROR line with the request id.

Bad input never gets here (every refusal is a ``Rejected`` with its 4xx); this catches bugs, so
that even they answer in the gateway's format rather than uvicorn's plain text.
"""

from __future__ import annotations

import json
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

_BODY = json.dumps({"error": "internal error; see the gateway's log", "reason": "internal"}).encode()


class LastResortMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            logger.exception("unexpected error answering %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise  # half a response is out: the server can only close the connection
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]
            await send({"type": "http.response.start", "status": 500, "headers": headers})
            await send({"type": "http.response.body", "body": _BODY})
