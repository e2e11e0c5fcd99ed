"""A test-only second integration: proves a plugin is one module plus one registration line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.errors import InvalidArgument
from server.integrations.base import AccountInfo, ConnectionCheck, Integration, Outcome
from server.integrations.credentials import Credentials
from server.integrations.settings import IntegrationSettings


class DummyIntegration(Integration[None]):
    name = "dummy"
    display_name = "Dummy"
    description = "A stand-in integration used by the test suite."
    logo_url = "https://example.com/dummy.svg"

    def parse_options(self, raw: Mapping[str, Any], path: str) -> None:
        for key in raw:
            raise InvalidArgument(f"{path}.{key}", "Dummy has no options")

    def dump_options(self, options: None) -> dict[str, Any]:
        return {}

    def validate_credentials(self, credentials: Credentials, path: str) -> None:
        if not credentials.secret.startswith("dummy_"):
            raise InvalidArgument(path, "must start with 'dummy_'")

    async def test_connection(self, settings: IntegrationSettings[None]) -> ConnectionCheck:
        if settings.credentials.secret == "dummy_good_token_123":
            return ConnectionCheck(Outcome.CONNECTED, "Connected to Dummy", 0.0, AccountInfo("1", "dummy", ""))
        return ConnectionCheck(Outcome.AUTH_FAILED, "Dummy rejected the token", 0.0)
