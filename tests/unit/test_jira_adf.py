"""ADF → plain text (V7) and Jira times (V13): table-like, one row per input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from server.integrations.jira.adf import to_text
from server.integrations.jira.times import from_epoch_ms, parse_date, parse_datetime

V7_DOC = json.loads(r"""{"type":"doc","version":1,"content":[
 {"type":"heading","attrs":{"level":2},"content":[{"type":"text","text":"Steps"}]},
 {"type":"paragraph","content":[{"type":"text","text":"Login fails for "},{"type":"mention","attrs":{"id":"5fc9e78d2730d800760becc4","text":"@Jane Doe","accessLevel":""}},{"type":"text","text":" on "},{"type":"text","text":"Safari","marks":[{"type":"strong"}]},{"type":"text","text":"."},{"type":"hardBreak"},{"type":"text","text":"See "},{"type":"text","text":"the log","marks":[{"type":"link","attrs":{"href":"https://example.com/log"}}]},{"type":"text","text":" "},{"type":"emoji","attrs":{"shortName":":smile:","id":"1f604","text":"\ud83d\ude04"}}]},
 {"type":"bulletList","content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"open /login"}]}]},{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"submit"}]}]}]},
 {"type":"orderedList","attrs":{"order":1},"content":[{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"first"}]}]},{"type":"listItem","content":[{"type":"paragraph","content":[{"type":"text","text":"second"}]}]}]},
 {"type":"codeBlock","attrs":{"language":"python"},"content":[{"type":"text","text":"print(\"hi\")"}]},
 {"type":"paragraph","content":[{"type":"inlineCard","attrs":{"url":"https://example.atlassian.net/browse/PROJ-9"}}]},
 {"type":"paragraph"}]}""")  # noqa: E501 - the facts' V7 document, verbatim
V7_TEXT = (
    "Steps\nLogin fails for @Jane Doe on Safari.\nSee the log 😄\n- open /login\n- submit\n1. first\n2. second\n"
    'print("hi")\nhttps://example.atlassian.net/browse/PROJ-9'
)


def doc(*content: Any) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(content)}


def para(*inline: Any) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(inline)}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def item(*blocks: Any) -> dict[str, Any]:
    return {"type": "listItem", "content": list(blocks)}


def test_v7_document_reads_exactly_as_the_facts_say() -> None:
    assert to_text(V7_DOC) == V7_TEXT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (42, None),
        (["not", "a", "doc"], None),
        ({}, ""),
        ({"type": "doc", "content": "oops"}, ""),
        (doc(para()), ""),
        (doc(para(text("a")), para(), para(text("b")), para(), para()), "a\n\nb"),
        (doc({"type": "rule"}), "---"),
        (doc(para(text("x")), {"type": "mediaSingle", "content": [{"type": "media", "attrs": {"id": "1"}}]}), "x"),
        (doc({"type": "emoji", "attrs": {"shortName": ":smile:"}}), ":smile:"),
        (doc(para({"type": "blockCard", "attrs": {"url": "https://x"}})), "https://x"),
        (doc({"type": "blockCard", "attrs": {"url": "https://x"}}), "https://x"),
        (
            doc(
                {
                    "type": "orderedList",
                    "attrs": {"order": 3},
                    "content": [item(para(text("c"))), item(para(text("d")))],
                }
            ),
            "3. c\n4. d",
        ),
        (doc({"type": "orderedList", "attrs": {"order": "x"}, "content": [item(para(text("a")))]}), "1. a"),
        (
            doc(
                {
                    "type": "bulletList",
                    "content": [
                        item(para(text("outer")), {"type": "bulletList", "content": [item(para(text("inner")))]}),
                    ],
                }
            ),
            "- outer\n  - inner",
        ),
        (doc({"type": "blockquote", "content": [para(text("quoted"))]}), "quoted"),
        (doc({"type": "panel", "content": [para(text("p1")), para(text("p2"))]}), "p1\np2"),
        (
            doc(
                {
                    "type": "table",
                    "content": [
                        {
                            "type": "tableRow",
                            "content": [
                                {"type": "tableCell", "content": [para(text("a"))]},
                                {"type": "tableCell", "content": [para(text("b"))]},
                            ],
                        }
                    ],
                }
            ),
            "a\nb",
        ),
        (doc(para(text("s "), {"type": "status", "attrs": {"text": "DONE"}})), "s DONE"),
        (doc({"type": "futureBlock", "content": [para(text("kept"))]}), "kept"),
        (doc(para({"type": "futureInline", "text": "inline"}, text("!"))), "inline!"),
        (doc(para("junk", None, 3, text("ok"))), "ok"),
        (doc(para({"type": "text", "text": 5}), para({"type": "mention", "attrs": "bad"})), ""),
        (doc(text("stray"), para(text("p"))), "stray\np"),
        (
            "a wiki {noformat}body{noformat}\r\n[text|https://x]\n\n",
            "a wiki {noformat}body{noformat}\n[text|https://x]",
        ),
    ],
)
def test_adf_rows(value: Any, expected: str | None) -> None:
    assert to_text(value) == expected


def test_deep_nesting_is_cut_not_a_crash() -> None:
    node: dict[str, Any] = para(text("bottom"))
    for _ in range(5000):
        node = {"type": "blockquote", "content": [node]}
    assert to_text(doc(node)) == ""


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2022-06-09T16:29:31.871-0700", datetime(2022, 6, 9, 23, 29, 31, 871000, tzinfo=UTC)),
        ("2026-01-05T09:12:44.120+0100", datetime(2026, 1, 5, 8, 12, 44, 120000, tzinfo=UTC)),
        ("2015-04-11T15:22:00.000+10:00", datetime(2015, 4, 11, 5, 22, tzinfo=UTC)),
        ("2020-07-07T00:37:08.707Z", datetime(2020, 7, 7, 0, 37, 8, 707000, tzinfo=UTC)),
        ("2021-01-17T12:34:00.000+0000", datetime(2021, 1, 17, 12, 34, tzinfo=UTC)),
        (1596508629814, datetime(2020, 8, 4, 2, 37, 9, 814000, tzinfo=UTC)),
        ("2022-06-09T16:29:31.871", None),  # no offset: refused, not guessed
        ("2020-08-04", None),
        ("yesterday", None),
        ("2022-13-09T16:29:31.871-0700", None),
        ("", None),
        (None, None),
        (True, None),
        ({"at": 1}, None),
        (-5, None),
        (1e20, None),
    ],
)
def test_datetime_rows(value: Any, expected: datetime | None) -> None:
    parsed = parse_datetime(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC


def test_v13_times_as_utc_iso() -> None:
    moment = parse_datetime("2022-06-09T16:29:31.871-0700")
    assert moment is not None
    assert moment.isoformat(timespec="milliseconds") == "2022-06-09T23:29:31.871+00:00"
    stamp = from_epoch_ms(1596508629814)
    assert stamp is not None
    assert stamp.isoformat(timespec="milliseconds") == "2020-08-04T02:37:09.814+00:00"
    assert from_epoch_ms("1596508629814") == stamp
    assert from_epoch_ms("soon") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2020-08-04", date(2020, 8, 4)),
        (" 2026-01-31 ", date(2026, 1, 31)),
        ("2020-02-30", None),
        ("01/Feb/26", None),
        ("2022-06-09T16:29:31.871-0700", None),
        (20200804, None),
        (None, None),
    ],
)
def test_date_rows(value: Any, expected: date | None) -> None:
    assert parse_date(value) == expected
