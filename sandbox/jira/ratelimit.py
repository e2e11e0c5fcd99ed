"""Jira's burst limit as a token bucket per credential (§5), off unless a capacity is set.

When on, every answer carries ``X-RateLimit-Limit``/``-Remaining``/``-Reset`` (an ISO minute, not
seconds) and ``X-RateLimit-NearLimit: true`` below 20 %; a spent bucket answers 429 with
``Retry-After`` and ``RateLimit-Reason: jira-burst-based`` (V11).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from sandbox.jira.times import reset_time


@dataclass
class _Bucket:
    level: float
    at: float


class BurstLimiter:
    def __init__(
        self, clock: Callable[[], float], capacity: int | None = None, refill_per_second: float = 10.0
    ) -> None:
        self._clock = clock
        self.capacity = capacity
        self.refill_per_second = refill_per_second
        self._buckets: dict[str, _Bucket] = {}
        self.rejected = 0

    def hit(self, who: str) -> tuple[bool, dict[str, str]]:
        """Take one token; whether the request may pass and the headers to send (none when off)."""
        if self.capacity is None:
            return True, {}
        now = self._clock()
        bucket = self._buckets.setdefault(who, _Bucket(float(self.capacity), now))
        bucket.level = min(float(self.capacity), bucket.level + (now - bucket.at) * self.refill_per_second)
        bucket.at = now
        allowed = bucket.level >= 1.0
        if allowed:
            bucket.level -= 1.0
        else:
            self.rejected += 1
        wait = 0.0 if allowed else (1.0 - bucket.level) / self.refill_per_second
        headers = {
            "X-RateLimit-Limit": str(self.capacity),
            "X-RateLimit-Remaining": str(int(bucket.level)),
            "X-RateLimit-Reset": reset_time(now + 60 + wait),
        }
        if bucket.level < 0.2 * self.capacity:
            headers["X-RateLimit-NearLimit"] = "true"
        if not allowed:
            headers |= {
                "Retry-After": str(max(1, math.ceil(wait))),
                "X-RateLimit-Remaining": "0",
                "RateLimit-Reason": "jira-burst-based",
            }
        return allowed, headers
