"""What each plugin says to "give this webhook a new secret" before any call to the third party:
Jira's dynamic webhooks (OAuth) cannot (nor can a plugin that does not say otherwise: the test
plugin's own tests show it), and ClickUp's replacement goes to the project's own endpoint under a
fresh ``rotation`` value."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from graph.sealed_values import PREVIOUS_WEBHOOK_SECRET, WEBHOOK_SECRET
from server.errors import FailedPrecondition
from server.integrations.clickup.live_sync import ROTATION_PARAM, rotated_endpoint
from server.integrations.credentials import OAuthTokens
from server.integrations.jira.options import JiraOptions
from server.integrations.jira.plugin import JiraConfig, JiraIntegration
from server.integrations.oauth import OAuthApp
from server.integrations.settings import IntegrationSettings, WebhookTarget
from server.rotate import aad_of

TARGET = WebhookTarget.of("https://hooks.example.com", "acme", "p1", "jira")


async def test_jira_dynamic_webhooks_cannot_get_a_secret_of_their_own() -> None:
    plugin = JiraIntegration(JiraConfig(oauth_app=OAuthApp("app-id", "app-secret")))
    settings = IntegrationSettings(OAuthTokens("access-token-1234", site_id="cloud-1"), JiraOptions())
    with pytest.raises(FailedPrecondition) as refused:
        await plugin.rotate_webhook_secret(settings, TARGET, "cloud-1", TARGET.route, "new-secret")
    assert refused.value.reason == "SECRET_NOT_ROTATABLE"
    assert "client secret" in refused.value.message
    assert "app-secret" not in refused.value.message


def test_a_clickup_replacement_gets_the_projects_endpoint_with_a_fresh_rotation_value() -> None:
    endpoint = WebhookTarget.of("https://hooks.example.com/webhooks/clickup", "acme", "p1", "clickup").in_query()
    first, second = rotated_endpoint(endpoint), rotated_endpoint(rotated_endpoint(endpoint))
    assert first != second != endpoint
    for rotated in (first, second):
        parts, query = urlsplit(rotated), parse_qs(urlsplit(rotated).query)
        assert parts.path == "/webhooks/clickup"
        assert query["route"] == parse_qs(urlsplit(endpoint).query)["route"]
        assert len(query[ROTATION_PARAM]) == 1, "a rotation value replaces the last one"


def test_a_previous_secret_is_sealed_like_the_current_one() -> None:
    """So it moves from the registration to its grace-period row without being opened."""
    assert aad_of(PREVIOUS_WEBHOOK_SECRET, ("jira", "r1")) == aad_of(WEBHOOK_SECRET, ("jira", "r1"))
