"""ClickUp's per-token fixed window: ``X-RateLimit-*`` headers on every response, 429 when spent."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

UNLIMITED = 1_000_000


@dataclass
class _Window:
    ends_at: float
    used: int


class TokenRateLimiter:
    def __init__(
        self, limit: int | None = 100, window_seconds: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self.rejected = 0

    def hit(self, token: str) -> tuple[bool, dict[str, str]]:
        """Count one request; returns whether it is allowed and the headers to send."""
        now = self._clock()
        window = self._windows.get(token)
        if window is None or now >= window.ends_at:
            window = _Window(now + self.window_seconds, 0)
            self._windows[token] = window
        limit = self.limit if self.limit is not None else UNLIMITED
        allowed = window.used < limit
        if allowed:
            window.used += 1
        else:
            self.rejected += 1
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - window.used)),
            "X-RateLimit-Reset": str(math.ceil(window.ends_at)),
        }
        return allowed, headers
