"""Reading a third party's JSON without trusting its shape: every transform turns whatever arrives
into a value or None, and counts what it had to drop in ``Rows.issues`` (never an exception)."""

from __future__ import annotations

from collections import Counter
from typing import Any


def ident(value: Any) -> str | None:
    """An id as a string (APIs send numbers and strings alike); None for anything else or blank."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str) and str(value).strip():
        return str(value).strip()
    return None


def record(value: Any, issues: Counter[str]) -> tuple[dict[str, Any], str] | None:
    """A record and its id; None (counted as ``skipped_records``) when either is missing."""
    record_id = ident(value.get("id")) if isinstance(value, dict) else None
    if record_id is None:
        issues["skipped_records"] += 1
        return None
    assert isinstance(value, dict)  # ident found an id in it
    return value, record_id


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def obj(value: Any, issues: Counter[str], what: str) -> dict[str, Any]:
    """An object, or {} (counted as ``malformed_<what>`` when something else was there)."""
    if isinstance(value, dict):
        return value
    if value is not None:
        issues[f"malformed_{what}"] += 1
    return {}


def items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def number(value: Any, issues: Counter[str]) -> float | None:
    """A number from a number or a numeric string; anything else is counted and dropped."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        issues["malformed_values"] += 1
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        issues["malformed_values"] += 1
        return None
