"""ClickUp in the gallery: settings rules, the connection test (``GET /user`` + ``/team``), and the
import, live sync and webhook entry points the generic runners call."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from envconfig import Config, duration, integer, url
from graph.writer import GraphWriter
from server.errors import FailedPrecondition, InvalidArgument, Unavailable
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
    RateLimitInfo,
    WebhookEvent,
    WebhookState,
    WebhookSubscription,
)
from server.integrations.clickup import fields, live_sync
from server.integrations.clickup.client import DEFAULT_BASE_URL, ClickUpClient
from server.integrations.clickup.errors import (
    ClickUpAuthError,
    ClickUpError,
    ClickUpHTTPError,
    ClickUpTransportError,
)
from server.integrations.clickup.importer import ClickUpImport, ImportFailed
from server.integrations.clickup.live_sync import apply_event
from server.integrations.clickup.oauth import DEFAULT_AUTHORIZE_URL, ClickUpOAuth
from server.integrations.clickup.options import OPTIONS_SCHEMA, ClickUpOptions, dump_options, parse_options
from server.integrations.clickup.rate_limit import LimiterPool
from server.integrations.clickup.schema import SCHEMA
from server.integrations.clickup.webhooks import parse_delivery
from server.integrations.credentials import AuthMethod, Credentials, OAuthTokens, rate_key
from server.integrations.field_map import CustomFieldInfo, FieldMap
from server.integrations.oauth import GrantRevoked, OAuthApp, OAuthProvider
from server.integrations.rate_budget import SharedBudget
from server.integrations.settings import IntegrationSettings, WebhookTarget

# Used with fullmatch: "$" would let a final "\n" through (into an HTTP header or a graph key).
_PERSONAL_TOKEN = re.compile(r"pk_[A-Za-z0-9_]{8,256}")
_OAUTH_TOKEN = re.compile(r"[\x21-\x7e]{8,512}")


@dataclass
class ClickUpSettings:
    """Server-wide ClickUp settings (not per project)."""

    api_base_url: str = DEFAULT_BASE_URL
    timeout_seconds: float = 30.0
    rate_limit_per_minute: int = 100  # per token, before ClickUp's own headers say otherwise
    limiters: LimiterPool = field(default_factory=LimiterPool)
    # The OAuth app (``CLICKUP_OAUTH_CLIENT_ID`` + secret); None: sign-in is unavailable here.
    oauth_app: OAuthApp | None = None
    oauth_authorize_url: str = DEFAULT_AUTHORIZE_URL

    @classmethod
    def from_config(cls, config: Config) -> ClickUpSettings:
        """Read from the server's environment (``CLICKUP_*``), checked at start-up."""
        rate = config("CLICKUP_RATE_LIMIT_PER_MINUTE", integer(1, 100000), default="100")
        return cls(
            api_base_url=config("CLICKUP_API_URL", url("http", "https"), default=DEFAULT_BASE_URL),
            timeout_seconds=config("CLICKUP_TIMEOUT_SECONDS", duration(0.1, 300), default="30"),
            rate_limit_per_minute=rate,
            limiters=LimiterPool(default_limit=rate),
            oauth_app=OAuthApp.from_config(config, "clickup"),
            oauth_authorize_url=config(
                "CLICKUP_OAUTH_AUTHORIZE_URL", url("http", "https"), default=DEFAULT_AUTHORIZE_URL
            ),
        )


Settings = IntegrationSettings[ClickUpOptions]


class ClickUpIntegration(Integration[ClickUpOptions]):
    name = "clickup"
    display_name = "ClickUp"
    description = "Workspaces, spaces, folders, lists, tasks, people and tags from ClickUp."
    logo_url = "https://app-cdn.clickup.com/assets/images/brand/clickup-symbol_color.svg"
    auth_methods = (AuthMethod.API_TOKEN, AuthMethod.OAUTH)
    graph_schema = SCHEMA
    options_schema = OPTIONS_SCHEMA
    webhook_scheme = "hex-hmac-body-id"
    supports_import = True
    supports_live_sync = True
    supports_incremental = True
    supports_field_mapping = True
    field_kinds = (fields.KIND,)
    reserved_properties = fields.RESERVED

    def __init__(self, settings: ClickUpSettings) -> None:
        self._settings = settings
        self._oauth = (
            ClickUpOAuth(
                settings.oauth_app,
                authorize_url=settings.oauth_authorize_url,
                api_base_url=settings.api_base_url,
                timeout_seconds=settings.timeout_seconds,
            )
            if settings.oauth_app is not None
            else None
        )

    @classmethod
    def from_config(cls, config: Config) -> ClickUpIntegration:
        return cls(ClickUpSettings.from_config(config))

    @property
    def settings(self) -> ClickUpSettings:
        return self._settings

    def client(
        self, credentials: Credentials, *, max_retries: int = 2, budget: SharedBudget | None = None
    ) -> ClickUpClient:
        return ClickUpClient(
            credentials,
            base_url=self._settings.api_base_url,
            timeout=self._settings.timeout_seconds,
            limiter=self._settings.limiters.for_token(rate_key(credentials), budget),
            max_retries=max_retries,
        )

    def oauth_provider(self) -> OAuthProvider | None:
        return self._oauth

    def _client_for(self, settings: Settings) -> ClickUpClient:
        return self.client(settings.credentials, max_retries=4, budget=settings.rate_budget)

    # -- settings

    def parse_options(self, raw: Mapping[str, Any], path: str) -> ClickUpOptions:
        return parse_options(raw, path)

    def dump_options(self, options: ClickUpOptions) -> dict[str, Any]:
        return dump_options(options)

    def validate_credentials(self, credentials: Credentials, path: str) -> None:
        if isinstance(credentials, OAuthTokens):
            if not _OAUTH_TOKEN.fullmatch(credentials.access_token):
                raise InvalidArgument(path, "must be 8-512 printable characters without spaces")
        elif not _PERSONAL_TOKEN.fullmatch(credentials.token):
            raise InvalidArgument(path, "must be a ClickUp personal token: 'pk_' then 8-256 letters, digits or '_'")

    def containers(self, options: ClickUpOptions) -> tuple[str, ...]:
        return options.workspace_ids

    def with_containers(self, options: ClickUpOptions, containers: Sequence[str]) -> ClickUpOptions:
        return replace(options, workspace_ids=tuple(containers))

    # -- webhooks

    def parse_delivery(self, delivery: Delivery) -> ParsedDelivery:
        return parse_delivery(delivery.raw_body, delivery.received_ms)

    async def apply_webhook(self, settings: Settings, writer: GraphWriter, event: WebhookEvent, run_id: str) -> str:
        async with self._client_for(settings) as client:
            return await apply_event(
                client,
                writer,
                event.event,
                event.object_id,
                event.container_id,
                settings.options.include_comments,
                run_id,
                settings.fields,
            )

    # -- live sync

    async def register_webhooks(self, settings: Settings, target: WebhookTarget) -> list[WebhookSubscription]:
        async with self._client_for(settings) as client:
            hooks = await live_sync.register_webhooks(client, list(settings.options.workspace_ids), target.in_query())
        return [WebhookSubscription(hook["id"], hook["workspace_id"], hook["secret"]) for hook in hooks]

    async def webhook_status(self, settings: Settings, container_id: str, webhook_id: str) -> WebhookState | None:
        async with self._client_for(settings) as client:
            status = await live_sync.webhook_status(client, container_id, webhook_id)
        return WebhookState(*status) if status is not None else None

    async def reactivate_webhook(self, settings: Settings, webhook_id: str) -> str | None:
        async with self._client_for(settings) as client:
            # Every event, as registered: also what turns a quiet replacement (rotate_webhook_secret) on.
            return await live_sync.reactivate_webhook(client, webhook_id, live_sync.WEBHOOK_EVENTS)

    async def rotate_webhook_secret(
        self, settings: Settings, target: WebhookTarget, container_id: str, webhook_id: str, new_secret: str
    ) -> WebhookSubscription:
        """A replacement webhook (ClickUp never changes a webhook's secret), quiet until re-activated;
        ``new_secret`` is not used: ClickUp makes the secret."""
        async with self._client_for(settings) as client:
            hook = await live_sync.create_replacement(client, container_id, target.in_query())
        return WebhookSubscription(hook["id"], hook["workspace_id"], hook["secret"])

    async def delete_webhook(self, settings: Settings, webhook_id: str) -> None:
        async with self._client_for(settings) as client:
            await live_sync.delete_webhook(client, webhook_id)

    async def repair_gap(
        self, settings: Settings, writer: GraphWriter, container_id: str, since: datetime, run_id: str
    ) -> GapRepair:
        async with self._client_for(settings) as client:
            count, newest = await live_sync.repair_gap(
                client, writer, container_id, int(since.timestamp() * 1000), run_id, settings.fields
            )
        return GapRepair(count, datetime.fromtimestamp(newest / 1000, UTC) if newest is not None else None)

    # -- custom fields

    async def custom_fields(self, settings: Settings) -> list[CustomFieldInfo]:
        async with self._client_for(settings) as client:
            try:
                return await fields.discover(client, list(settings.options.workspace_ids))
            except ClickUpAuthError as exc:
                raise FailedPrecondition(
                    f"ClickUp rejected the credentials ({exc.ecode or exc.status})", reason="AUTH_FAILED"
                ) from exc
            except ClickUpError as exc:
                raise Unavailable(f"ClickUp could not list the custom fields: {exc}", reason="PROVIDER_ERROR") from exc

    def remap_node(self, label: str, props: Mapping[str, Any], mapping: FieldMap) -> dict[str, Any] | None:
        return fields.remap(label, props, mapping)

    # -- import

    async def run_import(self, context: ImportContext[ClickUpOptions]) -> ImportOutcome:
        async with self._client_for(context.settings) as client:
            try:
                return await ClickUpImport(client, context).run()
            except ClickUpAuthError as exc:
                raise ImportFailure(f"ClickUp rejected the API token ({exc.ecode or exc.status})") from exc
            except (ClickUpError, ImportFailed) as exc:
                raise ImportFailure(str(exc)) from exc

    async def test_connection(self, settings: Settings) -> ConnectionCheck:
        started = time.monotonic()
        async with self.client(settings.credentials, budget=settings.rate_budget) as client:
            try:
                user = await client.get_user()
                teams = await client.get_teams()
            except GrantRevoked as exc:
                return ConnectionCheck(Outcome.NEEDS_REAUTHORIZATION, str(exc), time.monotonic() - started)
            except ClickUpAuthError as exc:
                return ConnectionCheck(
                    Outcome.AUTH_FAILED,
                    f"ClickUp rejected the API token ({exc.ecode or exc.status}: {exc.err or 'unauthorized'})",
                    time.monotonic() - started,
                )
            except ClickUpTransportError as exc:
                return ConnectionCheck(
                    Outcome.ERROR,
                    f"Network failure: could not reach ClickUp at {self._settings.api_base_url} ({exc})",
                    time.monotonic() - started,
                )
            except ClickUpHTTPError as exc:
                return ConnectionCheck(Outcome.ERROR, f"ClickUp error: {exc}", time.monotonic() - started)
            except ClickUpError as exc:
                return ConnectionCheck(Outcome.ERROR, f"ClickUp error: {exc}", time.monotonic() - started)
            snapshot = client.rate_limit
        wanted = set(settings.options.workspace_ids)
        visible = {t.id for t in teams}
        missing = sorted(wanted - visible)
        if missing:
            return ConnectionCheck(
                Outcome.ERROR,
                f"the token cannot see workspace(s) {', '.join(missing)}",
                time.monotonic() - started,
            )
        return ConnectionCheck(
            Outcome.CONNECTED,
            f"Connected as {user.username or user.email or user.id}; {len(teams)} workspace(s) visible",
            time.monotonic() - started,
            account=AccountInfo(str(user.id), user.username or "", user.email or ""),
            containers=[ContainerInfo(t.id, t.name, t.member_count) for t in teams],
            rate_limit=RateLimitInfo(
                snapshot.limit, snapshot.remaining, datetime.fromtimestamp(snapshot.reset_epoch, UTC)
            )
            if snapshot
            else None,
        )
