"""A plugin that does not implement secret rotation (this one) refuses it clearly, through the base
class's default, before any call to its third party."""

from __future__ import annotations

import pytest

from server.errors import FailedPrecondition
from server.integrations.credentials import ApiToken
from server.integrations.settings import IntegrationSettings, WebhookTarget
from tests.tracker.options import TrackerOptions
from tests.tracker.plugin import TrackerConfig, TrackerIntegration

TARGET = WebhookTarget.of("https://hooks.example.com", "acme", "p1", "tracker")


async def test_a_plugin_that_does_not_implement_it_refuses_clearly() -> None:
    plugin = TrackerIntegration(TrackerConfig(api_base_url="http://127.0.0.1:9"))
    settings = IntegrationSettings(ApiToken("trk_abcdefgh"), TrackerOptions())
    with pytest.raises(FailedPrecondition) as refused:
        await plugin.rotate_webhook_secret(settings, TARGET, "board-1", "hook-1", "new-secret")
    assert refused.value.reason == "SECRET_NOT_ROTATABLE"
