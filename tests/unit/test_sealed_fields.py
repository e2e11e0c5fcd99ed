"""The one list of sealed fields: its associated-data rules are the ones the sealing code uses."""

from __future__ import annotations

import pytest

from graph.sealed_values import INTEGRATION_SETTINGS, SEALED_FIELDS, WEBHOOK_SECRET, SealedField
from server.crypto import record_aad
from server.rotate import aad_of
from server.webhooks import secret_aad


def test_the_webhook_secret_rule_is_the_one_the_webhook_desk_seals_with() -> None:
    assert aad_of(WEBHOOK_SECRET, ("clickup", "wh-1")) == secret_aad("clickup", "wh-1")


def test_the_settings_rule_is_the_one_the_gallery_seals_with() -> None:
    # server/gallery.py seals with record_aad(org, project, name); the end-to-end check is
    # tests/integration/test_encryption_at_rest.py (rotate, then read the settings back over gRPC).
    assert aad_of(INTEGRATION_SETTINGS, ("acme", "p1", "clickup")) == record_aad("acme", "p1", "clickup")


def test_each_sealed_property_is_listed_once() -> None:
    assert len({(f.label, f.property) for f in SEALED_FIELDS}) == len(SEALED_FIELDS)
    assert len({f.name for f in SEALED_FIELDS}) == len(SEALED_FIELDS)


def test_identity_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="identified by integration, webhookId"):
        WEBHOOK_SECRET.aad_parts(("clickup",))


@pytest.mark.parametrize(
    "changes",
    [
        {"label": "Integration) DETACH DELETE (x"},
        {"property": "secret`"},
        {"identity": ("orgId", "a b")},
        {"identity": ()},
        {"key_id_property": "1kid"},
    ],
)
def test_names_spliced_into_cypher_must_be_plain_identifiers(changes: dict[str, object]) -> None:
    fields: dict[str, object] = {"name": "x", "label": "Thing", "property": "sealed", "identity": ("id",)}
    with pytest.raises(ValueError, match="plain identifiers"):
        SealedField(**{**fields, **changes})  # type: ignore[arg-type]
