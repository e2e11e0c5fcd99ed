"""The casts ``Config`` applies: each takes the text as set and returns a typed value or raises
``Invalid`` with what it accepts. Numbers are strict ASCII (no "١٢", "1_000", "nan" or "inf")."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from envconfig.reader import Invalid

_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DURATION = re.compile(rf"({_NUMBER.pattern})\s*(ms|s|m|h)?")
_SECONDS = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
TRUE = ("on", "true", "yes", "1")
FALSE = ("off", "false", "no", "0")


def _shown(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _check_range(value: float, low: float, high: float, why: str, unit: str = "") -> None:
    if not low <= value <= high:
        unit = f" {unit}" if unit else ""
        raise Invalid(f"between {_shown(low)} and {_shown(high)}{unit}" + (f" ({why})" if why else ""))


def integer(low: int, high: int, why: str = "") -> Callable[[str], int]:
    """A whole number written in ASCII digits, between ``low`` and ``high`` inclusive."""

    def cast(text: str) -> int:
        text = text.strip()
        if not _INTEGER.fullmatch(text):
            raise Invalid("a whole number")
        value = int(text)
        _check_range(value, low, high, why)
        return value

    return cast


def number(low: float, high: float, why: str = "") -> Callable[[str], float]:
    """A finite decimal number ("2", "2.5", "1e3"), between ``low`` and ``high`` inclusive."""

    def cast(text: str) -> float:
        text = text.strip()
        if not _NUMBER.fullmatch(text):
            raise Invalid("a number")
        value = float(text)
        if not math.isfinite(value):  # "1e999"
            raise Invalid("a finite number")
        _check_range(value, low, high, why)
        return value

    return cast


def duration(low: float, high: float, why: str = "") -> Callable[[str], float]:
    """Seconds as a number ("30", "2.5") or with a unit ("500ms", "30s", "2m", "1h"); returns seconds."""

    def cast(text: str) -> float:
        match = _DURATION.fullmatch(text.strip())
        if match is None:
            raise Invalid("a number of seconds, or a duration like '500ms', '30s', '2m' or '1h'")
        value = float(match.group(1)) * _SECONDS[match.group(2)]
        if not math.isfinite(value):
            raise Invalid("a finite duration")
        _check_range(value, low, high, why, "seconds")
        return value

    return cast


def boolean(text: str) -> bool:
    """on/off, true/false, yes/no or 1/0, in any case."""
    word = text.strip().lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise Invalid("one of " + ", ".join(f"{t}/{f}" for t, f in zip(TRUE, FALSE, strict=True)))


def choice(*allowed: str, fold_case: bool = False) -> Callable[[str], str]:
    """One of ``allowed`` (compared case-blind with ``fold_case``; the allowed spelling is returned)."""
    listed = [repr(word) for word in allowed]
    words = " or ".join(listed) if len(listed) <= 2 else "one of " + ", ".join(listed)

    def cast(text: str) -> str:
        text = text.strip()
        for word in allowed:
            if text == word or (fold_case and text.lower() == word.lower()):
                return word
        raise Invalid(words)

    return cast


def url(*schemes: str, what: str = "") -> Callable[[str], str]:
    """An absolute URL with one of ``schemes`` and a host, e.g. ``url("http", "https")``. A URL with
    credentials in it is never echoed in an error."""
    kinds = "http(s)" if schemes == ("http", "https") else "/".join(schemes)
    wanted = what or f"an {kinds} URL"

    def cast(text: str) -> str:
        text = text.strip()
        echo = "@" not in text
        refused = Invalid(wanted, echo=echo, shown="" if echo else "a URL with credentials")
        if not text.isascii() or not text.isprintable() or " " in text:
            raise refused
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018  (raises on a port that is no number or out of range)
        except ValueError:
            raise refused from None
        if parts.scheme.lower() not in schemes or not parts.hostname:
            raise refused
        return text

    return cast


def address(text: str) -> str:
    """``host:port`` with a port from 1 to 65535 (the host may be empty: every interface)."""
    text = text.strip()
    host, colon, port = text.rpartition(":")
    if not colon or not _INTEGER.fullmatch(port) or port[0] in "+-" or not 0 < int(port) < 65536 or " " in host:
        raise Invalid("host:port")
    return text


def secret(text: str) -> str:
    """Printable text kept exactly as set (a pasted newline would only fail later, in an HTTP or gRPC
    header, far from its cause); an error about it never shows it."""
    if not text.isprintable():
        raise Invalid("printable text (no newline or control characters)", echo=False)
    return text
