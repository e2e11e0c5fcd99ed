"""ClickUp's per-token fixed window: ``X-RateLimit-*`` headers on every response, 429 when spent."""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

UNLIMITED = 1_000_000


@dataclass
class _Window:
    ends_at: float
    used: int
    started_at: float = 0.0
    rejected: int = 0


@dataclass
class WindowRecord:
    """One token's window as it went, for tests that measure how much of the budget was used."""

    token: str  # a fingerprint, not the token
    started_at: float
    ends_at: float
    limit: int
    used: int
    rejected: int


@dataclass
class _History:
    # Bounded: a sandbox left running keeps the latest windows only.
    windows: deque[tuple[str, int, _Window]] = field(default_factory=lambda: deque(maxlen=10_000))


class TokenRateLimiter:
    def __init__(
        self, limit: int | None = 100, window_seconds: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._history = _History()
        self.rejected = 0

    def hit(self, token: str) -> tuple[bool, dict[str, str]]:
        """Count one request; returns whether it is allowed and the headers to send."""
        now = self._clock()
        window = self._windows.get(token)
        limit = self.limit if self.limit is not None else UNLIMITED
        if window is None or now >= window.ends_at:
            window = _Window(now + self.window_seconds, 0, now)
            self._windows[token] = window
            self._history.windows.append((hashlib.sha256(token.encode()).hexdigest()[:12], limit, window))
        allowed = window.used < limit
        if allowed:
            window.used += 1
        else:
            window.rejected += 1
            self.rejected += 1
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - window.used)),
            "X-RateLimit-Reset": str(math.ceil(window.ends_at)),
        }
        return allowed, headers

    def windows(self) -> list[WindowRecord]:
        """Every window opened so far, oldest first (the newest may still be running)."""
        return [
            WindowRecord(token, w.started_at, w.ends_at, limit, w.used, w.rejected)
            for token, limit, w in self._history.windows
        ]
