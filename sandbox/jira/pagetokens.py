"""Opaque ``nextPageToken`` values for ``/search/jql`` (§3.2): random, tied to the request, expiring.

A token remembers where the previous page ended (the last issue's sort position), the request it
belongs to and when it dies (7 days, configurable). A token that is unknown, expired, or sent
with a different query, field list or page size is refused as Jira refuses it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_TTL_SECONDS = 7 * 86_400
INVALID = "The provided next page token is invalid or expired."


@dataclass(frozen=True)
class _Entry:
    request: tuple[str, ...]
    cursor: tuple[tuple[int, ...], ...]
    expires_at: float


class PageTokens:
    def __init__(self, clock: Callable[[], float], ttl_seconds: float = DEFAULT_TTL_SECONDS) -> None:
        self._clock = clock
        self.ttl_seconds = ttl_seconds
        self._entries: dict[str, _Entry] = {}

    def issue(self, request: tuple[str, ...], cursor: tuple[tuple[int, ...], ...]) -> str:
        now = self._clock()
        self._entries = {k: v for k, v in self._entries.items() if v.expires_at > now}
        token = secrets.token_urlsafe(12)
        self._entries[token] = _Entry(request, cursor, now + self.ttl_seconds)
        return token

    def resolve(self, token: str, request: tuple[str, ...]) -> tuple[tuple[int, ...], ...] | None:
        """The cursor a token stands for, or None when Jira would answer 400 ``INVALID``."""
        entry = self._entries.get(token)
        if entry is None or entry.expires_at <= self._clock() or entry.request != request:
            return None
        return entry.cursor

    def expire_all(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        return count
