"""The envelope rules (the structural ones every scheme shares, and the body-keyed scheme's own), one
row per input (pure functions, no servers). The signature headers are tabled in test_schemes.py."""

from __future__ import annotations

import json

import pytest

from webhook_gateway.envelope import MAX_BODY_BYTES, Rejected, check_depth
from webhook_gateway.schemes.hex_body_id import Envelope, parse_envelope


def body(**fields: object) -> bytes:
    return json.dumps({"webhook_id": "w-1", "event": "taskUpdated", **fields}, separators=(",", ":")).encode()


def nested(levels: int) -> bytes:
    return b'{"webhook_id":"w","event":"e","x":' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"


ACCEPTED = [
    ("minimal", body(), Envelope("w-1", "taskUpdated")),
    ("64 levels", nested(64), Envelope("w", "e")),
    ("brackets inside strings", body(name="[[[[" * 100), Envelope("w-1", "taskUpdated")),
    (
        "escaped quote before brackets",
        b'{"webhook_id":"w","event":"e","n":"\\"' + b"[" * 100 + b'"}',
        Envelope("w", "e"),
    ),
    ("escaped backslash ends the string", b'{"webhook_id":"w","event":"e","n":"\\\\","m":[]}', Envelope("w", "e")),
    ("lone surrogate in event", b'{"webhook_id":"w","event":"taskUpdated\\ud800"}', Envelope("w", "taskUpdated\ud800")),
    ("history null", body(history_items=None), Envelope("w-1", "taskUpdated")),
    ("history of anything", body(history_items=[1, "a", {}]), Envelope("w-1", "taskUpdated")),
    ("integer and null ids", body(task_id=123, list_id=None, space_id="9"), Envelope("w-1", "taskUpdated")),
    ("128-character id", body(webhook_id="a" * 128), Envelope("a" * 128, "taskUpdated")),
    ("id punctuation", body(webhook_id="a.b_c:d-e"), Envelope("a.b_c:d-e", "taskUpdated")),
    ("200-character event", body(event="e" * 200), Envelope("w-1", "e" * 200)),
]

REFUSED = [
    ("over the cap", b'{"a":"' + b"x" * MAX_BODY_BYTES + b'"}', 413, "too_large"),
    ("65 levels", nested(65), 400, "too_deep"),
    ("100k levels", b"[" * 100_000 + b"]" * 100_000, 400, "too_deep"),
    ("100k unclosed levels", b"{" * 100_000, 400, "too_deep"),
    ("deep after a shallow start", b'{"a":[],"b":' + b"[" * 70 + b"]" * 70 + b"}", 400, "too_deep"),
    ("not JSON", b"event=taskCreated", 400, "not_json"),
    ("empty", b"", 400, "not_json"),
    ("not UTF-8", b'{"event":"\xff"}', 400, "not_json"),
    ("UTF-16", '{"webhook_id":"w","event":"e"}'.encode("utf-16"), 400, "not_json"),
    ("a 5000-digit number", b'{"n":' + b"9" * 5000 + b"}", 400, "not_json"),
    ("unbalanced", b"{]", 400, "not_json"),
    ("array", b"[]", 400, "not_an_object"),
    ("string", b'"x"', 400, "not_an_object"),
    ("no webhook_id", b'{"event":"e"}', 400, "missing_webhook_id"),
    ("null webhook_id", body(webhook_id=None), 400, "missing_webhook_id"),
    ("empty webhook_id", body(webhook_id=""), 400, "missing_webhook_id"),
    ("webhook_id a number", body(webhook_id=5), 400, "bad_webhook_id"),
    ("webhook_id with a trailing newline", body(webhook_id="org-a\n"), 400, "bad_webhook_id"),
    ("webhook_id a lone surrogate", b'{"event":"e","webhook_id":"\\ud800"}', 400, "bad_webhook_id"),
    ("webhook_id of 129 characters", body(webhook_id="a" * 129), 400, "bad_webhook_id"),
    ("webhook_id starting with '-'", body(webhook_id="-a"), 400, "bad_webhook_id"),
    ("webhook_id with a space", body(webhook_id="a b"), 400, "bad_webhook_id"),
    ("webhook_id non-ASCII letters", body(webhook_id="wébhook"), 400, "bad_webhook_id"),
    ("no event", b'{"webhook_id":"w"}', 400, "missing_event"),
    ("blank event", body(event=" "), 400, "missing_event"),
    ("event a number", body(event=1), 400, "missing_event"),
    ("event of 201 characters", body(event="e" * 201), 400, "bad_event"),
    ("history an object", body(history_items={}), 400, "bad_history"),
    ("history a string", body(history_items="1"), 400, "bad_history"),
    ("task_id an object", body(task_id={}), 400, "bad_object_id"),
    ("list_id a list", body(list_id=[1]), 400, "bad_object_id"),
    ("goal_id a float", body(goal_id=1.5), 400, "bad_object_id"),
    ("space_id a boolean", body(space_id=False), 400, "bad_object_id"),
    ("a later id is checked too", body(task_id="1", key_result_id={}), 400, "bad_object_id"),
]


@pytest.mark.parametrize(("case", "raw", "expected"), ACCEPTED, ids=[row[0] for row in ACCEPTED])
def test_good_envelopes_parse(case: str, raw: bytes, expected: Envelope) -> None:
    assert parse_envelope(raw) == expected, case


@pytest.mark.parametrize(("case", "raw", "status", "reason"), REFUSED, ids=[row[0] for row in REFUSED])
def test_bad_envelopes_are_refused_with_their_reason(case: str, raw: bytes, status: int, reason: str) -> None:
    with pytest.raises(Rejected) as refused:
        parse_envelope(raw)
    assert (refused.value.status, refused.value.reason) == (status, reason), case


def test_depth_is_counted_outside_strings_only() -> None:
    check_depth(b'["' + b"[" * 1000 + b'"]')
    check_depth(b'"unterminated ' + b"[" * 1000)
    with pytest.raises(Rejected):
        check_depth(b'["\\\\",' + b"[" * 64 + b"]" * 64 + b"]")  # the string ends at the escaped backslash
