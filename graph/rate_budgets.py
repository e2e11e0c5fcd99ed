"""A provider's request budget shared by every replica that uses one token: a fixed-window counter row.

Providers such as ClickUp count requests per token per window and answer 429 once the window's
budget is spent. Replicas that each kept their own count would each spend the whole budget. Here the
count lives in one ``(:RateBudget {key})`` row, and a request is granted by one statement that takes
the row's write lock, rolls the window over when it has ended, and counts the request only if it
still fits: concurrent takers on any replica queue on the lock and never overshoot.

The provider's headers stay the final word: a response's ``remaining`` and reset move the row (the
count only up, the window end to the provider's), in the same statement as the next take, so the
correction costs no extra round trip. The row remembers which provider window it is in (the
provider's reset stamp), so an answer from an older window that arrives late is ignored; after a
roll-over the row's window is provisional until an answer about the new one arrives.
All times are the database server's clock; callers pass durations, so replicas' clocks may differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import neo4j


@dataclass(frozen=True)
class ProviderCount:
    """What a provider's response said of the budget: ``remaining`` of ``limit``, reset in ``reset_in``
    seconds. ``window_end`` is the provider's own stamp for the window (its reset time on its clock):
    it tells an answer about the current window from a late one about an earlier window. None: a
    refusal that said nothing more (the window counts as spent for ``reset_in``)."""

    limit: int
    remaining: int
    reset_in: float
    window_end: float | None


@dataclass(frozen=True)
class BudgetAnswer:
    granted: int  # requests granted (0: none left in this window)
    wait_seconds: float  # until the window ends: grants expire then; none granted: when to ask again
    used: int
    limit: int


class RateBudgets:
    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def take(
        self, key: str, limit: int, window_seconds: float, seen: ProviderCount | None = None, want: int = 1
    ) -> BudgetAnswer:
        """Count up to ``want`` requests against ``key``'s window, as many as fit; first apply
        ``seen``, the newest provider count this caller holds. ``limit`` and ``window_seconds`` shape a
        window the provider has not described yet. Taking several at once spares statements where
        the budget is large; what a caller took and did not use by the window's end is lost."""
        window_ms = max(1, int(window_seconds * 1000))
        records, _, _ = await self._driver.execute_query(
            """
            MERGE (b:RateBudget {key: $key})
            ON CREATE SET b.used = 0, b.endsAt = 0, b.quota = $limit, b.lastWindow = -1
            SET b.lockTakenAt = datetime.transaction()
            WITH b, timestamp() AS now, $seen AS seen
            WITH b, now, seen,
                 CASE WHEN seen IS NULL THEN 'none'
                      WHEN seen.windowEnd IS NULL THEN 'spent'
                      WHEN seen.windowEnd > b.lastWindow THEN 'newer'
                      WHEN seen.windowEnd = b.lastWindow AND b.window = seen.windowEnd THEN 'same'
                      ELSE 'stale' END AS verdict
            WITH b, now, seen, verdict, verdict IN ['newer', 'same', 'spent'] AS told
            WITH b, now, verdict,
                 CASE WHEN told THEN seen.limit ELSE b.quota END AS quota,
                 CASE WHEN NOT told THEN b.used
                      WHEN now >= b.endsAt OR seen.limit - seen.remaining > b.used THEN seen.limit - seen.remaining
                      ELSE b.used END AS used,
                 CASE WHEN verdict IN ['newer', 'same'] THEN now + seen.resetMs
                      WHEN verdict = 'spent' AND now + seen.resetMs > b.endsAt THEN now + seen.resetMs
                      ELSE b.endsAt END AS endsAt,
                 CASE WHEN verdict = 'newer' THEN seen.windowEnd ELSE b.lastWindow END AS lastWindow,
                 CASE WHEN verdict = 'newer' THEN seen.windowEnd ELSE b.window END AS window
            WITH b, now, quota, lastWindow, now >= endsAt AS over, used, endsAt, window
            WITH b, now, quota, lastWindow,
                 CASE WHEN over THEN 0 ELSE used END AS used,
                 CASE WHEN over THEN now + $windowMs ELSE endsAt END AS endsAt,
                 CASE WHEN over THEN null ELSE window END AS window
            WITH b, now, quota, lastWindow, used, endsAt, window,
                 CASE WHEN used >= quota THEN 0 WHEN quota - used < $want THEN quota - used ELSE $want END AS granted
            SET b.quota = quota, b.endsAt = endsAt, b.lastWindow = lastWindow, b.window = window,
                b.used = used + granted
            RETURN granted, endsAt - now AS waitMs, b.used AS used, quota
            """,
            key=key,
            limit=limit,
            want=max(1, want),
            windowMs=window_ms,
            seen=None
            if seen is None
            else {
                "limit": max(1, seen.limit),
                "remaining": max(0, min(seen.remaining, seen.limit)),
                "resetMs": max(0, int(seen.reset_in * 1000)),
                "windowEnd": None if seen.window_end is None else int(seen.window_end * 1000),
            },
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        row = records[0]
        return BudgetAnswer(int(row["granted"]), max(0, int(row["waitMs"])) / 1000, int(row["used"]), int(row["quota"]))
