"""Text a UTF-8 store can hold.

JSON allows ``"\\ud800"``, a lone surrogate, which Python decodes into a ``str`` that cannot be
encoded as UTF-8: the Neo4j driver then refuses the whole transaction it is in. Anything read from
outside (a provider's response, a webhook body) passes through here before it is stored, so one
odd character costs one replaced character, not a failed page or a blocked inbox.
"""

from __future__ import annotations

from typing import Any

REPLACEMENT = "\ufffd"


def storable(text: str) -> str:
    """The text with each lone surrogate replaced by U+FFFD; the same object when there is none."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(REPLACEMENT if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


def storable_value(value: Any) -> Any:
    """``storable`` applied to every string inside a property value (lists and maps included)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list | tuple):
        return type(value)(storable_value(v) for v in value)
    if isinstance(value, dict):
        return {storable(str(k)): storable_value(v) for k, v in value.items()}
    return value
