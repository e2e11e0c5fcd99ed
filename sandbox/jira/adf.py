"""ADF (Atlassian Document Format) bodies: v3 rich text is JSON documents, never strings (§1, V7)."""

from __future__ import annotations

from typing import Any

# The V7 document of the facts, verbatim, so an importer's ADF -> text conversion meets it on real paths.
V7_DOCUMENT: dict[str, Any] = {
    "type": "doc",
    "version": 1,
    "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps"}]},
        {
            "type": "paragraph",
            "content": [
                {"type": "text", "text": "Login fails for "},
                {
                    "type": "mention",
                    "attrs": {"id": "5fc9e78d2730d800760becc4", "text": "@Jane Doe", "accessLevel": ""},
                },
                {"type": "text", "text": " on "},
                {"type": "text", "text": "Safari", "marks": [{"type": "strong"}]},
                {"type": "text", "text": "."},
                {"type": "hardBreak"},
                {"type": "text", "text": "See "},
                {
                    "type": "text",
                    "text": "the log",
                    "marks": [{"type": "link", "attrs": {"href": "https://example.com/log"}}],
                },
                {"type": "text", "text": " "},
                {"type": "emoji", "attrs": {"shortName": ":smile:", "id": "1f604", "text": "\U0001f604"}},
            ],
        },
        {
            "type": "bulletList",
            "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": t}]}]}
                for t in ("open /login", "submit")
            ],
        },
        {
            "type": "orderedList",
            "attrs": {"order": 1},
            "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": t}]}]}
                for t in ("first", "second")
            ],
        },
        {"type": "codeBlock", "attrs": {"language": "python"}, "content": [{"type": "text", "text": 'print("hi")'}]},
        {
            "type": "paragraph",
            "content": [{"type": "inlineCard", "attrs": {"url": "https://example.atlassian.net/browse/PROJ-9"}}],
        },
        {"type": "paragraph"},
    ],
}

V7_TEXT = (
    "Steps\nLogin fails for @Jane Doe on Safari.\nSee the log \U0001f604\n"
    '- open /login\n- submit\n1. first\n2. second\nprint("hi")\n'
    "https://example.atlassian.net/browse/PROJ-9"
)


def paragraph_doc(text: str) -> dict[str, Any]:
    """A one-paragraph document; ``text`` nodes must be non-empty, so empty text gives an empty paragraph."""
    paragraph: dict[str, Any] = {"type": "paragraph"}
    if text:
        paragraph["content"] = [{"type": "text", "text": text}]
    return {"type": "doc", "version": 1, "content": [paragraph]}


def plain_text(doc: dict[str, Any]) -> str:
    """The text of a document's text nodes, for admin mutations that replace it (not V7's converter)."""
    parts: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if node.get("type") == "text":
            parts.append(str(node.get("text", "")))
        for child in node.get("content", []):
            walk(child)

    walk(doc)
    return "".join(parts)
