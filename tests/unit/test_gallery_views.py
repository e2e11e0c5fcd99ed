"""What the gallery sends to the browser and what it accepts from it, message by message."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import duration_pb2, timestamp_pb2

from clients.gallery.views import FormError, integration_card, settings_update
from integrations.v1 import integration_service_pb2 as pb


def test_a_card_carries_health_and_totals_but_only_the_token_hint() -> None:
    checked = timestamp_pb2.Timestamp(seconds=1_790_000_000)
    item = pb.Integration(
        name="clickup",
        display_name="ClickUp",
        enabled=True,
        configured=True,
        connection_status=pb.CONNECTION_STATUS_AUTH_FAILED,
        settings=pb.IntegrationSettings(
            api_token="pk_5****0000",
            sync_settings=pb.SyncSettings(auto_sync=True, sync_interval=duration_pb2.Duration(seconds=5400)),
        ),
        sync_state=pb.SyncState(totals={"task": 448, "space": 3}),
        webhooks=[pb.WebhookHealth(id="w1", workspace_id="9012", status="failing", fail_count=3, checked_time=checked)],
    )
    card = integration_card(item)
    assert card["connection_status"] == "auth_failed"
    assert card["settings"] == {"api_token_hint": "pk_5****0000", "auto_sync": True, "sync_interval_minutes": 90}
    assert card["totals"] == {"space": 3, "task": 448}
    assert card["webhooks"] == [
        {
            "id": "w1",
            "workspace_id": "9012",
            "status": "failing",
            "fail_count": 3,
            "checked_time": "2026-09-21T14:13:20Z",
        }
    ]
    assert card["last_import_time"] is None
    assert integration_card(pb.Integration(name="clickup"))["settings"]["api_token_hint"] == ""


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"api_token": "pk_1_abcdefgh"}, ["settings.api_token", "settings.auth_method"]),
        ({"api_token": "   ", "auto_sync": False}, ["settings.sync_settings.auto_sync"]),
        (
            {"auto_sync": True, "sync_interval_minutes": 0},
            ["settings.sync_settings.auto_sync", "settings.sync_settings.sync_interval"],
        ),
    ],
)
def test_the_form_updates_only_what_it_names(body: dict[str, Any], paths: list[str]) -> None:
    update = settings_update(body)
    assert update.paths == paths
    if "settings.api_token" in paths:
        assert update.integration.settings.auth_method == pb.AUTH_METHOD_API_TOKEN


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"api_token": 5}, "api_token"),
        ({"api_token": "x" * 513}, "api_token"),
        ({"sync_interval_minutes": True}, "sync_interval_minutes"),
        ({"sync_interval_minutes": 10081}, "sync_interval_minutes"),
        ({"api_token": ""}, "api_token"),
        ({"enabled": True}, "enabled"),
        ("settings", "body"),
    ],
)
def test_bad_forms_name_their_field(body: Any, field: str) -> None:
    with pytest.raises(FormError) as refused:
        settings_update(body)
    assert refused.value.field == field
