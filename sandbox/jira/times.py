"""Jira's time shapes (§1): ``-0700`` offsets without a colon on issues and comments, ``Z`` on sprints.

Every user's ``timeZone`` is ``America/Phoenix`` (no daylight saving), so the one fixed offset is
also the zone absolute JQL dates are read in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

SITE_ZONE = timezone(timedelta(hours=-7))


def jira_time(ms: int) -> str:
    """``2022-06-09T16:29:31.871-0700`` (V13)."""
    moment = datetime.fromtimestamp(ms / 1000, SITE_ZONE)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}" + moment.strftime("%z")


def sprint_time(ms: int) -> str:
    """``2015-04-11T15:22:00.000Z``: Agile dates are UTC with milliseconds."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def reset_time(epoch_seconds: float) -> str:
    """``X-RateLimit-Reset``: an ISO timestamp to the minute, ``2026-01-05T13:00Z`` (§5)."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%dT%H:%MZ")
