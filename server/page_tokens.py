"""Opaque page tokens (AIP-158): a caller can neither read, forge nor move one to another query.

A token is the position sealed with the server's AES-GCM keyring, with the request's identity
(method, tenant and filters) as associated data. Any replica opens it (they share the keys); a
token altered by one bit, issued for other filters, or made up fails to open and is refused with
INVALID_ARGUMENT, never reaching a query.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from server.crypto import DecryptionError, KeyRing, record_aad
from server.errors import InvalidArgument

MAX_OFFSET = 1_000_000
MAX_TOKEN_CHARS = 512
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

T = TypeVar("T")


def page_size(requested: int) -> int:
    """AIP-158: 0 means the default, above the maximum means the maximum; only a negative size is an error."""
    if requested < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


class PageTokens:
    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring

    def issue(self, offset: int, *query: str) -> str:
        """The token for the page starting at ``offset`` of the query named by ``query``."""
        payload = json.dumps({"offset": offset}, separators=(",", ":")).encode()
        return self._keyring.seal(payload, record_aad("page-token", *query))

    def read(self, token: str, *query: str) -> int:
        """The offset a token stands for; 0 for no token."""
        if not token:
            return 0
        refused = InvalidArgument(
            "page_token", "is not a token this server issued for this request (were the filters changed?)"
        )
        if len(token) > MAX_TOKEN_CHARS:
            raise refused
        try:
            payload = json.loads(self._keyring.open(token, record_aad("page-token", *query)))
        except (DecryptionError, ValueError):
            raise refused from None
        offset = payload.get("offset") if isinstance(payload, dict) else None
        if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
            raise refused
        return offset

    async def page(
        self,
        token: str,
        requested_size: int,
        query: Sequence[str],
        fetch: Callable[[int, int], Awaitable[Sequence[T]]],
    ) -> tuple[list[T], str]:
        """One page of a list: ``fetch(offset, limit)`` reads one item more than the page to learn
        whether another page follows; returns the page and the next page's token ("" at the end)."""
        size = page_size(requested_size)
        offset = self.read(token, *query)
        items = list(await fetch(offset, size + 1))
        return items[:size], self.issue(offset + size, *query) if len(items) > size else ""
