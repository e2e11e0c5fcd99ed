from __future__ import annotations

import pytest

from server.errors import InvalidArgument
from server.integrations.clickup.webhooks import ID_ONLY_WINDOW_MS, parse_delivery
from tests.sandbox import vectors as tv

NOW = 1_718_000_000_000


def test_history_ids_make_the_key_and_retries_share_it() -> None:
    first = parse_delivery(tv.TV9_BODY, NOW)
    retry = parse_delivery(tv.TV9_BODY, NOW + 3 * ID_ONLY_WINDOW_MS)
    assert first.dedupe_key == retry.dedupe_key == f"clickup|{tv.TV_WEBHOOK_ID}|taskStatusUpdated|4003912345678901234"
    assert (first.event, first.object_id, first.reapply_duplicate) == ("taskStatusUpdated", "86abc1xyz", False)


def test_id_only_events_dedupe_within_a_window() -> None:
    first = parse_delivery(tv.TV10_BODY, NOW)
    assert first.dedupe_key == parse_delivery(tv.TV10_BODY, NOW + 1).dedupe_key
    assert first.dedupe_key != parse_delivery(tv.TV10_BODY, NOW + ID_ONLY_WINDOW_MS).dedupe_key
    assert first.reapply_duplicate is False


def test_an_id_only_update_is_reapplied_when_it_looks_duplicate() -> None:
    body = b'{"event":"spaceUpdated","space_id":"901","webhook_id":"w"}'
    assert parse_delivery(body, NOW).reapply_duplicate is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"nope", "raw_body"),
        (b"[]", "raw_body"),
        (b'{"event":"taskCreated"}', "raw_body.webhook_id"),
        (b'{"event":"taskCreated","webhook_id":"w\\n"}', "raw_body.webhook_id"),
    ],
)
def test_bodies_that_cannot_be_routed_are_refused_naming_the_field(body: bytes, field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_delivery(body, NOW)
    assert info.value.field == field


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"webhook_id":"w"}', "MISSING_EVENT"),
        (b'{"event":"taskCreated","webhook_id":"w","history_items":{}}', "BAD_HISTORY"),
        (b'{"event":"taskCreated\\ud800","webhook_id":"w"}', "UNSTORABLE_TEXT"),
    ],
)
def test_routed_bodies_that_cannot_be_applied_are_kept_as_dead_letters(body: bytes, problem: str) -> None:
    """Refusing them would drop a verified delivery the gateway already acknowledged (issue 9, item 1)."""
    parsed = parse_delivery(body, NOW)
    assert (parsed.webhook_id, parsed.problem) == ("w", problem)
    assert parsed.problem_message
    assert parsed.dedupe_key == parse_delivery(body, NOW + 3 * ID_ONLY_WINDOW_MS).dedupe_key, "one key per body"
