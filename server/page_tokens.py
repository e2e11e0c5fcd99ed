"""Opaque page tokens (AIP-158): a caller can neither read, forge nor move one to another query.

A token is the position sealed with the server's AES-GCM keyring, with the request's identity
(method, tenant and filters) as associated data. Any replica opens it (they share the keys); a
token altered by one bit, issued for other filters, or made up fails to open and is refused with
INVALID_ARGUMENT, never reaching a query.
"""

from __future__ import annotations

import json

from server.crypto import DecryptionError, KeyRing, record_aad
from server.errors import InvalidArgument

MAX_OFFSET = 1_000_000
MAX_TOKEN_CHARS = 512


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
