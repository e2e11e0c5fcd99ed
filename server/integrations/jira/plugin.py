"""Jira Cloud as an integration: a site is its container; issues, projects, people, components,
versions, boards and sprints its records. It connects with an API token (basic auth ``email:token``
on the site host, §2.1), imports, and keeps the graph live through admin webhooks (``live_sync.py``)."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from envconfig import Config, duration
from graph.writer import GraphWriter
from server.errors import FailedPrecondition, InvalidArgument
from server.integrations.base import (
    AccountInfo,
    ConnectionCheck,
    ContainerInfo,
    Delivery,
    GapRepair,
    ImportContext,
    ImportFailure,
    ImportOutcome,
    Integration,
    Outcome,
    ParsedDelivery,
    WebhookEvent,
    WebhookState,
    WebhookSubscription,
)
from server.integrations.credentials import ApiToken, Credentials
from server.integrations.jira import live_sync
from server.integrations.jira.client import JiraClient
from server.integrations.jira.errors import JiraAuthError, JiraError
from server.integrations.jira.importer import JiraImport
from server.integrations.jira.options import OPTIONS_SCHEMA, JiraOptions, dump_options, parse_options
from server.integrations.jira.schema import SCHEMA
from server.integrations.jira.webhooks import SiteFacts, apply_event, parse_delivery
from server.integrations.settings import IntegrationSettings, WebhookTarget

_TOKEN = re.compile(r"[\x21-\x7e]{8,512}")
Settings = IntegrationSettings[JiraOptions]
T = TypeVar("T")


@dataclass(frozen=True)
class JiraConfig:
    """Server-wide settings of the plugin (not per project)."""

    timeout_seconds: float = 30.0

    @classmethod
    def from_config(cls, config: Config) -> JiraConfig:
        return cls(timeout_seconds=config("JIRA_TIMEOUT_SECONDS", duration(0.1, 300), default="30"))


class JiraIntegration(Integration[JiraOptions]):
    name = "jira"
    display_name = "Jira"
    description = (
        "Projects, issues, epics and subtasks, people, components, versions, boards and sprints from Jira Cloud."
    )
    logo_url = "https://wac-cdn.atlassian.com/assets/img/favicons/atlassian/favicon.png"
    graph_schema = SCHEMA
    options_schema = OPTIONS_SCHEMA
    supports_import = True
    supports_live_sync = True
    webhook_scheme = "hub-sha256-route"

    def __init__(self, config: JiraConfig) -> None:
        self._config = config
        self._sites: dict[str, SiteFacts] = {}  # per site URL: cloud id and field ids, read once

    @classmethod
    def from_config(cls, config: Config) -> JiraIntegration:
        return cls(JiraConfig.from_config(config))

    def client(self, settings: Settings) -> JiraClient:
        options, credentials = settings.options, settings.credentials
        if not options.site_url or not options.email:
            raise ImportFailure("set settings.options.site_url and settings.options.email to sign in with an API token")
        assert isinstance(credentials, ApiToken)  # validate_credentials lets no other kind in
        return JiraClient.for_site(
            options.site_url, options.email, credentials.token, timeout=self._config.timeout_seconds
        )

    # -- settings

    def parse_options(self, raw: Mapping[str, Any], path: str) -> JiraOptions:
        return parse_options(raw, path)

    def dump_options(self, options: JiraOptions) -> dict[str, Any]:
        return dump_options(options)

    def validate_credentials(self, credentials: Credentials, path: str) -> None:
        if not isinstance(credentials, ApiToken) or not _TOKEN.fullmatch(credentials.token):
            raise InvalidArgument(path, "must be an Atlassian API token (8-512 printable characters, no spaces)")

    def containers(self, options: JiraOptions) -> tuple[str, ...]:
        return ()

    def with_containers(self, options: JiraOptions, containers: Sequence[str]) -> JiraOptions:
        return replace(options)

    def _site(self, settings: Settings) -> SiteFacts:
        return self._sites.setdefault(settings.options.site_url, SiteFacts())

    # -- live sync

    async def register_webhooks(self, settings: Settings, target: WebhookTarget) -> list[WebhookSubscription]:
        url = target.in_path()
        async with self.client(settings) as client:
            cloud_id = await self._site(settings).cloud_id(client)
            name = f"knowledge graph {target.route}"
            secret = await self._live(live_sync.register(client, url, settings.options, name))
        return [WebhookSubscription(live_sync.route_key(url), cloud_id, secret)]

    async def webhook_status(self, settings: Settings, container_id: str, webhook_id: str) -> WebhookState | None:
        async with self.client(settings) as client:
            return await self._live(live_sync.status(client, webhook_id))

    async def reactivate_webhook(self, settings: Settings, webhook_id: str) -> None:
        async with self.client(settings) as client:
            await self._live(live_sync.reactivate(client, webhook_id))

    async def delete_webhook(self, settings: Settings, webhook_id: str) -> None:
        async with self.client(settings) as client:
            await self._live(live_sync.delete(client, webhook_id))

    async def repair_gap(
        self, settings: Settings, writer: GraphWriter, container_id: str, since: datetime, run_id: str
    ) -> GapRepair:
        async with self.client(settings) as client:
            return await self._live(
                live_sync.repair_gap(client, writer, self._site(settings), settings.options, since, run_id)
            )

    @staticmethod
    async def _live(call: Awaitable[T]) -> T:
        """Live-sync calls fail as clear FAILED_PRECONDITIONs, never as an internal error."""
        try:
            return await call
        except live_sync.NotAnAdministrator as exc:
            raise FailedPrecondition(str(exc), reason="JIRA_ADMIN_REQUIRED") from None
        except JiraAuthError:
            raise FailedPrecondition("Jira rejected the credentials", reason="AUTH_FAILED") from None
        except JiraError as exc:
            raise FailedPrecondition(f"Jira error: {exc}", reason="PROVIDER_ERROR") from None

    # -- webhooks

    def parse_delivery(self, delivery: Delivery) -> ParsedDelivery:
        return parse_delivery(delivery)

    async def apply_webhook(self, settings: Settings, writer: GraphWriter, event: WebhookEvent, run_id: str) -> str:
        site = self._site(settings)
        async with self.client(settings) as client:
            return await apply_event(client, writer, event, run_id, site, settings.options)

    async def test_connection(self, settings: Settings) -> ConnectionCheck:
        started = time.monotonic()
        try:
            async with self.client(settings) as client:
                me = await client.myself()
                tenant = await client.get("/_edge/tenant_info")
        except ImportFailure as exc:
            return ConnectionCheck(Outcome.ERROR, str(exc), time.monotonic() - started)
        except JiraAuthError:
            return ConnectionCheck(
                Outcome.AUTH_FAILED, "Jira rejected the email and API token", time.monotonic() - started
            )
        except JiraError as exc:
            return ConnectionCheck(Outcome.ERROR, f"Jira error: {exc}", time.monotonic() - started)
        cloud_id = str(tenant.get("cloudId") or "") if isinstance(tenant, dict) else ""
        site = settings.options.site_url
        return ConnectionCheck(
            Outcome.CONNECTED,
            f"Connected to {site} as {me.display_name or me.account_id}",
            time.monotonic() - started,
            account=AccountInfo(me.account_id, me.display_name or "", me.email or ""),
            containers=[ContainerInfo(cloud_id, site, 0)] if cloud_id else [],
        )

    # -- import

    async def run_import(self, context: ImportContext[JiraOptions]) -> ImportOutcome:
        async with self.client(context.settings) as client:
            try:
                return await JiraImport(client, context, context.settings.options.site_url).run()
            except JiraAuthError as exc:
                raise ImportFailure("Jira rejected the email and API token") from exc
            except JiraError as exc:
                raise ImportFailure(str(exc)) from exc
