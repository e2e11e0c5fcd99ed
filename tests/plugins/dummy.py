"""A test-only second integration: proves a plugin is one module plus one registration line."""

from __future__ import annotations

from integrations.v1 import integration_service_pb2 as pb
from server.errors import InvalidArgument
from server.integrations.base import AccountInfo, ConnectionCheck, Integration, Outcome


class DummyIntegration(Integration):
    name = "dummy"
    display_name = "Dummy"
    description = "A stand-in integration used by the test suite."
    logo_url = "https://example.com/dummy.svg"

    def validate_settings(self, settings: pb.IntegrationSettings) -> None:
        if not settings.api_token.startswith("dummy_"):
            raise InvalidArgument("settings.api_token", "must start with 'dummy_'")

    async def test_connection(self, settings: pb.IntegrationSettings) -> ConnectionCheck:
        if settings.api_token == "dummy_good_token_123":
            return ConnectionCheck(Outcome.CONNECTED, "Connected to Dummy", 0.0, AccountInfo("1", "dummy", ""))
        return ConnectionCheck(Outcome.AUTH_FAILED, "Dummy rejected the token", 0.0)
