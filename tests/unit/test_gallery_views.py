"""What the gallery sends to the browser and what it accepts from it, message by message."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import duration_pb2, json_format, timestamp_pb2

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


# ---------------------------------------------------------------- the integration's options


def _jira_like() -> pb.Integration:
    """An integration with every kind of option the dialog renders, and one it cannot (an object)."""
    item = pb.Integration(name="planner", display_name="Planner", configured=True)
    item.options_schema.update(
        {
            "type": "object",
            "properties": {
                "site_url": {"type": "string", "format": "uri", "description": "The site."},
                "email": {"type": "string", "description": "The account."},
                "project_keys": {
                    "type": "array",
                    "maxItems": 3,
                    "uniqueItems": True,
                    "items": {"type": "string", "pattern": "^[A-Z]+$"},
                    "description": "Projects.",
                },
                "page_size": {"type": "integer", "minimum": 1, "maximum": 100},
                "include_comments": {"type": "boolean", "description": "Comments too."},
                "mapping": {"type": "object"},
                "numbers": {"type": "array", "items": {"type": "integer"}},
                "Bad-Key": {"type": "string"},
            },
        }
    )
    item.settings.options.update({"site_url": "https://a.example", "project_keys": ["A", "B"], "page_size": 50})
    return item


def test_a_card_carries_the_options_the_form_can_edit_and_their_values() -> None:
    card = integration_card(_jira_like())
    properties = card["options_schema"]["properties"]
    # Strings, then integers, then lists, then switches; each group by name; what the form cannot show is left out.
    assert list(properties) == ["email", "site_url", "page_size", "project_keys", "include_comments"]
    assert properties["site_url"] == {"type": "string", "description": "The site.", "format": "uri"}
    assert properties["project_keys"] == {
        "type": "array",
        "items": {"type": "string", "pattern": "^[A-Z]+$"},
        "description": "Projects.",
        "maxItems": 3,
    }
    assert properties["page_size"] == {"type": "integer", "minimum": 1, "maximum": 100}  # ints, not Struct doubles
    assert card["options"] == {"site_url": "https://a.example", "project_keys": ["A", "B"], "page_size": 50}
    bare = integration_card(pb.Integration(name="clickup"))
    assert (bare["options_schema"], bare["options"]) == ({"properties": {}}, {})


def _schema() -> dict[str, Any]:
    properties: dict[str, Any] = integration_card(_jira_like())["options_schema"]["properties"]
    return properties


def test_options_are_sent_one_mask_path_each() -> None:
    body = {
        "api_token": "ATATT-token-1234",
        "options": {"site_url": " https://b.example ", "email": "me@example.com", "include_comments": True},
    }
    update = settings_update(body, _schema())
    assert update.paths == [
        "settings.api_token",
        "settings.auth_method",
        "settings.options.email",
        "settings.options.include_comments",
        "settings.options.site_url",
    ]
    options = json_format.MessageToDict(update.integration.settings.options)
    assert options == {"site_url": "https://b.example", "email": "me@example.com", "include_comments": True}


def test_an_emptied_option_is_cleared_back_to_its_default() -> None:
    update = settings_update({"options": {"email": "  ", "project_keys": [], "page_size": None}}, _schema())
    assert update.paths == [
        "settings.options.email",
        "settings.options.page_size",
        "settings.options.project_keys",
    ]
    assert not update.integration.settings.HasField("options")  # in the mask, absent from options: cleared


@pytest.mark.parametrize("keys", [["A", "B", "C"], "A, B C", " A,,B ,C ", ["A", " B", "", "C"]])
def test_a_list_option_comes_as_a_list_or_as_the_text_input(keys: Any) -> None:
    update = settings_update({"options": {"project_keys": keys}}, _schema())
    assert update.paths == ["settings.options.project_keys"]
    assert json_format.MessageToDict(update.integration.settings.options) == {"project_keys": ["A", "B", "C"]}


def test_integers_travel_as_numbers() -> None:
    update = settings_update({"options": {"page_size": 25}}, _schema())
    assert update.integration.settings.options["page_size"] == 25


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"workspace_ids": ["1"]}, "options.workspace_ids"),  # not this integration's
        ({"mapping": {}}, "options.mapping"),  # not one the form edits
        ({"include_comments": "yes"}, "options.include_comments"),
        ({"email": 5}, "options.email"),
        ({"email": "x" * 2001}, "options.email"),
        ({"project_keys": [1, 2]}, "options.project_keys"),
        ({"project_keys": "A B C D"}, "options.project_keys"),  # maxItems
        ({"project_keys": {"A": 1}}, "options.project_keys"),
        ({"page_size": 2.5}, "options.page_size"),
        ({"page_size": True}, "options.page_size"),
        ({"page_size": 0}, "options.page_size"),
        ({"page_size": 101}, "options.page_size"),
        ({"page_size": "7"}, "options.page_size"),
        (["site_url"], "options"),
    ],
)
def test_bad_options_name_their_field(options: Any, field: str) -> None:
    with pytest.raises(FormError) as refused:
        settings_update({"options": options}, _schema())
    assert refused.value.field == field


def test_without_a_schema_no_option_is_accepted() -> None:
    with pytest.raises(FormError) as refused:
        settings_update({"options": {"site_url": "https://a.example"}})
    assert refused.value.field == "options.site_url"


def test_no_changed_option_is_nothing_to_save() -> None:
    with pytest.raises(FormError) as refused:
        settings_update({"options": {}}, _schema())
    assert refused.value.field == "api_token"
