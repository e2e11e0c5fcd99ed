"""What any delivery body must look like before it is kept: the structural rules every scheme shares.

A scheme adds its own rules on top (``schemes/``): the body-keyed scheme also reads its routing key
and event fields from the body. Every rule failure is a ``Rejected`` (a 4xx with a stable reason),
never a crash.

Lone surrogates (a JSON ``"\\ud800"`` escape) are not a structural error: they survive parsing, and
the server sets such a routed delivery aside as DEAD_LETTERED.
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from typing import Any

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 64
# A lookup key (a webhook id, from the body or the path): used with fullmatch, no "$" before a "\n".
WEBHOOK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")

_BRACKETS = bytes.maketrans(b"[]{}", b"()()")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"()", b"\x01\xff")  # +1 and -1 as signed bytes


class Rejected(Exception):
    """A delivery refused at the edge: the HTTP status, a stable reason and a sentence for people."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class SignatureMismatch(Rejected):
    """A well-formed signature made with another secret: a forgery, or a secret changed since the
    gateway cached it (a webhook re-armed with a new one). The gateway asks the server once more."""

    def __init__(self, message: str) -> None:
        super().__init__(401, "bad_signature", message)


def _structure(body: bytes) -> bytes:
    """The body's brackets outside strings, as ``(`` and ``)``; an unterminated string runs to the end.

    Escaped backslashes go first, then escaped quotes (both left to right, as JSON reads them);
    what is left splits on quotes into outside, inside, outside, ... All of it at C speed.
    """
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(unescaped.split(b'"')[0::2])
    return outside.translate(_BRACKETS, _NOT_BRACKETS)


def check_depth(body: bytes, limit: int = MAX_DEPTH) -> None:
    """Refuses nesting deeper than ``limit`` without parsing (so never a RecursionError).

    Depth is the running count of ``[``/``{`` minus ``]``/``}`` outside strings. Fast path: each
    pass of deleting adjacent ``()`` pairs removes one level of every nest and keeps the depth of
    what survives, so if no ``(`` is left after ``limit`` passes nothing is deeper. Otherwise (deep
    or malformed input) the exact running count is taken. Both are linear and run in C.
    """
    structure = _structure(body)
    reduced = structure
    for _ in range(limit):
        shorter = reduced.replace(b"()", b"")
        if shorter == reduced:
            break
        reduced = shorter
    if b"(" in reduced and max(accumulate(array("b", structure.translate(_STEPS)))) > limit:
        raise Rejected(400, "too_deep", f"the body nests deeper than {limit} levels")


def load_object(body: bytes, max_bytes: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """At most ``max_bytes``, bounded depth, UTF-8 JSON, an object."""
    if len(body) > max_bytes:
        raise Rejected(413, "too_large", f"body is larger than {max_bytes} bytes")
    check_depth(body)
    try:
        data: Any = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError, a 5000-digit number
        raise Rejected(400, "not_json", "body is not UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise Rejected(400, "not_an_object", "body must be a JSON object")
    return data
