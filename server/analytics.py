"""Integration analytics as the handlers ask for them: a window checked and rounded to whole UTC
days, then the per-day figures from ``graph/analytics.py``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graph.analytics import AnalyticsStore, DayFigures
from server.errors import InvalidArgument
from server.validation import require_name

DEFAULT_DAYS = 30
MAX_DAYS = 92


def _midnight(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


class Analytics:
    def __init__(self, store: AnalyticsStore) -> None:
        self._store = store

    async def days(
        self, org_id: str, project_id: str, name: str, start: datetime | None, end: datetime | None, now: datetime
    ) -> list[DayFigures]:
        """``end`` defaults to the end of today, ``start`` to ``DEFAULT_DAYS`` before it; both are
        taken to whole days (start down, end up)."""
        require_name("name", name)
        if end is None:
            last = _midnight(now) + timedelta(days=1)
        else:
            last = _midnight(end) if end == _midnight(end) else _midnight(end) + timedelta(days=1)
        first = _midnight(start) if start is not None else last - timedelta(days=DEFAULT_DAYS)
        if first >= last:
            raise InvalidArgument("end_time", "must be after start_time")
        if last - first > timedelta(days=MAX_DAYS):
            raise InvalidArgument("start_time", f"the window is at most {MAX_DAYS} days")
        return await self._store.days(org_id, project_id, name, first, last)
