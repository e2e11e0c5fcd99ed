"""Jira's times and dates → aware UTC datetimes and dates; a value that does not parse is None.

Issue and comment times carry an offset without a colon (``2022-06-09T16:29:31.871-0700``), sprint
times ``+10:00`` or ``Z``, webhook timestamps are epoch milliseconds, due and version dates are
``2020-08-04``. Provider data never raises here: the transform counts what it had to drop.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

# Offsets as Jira writes them: +HHMM / -HHMM (no colon); fromisoformat reads them from 3.11 on, this
# turns them into the colon form first so the rule is ours, not the runtime's.
_OFFSET = re.compile(r"([+-])(\d\d)(\d\d)$")
_MAX_EPOCH_MS = 4e12  # year 2096: anything larger is not a Jira timestamp


def parse_datetime(value: Any) -> datetime | None:
    """A Jira time (ISO 8601 with an offset, or epoch ms) as an aware UTC datetime, else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return from_epoch_ms(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if "T" not in text:
        return None  # a date alone is not a moment
    text = _OFFSET.sub(r"\1\2:\3", text)
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None  # a wall-clock time in an unknown zone: refuse rather than guess
    return parsed.astimezone(UTC)


def from_epoch_ms(value: Any) -> datetime | None:
    """Webhook ``timestamp``/``expirationDate`` (epoch ms, number or numeric string) → UTC datetime."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        millis = float(value)
    except (TypeError, ValueError):
        return None
    if not 0 <= millis < _MAX_EPOCH_MS:
        return None
    return datetime.fromtimestamp(millis / 1000, UTC)


def parse_date(value: Any) -> date | None:
    """A Jira date (``2020-08-04``; the date part of a longer value is not accepted) → date, else None."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None
