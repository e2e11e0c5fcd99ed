"""Reading a browser's JSON body, the one way every endpoint of the gallery does it."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from clients.gallery.views import FormError


async def json_body(request: Request) -> Any:
    """The body as JSON. BodyLimit has already capped its size; JSON that nests deeper than the parser
    can follow, or text no Unicode encoding can carry (a lone surrogate), is refused here: neither
    could be answered, sent on to the server or stored."""
    raw = await request.body()
    try:
        value = json.loads(raw)
    except ValueError:
        raise FormError("body", "is not valid JSON") from None
    except RecursionError:
        raise FormError("body", "is nested too deeply") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise FormError("body", "contains text that is not valid Unicode (a lone surrogate)") from None
    return value
