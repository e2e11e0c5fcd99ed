"""Settings on the wire and at rest: one sealed, versioned blob; options as a Struct with real paths."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from integrations.v1 import integration_service_pb2 as pb
from server import settings_codec as codec
from server.crypto import DecryptionError, KeyRing, generate_key_spec
from server.errors import InvalidArgument
from server.integrations.clickup.options import ClickUpOptions
from server.integrations.clickup.plugin import ClickUpIntegration, ClickUpSettings
from server.integrations.credentials import ApiToken, OAuthTokens
from server.integrations.settings import IntegrationSettings, SyncPolicy

PLUGIN = ClickUpIntegration(ClickUpSettings())
TOKEN = "pk_4242_SECRETSECRETSECRET"
KEYS = KeyRing.from_spec(generate_key_spec("k1"))


def opened(sealed: str, org: str = "org", project: str = "proj") -> Any:
    return codec.unseal(KEYS.open(sealed, codec.aad(org, project, PLUGIN.name)), PLUGIN)


def test_sealed_settings_round_trip_as_one_versioned_blob() -> None:
    settings = IntegrationSettings(
        OAuthTokens("access-123456", "refresh-abcdef", datetime(2027, 1, 1, tzinfo=UTC), ("task:read",), "u1", "s1"),
        ClickUpOptions(("1", "22"), True),
        SyncPolicy(True, 900),
    )
    sealed = codec.seal(KEYS, PLUGIN, "org", "proj", settings)
    assert "access-123456" not in sealed
    assert "refresh" not in sealed
    assert opened(sealed) == settings


def test_a_blob_sealed_for_another_record_does_not_open() -> None:
    sealed = codec.seal(KEYS, PLUGIN, "org", "proj", IntegrationSettings(ApiToken(TOKEN), ClickUpOptions()))
    with pytest.raises(DecryptionError):
        opened(sealed, project="other")


def test_settings_sealed_in_the_old_wire_format_still_open() -> None:
    old = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=TOKEN)
    old.data_mapping.workspace_ids.extend(["7", "8"])
    old.data_mapping.include_comments = True
    old.sync_settings.auto_sync = True
    old.sync_settings.sync_interval.seconds = 600
    settings = codec.unseal(old.SerializeToString(deterministic=True), PLUGIN)
    assert settings == IntegrationSettings(ApiToken(TOKEN), ClickUpOptions(("7", "8"), True), SyncPolicy(True, 600))


@pytest.mark.parametrize(
    "plaintext",
    [
        b'{"format": 3}',
        b'{"format": 2, "options_version": 1, "options": {}, "credentials": {"kind": "password"}}',
        b'{"format": 2, "options_version": 9, "options": {}, "credentials": {"kind": "api_token", "token": "x"}}',
        b'{"format": 2, "options_version": 1, "options": {"colour": 1}, '
        b'"credentials": {"kind": "api_token", "token": "x"}}',
        b"\xff\xfe not a message",
    ],
)
def test_a_blob_that_is_not_these_settings_is_unreadable_without_showing_it(plaintext: bytes) -> None:
    with pytest.raises(codec.SettingsUnreadable) as refused:
        codec.unseal(plaintext, PLUGIN)
    assert '"x"' not in str(refused.value)


def test_older_options_are_upgraded_by_the_plugin() -> None:
    class Renamed(ClickUpIntegration):
        options_version = 2

        def upgrade_options(self, version: int, raw: dict[str, Any]) -> dict[str, Any]:
            assert version == 1
            return {"workspace_ids": raw.get("teams", [])}

    blob = (
        b'{"format": 2, "options_version": 1, "options": {"teams": ["5"]}, '
        b'"credentials": {"kind": "api_token", "token": "pk_1_abcdefgh"}}'
    )
    assert codec.unseal(blob, Renamed(ClickUpSettings())).options == ClickUpOptions(("5",))


def test_responses_carry_options_and_the_older_spelling_with_the_secret_masked() -> None:
    settings = IntegrationSettings(ApiToken(TOKEN), ClickUpOptions(("1",), True), SyncPolicy(True, 900))
    wire = codec.to_wire(PLUGIN, settings)
    assert wire.api_token == "pk_4****CRET"
    assert codec.struct_dict(wire.options) == {"workspace_ids": ["1"], "include_comments": True}
    assert list(wire.data_mapping.workspace_ids) == ["1"]
    assert wire.data_mapping.include_comments
    assert wire.sync_settings.sync_interval.seconds == 900


def message(**options: Any) -> pb.IntegrationSettings:
    wire = pb.IntegrationSettings(auth_method=pb.AUTH_METHOD_API_TOKEN, api_token=TOKEN)
    wire.options.update(options)
    return wire


@pytest.mark.parametrize(
    ("wire", "field"),
    [
        (message(workspace_ids=["1", "x"]), "settings.options.workspace_ids[1]"),
        (message(workspace_ids=["1", 2]), "settings.options.workspace_ids[1]"),
        (message(workspace_ids="1"), "settings.options.workspace_ids"),
        (message(include_comments="yes"), "settings.options.include_comments"),
        (message(colour="red"), "settings.options.colour"),
    ],
)
def test_option_errors_name_the_real_path(wire: pb.IntegrationSettings, field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        codec.from_wire(PLUGIN, wire)
    assert refused.value.field == field


def test_errors_in_the_older_spelling_name_its_path() -> None:
    wire = pb.IntegrationSettings(api_token=TOKEN)
    wire.data_mapping.workspace_ids.append("abc")
    with pytest.raises(InvalidArgument) as refused:
        codec.from_wire(PLUGIN, wire)
    assert refused.value.field == "settings.data_mapping.workspace_ids[0]"


def test_a_round_tripped_message_takes_the_spelling_that_was_edited() -> None:
    stored = IntegrationSettings(ApiToken(TOKEN), ClickUpOptions(("1",)))
    old_client = codec.to_wire(PLUGIN, stored)
    old_client.data_mapping.workspace_ids[:] = ["2"]
    assert codec.from_wire(PLUGIN, old_client, current=stored).options.workspace_ids == ("2",)
    new_client = codec.to_wire(PLUGIN, stored)
    new_client.options.update({"workspace_ids": ["3"]})
    assert codec.from_wire(PLUGIN, new_client, current=stored).options.workspace_ids == ("3",)


def test_the_masked_hint_keeps_the_whole_stored_token_set() -> None:
    tokens = OAuthTokens("access-123456789012345", "refresh-1", None, ("a",), "acct", "site")
    stored = IntegrationSettings(tokens, ClickUpOptions())
    sent_back = codec.to_wire(PLUGIN, stored)
    assert codec.from_wire(PLUGIN, sent_back, current=stored).credentials == tokens
    replaced = replace(stored, credentials=ApiToken(TOKEN))
    assert codec.from_wire(PLUGIN, message(), current=stored).credentials == replaced.credentials


def test_an_auth_method_the_plugin_lacks_is_refused_by_name() -> None:
    with pytest.raises(InvalidArgument) as refused:
        codec.from_wire(PLUGIN, pb.IntegrationSettings(auth_method=7, api_token=TOKEN))  # type: ignore[arg-type]
    assert refused.value.field == "settings.auth_method"
