"""``Config``: look a variable up, cast it, and say clearly which variable is wrong and why."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting is missing or wrong; the message names the variable and what would be right."""


class Invalid(ValueError):
    """Raised by a cast: ``allowed`` completes "NAME must be ...". ``echo=False`` keeps the value out
    of the message (secrets, URLs with credentials)."""

    def __init__(self, allowed: str, *, echo: bool = True, shown: str = "") -> None:
        super().__init__(allowed)
        self.allowed = allowed
        self.echo = echo
        self.shown = shown  # what to say instead of the value when echo is False


class Config:
    """Settings read from ``environ`` (``os.environ`` by default).

    A variable set to blanks counts as unset, so ``VAR: ${VAR:-}`` in a compose file means "the
    default". Defaults are given as text and cast like a set value, so they are checked too.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ: Mapping[str, str] = os.environ if environ is None else environ

    def raw(self, name: str) -> str | None:
        """The value as set, or None when the variable is unset or blank."""
        value = self._environ.get(name)
        return None if value is None or not value.strip() else value

    def names(self, prefix: str) -> list[str]:
        """The variables starting with ``prefix`` that are set (not blank), sorted."""
        return sorted(name for name in self._environ if name.startswith(prefix) and self.raw(name) is not None)

    @overload
    def __call__(self, name: str, *, default: str | None = None, help: str = "") -> str: ...

    @overload
    def __call__(self, name: str, cast: Callable[[str], T], *, default: str | None = None, help: str = "") -> T: ...

    def __call__(
        self, name: str, cast: Callable[[str], Any] | None = None, *, default: str | None = None, help: str = ""
    ) -> Any:
        """The variable cast by ``cast`` (text as set when no cast); ``default`` when unset or blank.
        Without a default an unset variable is an error; ``help`` says what to set it to."""
        value = self.raw(name)
        if value is None:
            if default is None:
                raise ConfigError(f"{name} is not set" + (f": {help}" if help else ""))
            value = default
        return _cast(name, value, cast)

    @overload
    def optional(self, name: str) -> str | None: ...

    @overload
    def optional(self, name: str, cast: Callable[[str], T]) -> T | None: ...

    def optional(self, name: str, cast: Callable[[str], Any] | None = None) -> Any:
        """The variable cast by ``cast``, or None when it is unset or blank."""
        value = self.raw(name)
        return None if value is None else _cast(name, value, cast)


def _cast(name: str, value: str, cast: Callable[[str], Any] | None) -> Any:
    if cast is None:
        return value
    try:
        return cast(value)
    except ConfigError:
        raise  # a cast that names its variable itself (a list of org/project pairs, say)
    except Invalid as exc:
        got = repr(value) if exc.echo else exc.shown
        raise ConfigError(f"{name} must be {exc.allowed}" + (f", got {got}" if got else "")) from None
    except ValueError as exc:  # a plain callable such as int: its message is all we have
        raise ConfigError(f"{name} is invalid: {exc}") from None
