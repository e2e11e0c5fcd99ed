"""Atlassian Document Format (Jira v3 rich text) → plain text, by the convention in the facts (V7).

Jira defines no plain-text form, so this one is ours: block nodes (paragraph, heading, code block,
list item) are lines joined by ``\\n``; ``hardBreak`` breaks a line; marks are ignored; ``mention``
and ``emoji`` show their text, cards their URL; bullet items start ``- ``, ordered items ``n. ``
(from ``attrs.order``, default 1), lines nested in an item are indented two spaces; ``rule`` is
``---``; media is dropped; trailing empty lines are trimmed.

Provider data is never trusted: an unknown node shows its text or its children, anything malformed
shows nothing, and nothing here raises. Webhook (v2) payloads carry wiki-markup strings instead of
ADF; those are kept as they are (the facts say not to diff them against ADF), with line ends
normalised.
"""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 64  # deeper documents are cut, never a RecursionError
_INLINE = frozenset({"text", "hardBreak", "mention", "emoji", "inlineCard", "status", "date", "placeholder"})
_DROPPED = frozenset({"media", "mediaSingle", "mediaGroup", "mediaInline", "extension", "bodiedExtension"})


def to_text(value: Any) -> str | None:
    """A description or comment body (ADF dict, wiki string or ``null``) as plain text; None when absent."""
    if value is None:
        return None
    if isinstance(value, str):
        return _trim(value.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    if not isinstance(value, dict):
        return None
    return _trim(_blocks(_children(value), 0))


def _trim(lines: list[str]) -> str:
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _children(node: dict[str, Any]) -> list[Any]:
    content = node.get("content")
    return content if isinstance(content, list) else []


def _attrs(node: dict[str, Any]) -> dict[str, Any]:
    attrs = node.get("attrs")
    return attrs if isinstance(attrs, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _is_inline(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if kind in _INLINE:
        return True
    # An unknown node with text of its own and no children reads as inline text.
    return isinstance(node.get("text"), str) and not _children(node)


def _blocks(nodes: list[Any], depth: int) -> list[str]:
    """Lines of a sequence of nodes; runs of stray inline nodes become a line of their own."""
    lines: list[str] = []
    run: list[dict[str, Any]] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        if _is_inline(node):
            run.append(node)
            continue
        if run:
            lines.extend(_inline(run, depth).split("\n"))
            run = []
        lines.extend(_block(node, depth + 1))
    if run:
        lines.extend(_inline(run, depth).split("\n"))
    return lines


def _block(node: dict[str, Any], depth: int) -> list[str]:
    if depth > _MAX_DEPTH:
        return []
    kind = node.get("type")
    if kind in ("paragraph", "heading", "codeBlock"):
        return _inline(_children(node), depth).split("\n")
    if kind == "rule":
        return ["---"]
    if kind in ("blockCard", "embedCard"):
        return [_str(_attrs(node).get("url"))]
    if kind in _DROPPED:
        return []
    if kind in ("bulletList", "orderedList"):
        number = _attrs(node).get("order", 1)
        if isinstance(number, bool) or not isinstance(number, int):
            number = 1
        lines: list[str] = []
        for item in _children(node):
            if not isinstance(item, dict):
                continue
            marker = "- " if kind == "bulletList" else f"{number}. "
            number += 1
            inner = _blocks(_children(item), depth) if item.get("type") == "listItem" else _block(item, depth + 1)
            if not inner:
                inner = [""]
            lines.append(marker + inner[0])
            lines.extend("  " + line if line else line for line in inner[1:])
        return lines
    # listItem outside a list, blockquote, panel, table, expand, unknown containers: their children.
    return _blocks(_children(node), depth)


def _inline(nodes: list[Any], depth: int) -> str:
    if depth > _MAX_DEPTH:
        return ""
    parts: list[str] = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        kind = node.get("type")
        attrs = _attrs(node)
        if kind == "text":
            parts.append(_str(node.get("text")))
        elif kind == "hardBreak":
            parts.append("\n")
        elif kind == "mention":
            parts.append(_str(attrs.get("text")))
        elif kind == "emoji":
            parts.append(_str(attrs.get("text")) or _str(attrs.get("shortName")))
        elif kind in ("inlineCard", "blockCard", "embedCard"):
            parts.append(_str(attrs.get("url")))
        elif kind in _DROPPED:
            continue
        elif isinstance(node.get("text"), str):
            parts.append(node["text"])
        elif isinstance(attrs.get("text"), str):  # status lozenges and other labelled nodes
            parts.append(attrs["text"])
        elif _children(node):
            parts.append("\n".join(_blocks(_children(node), depth + 1)))
    return "".join(parts)
