"""The gateway and the server agree on what a valid delivery envelope is (issue 9, item 1).

One table of bodies runs through both readers. A body the gateway acknowledges must be one the
server stores as a normal event, or (text that cannot be stored as it is) sets aside as a dead
letter: never one it refuses, which would be 2xx-and-drop. A body the gateway refuses must not be
one the server would apply.
"""

from __future__ import annotations

import json

import pytest

from server.errors import InvalidArgument
from server.integrations.clickup.webhooks import parse_delivery
from webhook_gateway.envelope import Rejected
from webhook_gateway.schemes.hex_body_id import parse_envelope

HOOK = '"webhook_id":"1f0c2b7e-3d4a-4b5c-9e8f-0a1b2c3d4e5f"'
GOOD = '{"event":"taskUpdated","task_id":"86b",' + HOOK + "}"

# (what, body, gateway accepts, server outcome: "stored" | "dead_letter" | "refused")
TABLE: list[tuple[str, bytes, bool, str]] = [
    ("a good body", GOOD.encode(), True, "stored"),
    ("history items", b'{"event":"taskUpdated","history_items":[{"id":"1"}],' + HOOK.encode() + b"}", True, "stored"),
    ("an integer task id", b'{"event":"taskCreated","task_id":86,' + HOOK.encode() + b"}", True, "stored"),
    ("no object id", b'{"event":"spaceUpdated",' + HOOK.encode() + b"}", True, "stored"),
    (
        "null history",
        b'{"event":"taskDeleted","history_items":null,"task_id":"1",' + HOOK.encode() + b"}",
        True,
        "stored",
    ),
    (
        "lone surrogate in event",
        b'{"event":"taskUpdated\\ud800","task_id":"1",' + HOOK.encode() + b"}",
        True,
        "dead_letter",
    ),
    (
        "lone surrogate in history id",
        b'{"event":"taskUpdated","history_items":[{"id":"\\udfff"}],' + HOOK.encode() + b"}",
        True,
        "dead_letter",
    ),
    ("not JSON", b"not json", False, "refused"),
    ("UTF-16", GOOD.encode("utf-16"), False, "refused"),
    ("a list", b"[1, 2]", False, "refused"),
    (
        "a 5000-digit number",
        b'{"event":"taskUpdated","n":' + b"9" * 5000 + b"," + HOOK.encode() + b"}",
        False,
        "refused",
    ),
    ("100k levels", b"[" * 100_000 + b"]" * 100_000, False, "refused"),
    ("no webhook_id", b'{"event":"taskUpdated","task_id":"1"}', False, "refused"),
    ("webhook_id with a newline", b'{"event":"x","webhook_id":"abc\\n"}', False, "refused"),
    ("webhook_id a lone surrogate", b'{"event":"x","webhook_id":"\\ud800"}', False, "refused"),
    ("webhook_id 10,000 characters", b'{"event":"x","webhook_id":"' + b"a" * 10_000 + b'"}', False, "refused"),
    ("webhook_id a number", b'{"event":"x","webhook_id":12}', False, "refused"),
    (
        "70 levels",
        b'{"event":"taskUpdated","x":' + b"[" * 70 + b"]" * 70 + b"," + HOOK.encode() + b"}",
        False,
        "dead_letter",
    ),
    ("no event", b'{"task_id":"1",' + HOOK.encode() + b"}", False, "dead_letter"),
    ("blank event", b'{"event":"  ","task_id":"1",' + HOOK.encode() + b"}", False, "dead_letter"),
    ("event too long", b'{"event":"' + b"e" * 201 + b'",' + HOOK.encode() + b"}", False, "dead_letter"),
    (
        "history not a list",
        b'{"event":"taskUpdated","history_items":{"id":"1"},' + HOOK.encode() + b"}",
        False,
        "dead_letter",
    ),
    ("task id an object", b'{"event":"taskUpdated","task_id":{"id":1},' + HOOK.encode() + b"}", False, "dead_letter"),
    ("task id a boolean", b'{"event":"taskUpdated","task_id":true,' + HOOK.encode() + b"}", False, "dead_letter"),
    (
        "a later id field bad",
        b'{"event":"taskUpdated","task_id":"1","list_id":[1],' + HOOK.encode() + b"}",
        False,
        "dead_letter",
    ),
]


def gateway_status(body: bytes) -> int:
    """200 if the gateway would keep the body, else the 4xx it answers."""
    try:
        parse_envelope(body)
    except Rejected as rejected:
        return rejected.status
    return 200


def server_outcome(body: bytes) -> str:
    try:
        parsed = parse_delivery(body, 1_718_000_000_000)
    except InvalidArgument:
        return "refused"
    return "dead_letter" if parsed.problem else "stored"


@pytest.mark.parametrize(("what", "body", "accepted", "outcome"), TABLE, ids=[row[0] for row in TABLE])
def test_gateway_and_server_read_the_envelope_alike(what: str, body: bytes, accepted: bool, outcome: str) -> None:
    status = gateway_status(body)
    assert (status == 200) is accepted
    assert status == 200 or 400 <= status < 500
    assert server_outcome(body) == outcome
    # The invariant behind the table: what the gateway acknowledges, the server keeps.
    assert not (accepted and outcome == "refused")
    assert accepted or outcome != "stored"


def test_every_field_rule_of_the_table_is_seen_by_both() -> None:
    """A guard on the table itself: it must hold bodies of each outcome, on each side."""
    outcomes = {(accepted, outcome) for _, _, accepted, outcome in TABLE}
    assert outcomes == {(True, "stored"), (True, "dead_letter"), (False, "refused"), (False, "dead_letter")}
    assert json.loads(GOOD)["event"] == "taskUpdated"
