"""Jira Cloud as an integration: a site is its container; issues, projects, people, components,
versions, boards and sprints its records; an issue's custom fields become properties the project may
rename, retype or skip (``fields.py``). It connects with an API token (basic auth ``email:token``
on the site host, §2.1) or by signing in (OAuth 2.0 3LO: the gateway ``api.atlassian.com/ex/jira/
{cloudId}`` with rotating refresh tokens, ``oauth.py``), imports, and keeps the graph live through
admin webhooks (API token, ``live_sync.py``) or dynamic webhooks (OAuth, ``dynamic_webhooks.py``)."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from envconfig import Config, duration, url
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
    WebhookEvent,
    WebhookState,
    WebhookSubscription,
)
from server.integrations.credentials import ApiToken, AuthMethod, Credentials, OAuthAuth, OAuthTokens
from server.integrations.field_map import CustomFieldInfo, FieldMap
from server.integrations.jira import dynamic_webhooks, fields, live_sync
from server.integrations.jira.client import JiraClient
from server.integrations.jira.errors import (
    JiraAuthError,
    JiraError,
    JiraOAuthAppRejected,
    JiraScopeError,
    JiraSiteNotGranted,
)
from server.integrations.jira.importer import JiraImport
from server.integrations.jira.oauth import (
    DEFAULT_API_URL,
    DEFAULT_AUTHORIZE_URL,
    DEFAULT_TOKEN_URL,
    JiraOAuth,
    JiraSite,
    site_for,
)
from server.integrations.jira.options import OPTIONS_SCHEMA, JiraOptions, dump_options, parse_options
from server.integrations.jira.schema import SCHEMA
from server.integrations.jira.webhooks import SiteFacts, apply_event, parse_delivery
from server.integrations.oauth import GrantRevoked, OAuthApp, OAuthProvider
from server.integrations.settings import IntegrationSettings, WebhookTarget

_TOKEN = re.compile(r"[\x21-\x7e]{8,512}")
_OAUTH_TOKEN = re.compile(r"[\x21-\x7e]{8,4096}")
Settings = IntegrationSettings[JiraOptions]
T = TypeVar("T")


@dataclass(frozen=True)
class JiraConfig:
    """Server-wide settings of the plugin (not per project)."""

    timeout_seconds: float = 30.0
    # The OAuth app (``JIRA_OAUTH_CLIENT_ID`` + secret); None: sign-in is unavailable here.
    oauth_app: OAuthApp | None = None
    oauth_authorize_url: str = DEFAULT_AUTHORIZE_URL
    oauth_token_url: str = DEFAULT_TOKEN_URL
    api_url: str = DEFAULT_API_URL  # api.atlassian.com: accessible-resources and the /ex/jira gateway

    @classmethod
    def from_config(cls, config: Config) -> JiraConfig:
        web = url("http", "https")
        return cls(
            timeout_seconds=config("JIRA_TIMEOUT_SECONDS", duration(0.1, 300), default="30"),
            oauth_app=OAuthApp.from_config(config, "jira"),
            oauth_authorize_url=config("JIRA_OAUTH_AUTHORIZE_URL", web, default=DEFAULT_AUTHORIZE_URL),
            oauth_token_url=config("JIRA_OAUTH_TOKEN_URL", web, default=DEFAULT_TOKEN_URL),
            api_url=config("JIRA_API_URL", web, default=DEFAULT_API_URL),
        )


def _hook_name(route: str) -> str:
    """An admin webhook's name in Jira's list: the route is also the last segment of its URL."""
    return f"knowledge graph {route}"


class JiraIntegration(Integration[JiraOptions]):
    name = "jira"
    display_name = "Jira"
    description = (
        "Projects, issues, epics and subtasks, people, components, versions, boards and sprints from Jira Cloud."
    )
    logo_url = "https://wac-cdn.atlassian.com/assets/img/favicons/atlassian/favicon.png"
    auth_methods = (AuthMethod.API_TOKEN, AuthMethod.OAUTH)
    graph_schema = SCHEMA
    options_schema = OPTIONS_SCHEMA
    supports_import = True
    supports_incremental = True
    supports_live_sync = True
    supports_field_mapping = True
    field_kinds = (fields.KIND,)
    reserved_properties = fields.RESERVED
    webhook_scheme = "hub-sha256-or-jwt-route"  # admin webhooks sign the body; OAuth apps' dynamic ones send a JWT

    def __init__(self, config: JiraConfig) -> None:
        self._config = config
        self._sites: dict[str, SiteFacts] = {}  # per site (URL or cloud id): cloud id and field ids, read once
        self._granted: dict[str, JiraSite] = {}  # OAuth sites by cloud id, as accessible-resources named them
        self._oauth = (
            JiraOAuth(
                config.oauth_app,
                authorize_url=config.oauth_authorize_url,
                token_url=config.oauth_token_url,
                api_url=config.api_url,
                timeout_seconds=config.timeout_seconds,
            )
            if config.oauth_app is not None
            else None
        )

    @classmethod
    def from_config(cls, config: Config) -> JiraIntegration:
        return cls(JiraConfig.from_config(config))

    async def client(self, settings: Settings) -> JiraClient:
        """The site host with basic auth (API token), or the gateway for the granted site (OAuth)."""
        options, credentials = settings.options, settings.credentials
        if isinstance(credentials, OAuthTokens):
            cloud_id = credentials.site_id or (await self._granted_site(credentials, options.site_url)).id
            auth = self.oauth_auth(settings, credentials)
            return JiraClient.for_gateway(self._config.api_url, cloud_id, auth, timeout=self._config.timeout_seconds)
        if not options.site_url or not options.email:
            raise ImportFailure("set settings.options.site_url and settings.options.email to sign in with an API token")
        assert isinstance(credentials, ApiToken)  # validate_credentials lets no other kind in
        return JiraClient.for_site(
            options.site_url, options.email, credentials.token, timeout=self._config.timeout_seconds
        )

    async def _granted_site(self, tokens: OAuthTokens, site_url: str) -> JiraSite:
        """The site a grant covers: the one accessible-resources lists (the user picked it on the consent
        page), or, for a grant of several, the one ``site_url`` names."""
        known = self._granted.get(tokens.site_id)
        if known is not None:
            return known
        if self._oauth is None:
            raise ImportFailure("Jira sign-in is not configured on this server (JIRA_OAUTH_CLIENT_ID)")
        try:
            site = site_for(await self._oauth.accessible_resources(tokens.access_token), site_url)
        except JiraSiteNotGranted as exc:
            raise ImportFailure(str(exc)) from exc
        self._granted[site.id] = site
        return site

    async def _site_url(self, settings: Settings, client: JiraClient) -> str:
        """The site's URL for the graph: the options', else what the grant's accessible-resources says."""
        credentials = settings.credentials
        if settings.options.site_url or not isinstance(credentials, OAuthTokens) or client.cloud_id is None:
            return settings.options.site_url
        cached = self._granted.get(client.cloud_id)
        if cached is not None:
            return cached.url
        # The client's own auth holds the token set as it is now (refreshed by the calls made so far).
        current = client.auth.tokens if isinstance(client.auth, OAuthAuth) else credentials
        return (await self._granted_site(replace(current, site_id=""), "")).url if self._oauth else ""

    def oauth_provider(self) -> OAuthProvider | None:
        return self._oauth

    async def refresh_tokens(self, tokens: OAuthTokens) -> OAuthTokens:
        if self._oauth is None:
            # The grant may be fine: this server lacks the app credentials (no reason to pause the project).
            raise JiraOAuthAppRejected("cannot refresh Jira tokens here: set JIRA_OAUTH_CLIENT_ID and its secret")
        return await self._oauth.refresh(tokens)

    # -- settings

    def parse_options(self, raw: Mapping[str, Any], path: str) -> JiraOptions:
        return parse_options(raw, path)

    def dump_options(self, options: JiraOptions) -> dict[str, Any]:
        return dump_options(options)

    def validate_credentials(self, credentials: Credentials, path: str) -> None:
        if isinstance(credentials, OAuthTokens):
            if not _OAUTH_TOKEN.fullmatch(credentials.access_token):
                raise InvalidArgument(path, "must be an OAuth access token (8-4096 printable characters, no spaces)")
        elif not isinstance(credentials, ApiToken) or not _TOKEN.fullmatch(credentials.token):
            raise InvalidArgument(path, "must be an Atlassian API token (8-512 printable characters, no spaces)")

    def containers(self, options: JiraOptions) -> tuple[str, ...]:
        return ()

    def with_containers(self, options: JiraOptions, containers: Sequence[str]) -> JiraOptions:
        return replace(options)

    def _site(self, settings: Settings, client: JiraClient) -> SiteFacts:
        key = client.cloud_id or settings.options.site_url
        return self._sites.setdefault(key, SiteFacts(client.cloud_id))

    # -- live sync

    async def register_webhooks(self, settings: Settings, target: WebhookTarget) -> list[WebhookSubscription]:
        """An admin webhook with a secret of ours (API token), or a dynamic webhook (OAuth), whose
        deliveries carry a JWT signed with the app's client secret: that secret is what verifies them."""
        url = target.in_path()
        async with await self.client(settings) as client:
            cloud_id = await self._site(settings, client).cloud_id(client)
            if self._dynamic(settings):
                assert self._config.oauth_app is not None  # _dynamic says so
                await self._live(dynamic_webhooks.register(client, url, settings.options))
                secret = self._config.oauth_app.client_secret
            else:
                secret = await self._live(live_sync.register(client, url, settings.options, _hook_name(target.route)))
        return [WebhookSubscription(live_sync.route_key(url), cloud_id, secret)]

    def _dynamic(self, settings: Settings) -> bool:
        """OAuth-connected projects register dynamic webhooks (only apps may, and they may not use the
        admin API's secret-signed ones)."""
        return isinstance(settings.credentials, OAuthTokens) and self._config.oauth_app is not None

    async def webhook_status(self, settings: Settings, container_id: str, webhook_id: str) -> WebhookState | None:
        async with await self.client(settings) as client:
            if self._dynamic(settings):
                return await self._live(dynamic_webhooks.status(client, webhook_id))
            return await self._live(live_sync.status(client, webhook_id))

    async def reactivate_webhook(self, settings: Settings, webhook_id: str) -> str | None:
        async with await self.client(settings) as client:
            if self._dynamic(settings):
                hooks = await self._live(dynamic_webhooks.listed(client, webhook_id))
                if hooks:
                    await self._live(dynamic_webhooks.refresh(client, [hook.id for hook in hooks]))
                return None  # signed with the app's client secret, which does not change here
            return await self._live(live_sync.reactivate(client, webhook_id, settings.options, _hook_name(webhook_id)))

    async def rotate_webhook_secret(
        self, settings: Settings, target: WebhookTarget, container_id: str, webhook_id: str, new_secret: str
    ) -> WebhookSubscription:
        """An admin webhook is re-armed in place: its whole registration PUT with ``new_secret``. A
        dynamic webhook's deliveries are signed with the OAuth app's client secret, shared by every
        project the app serves: no project can be given a secret of its own."""
        if self._dynamic(settings):
            raise FailedPrecondition(
                "this project's Jira webhook was registered by the OAuth app, and Jira signs its deliveries with "
                "the app's client secret, which is shared by every project and cannot be regenerated per project "
                "(rotate it in the Atlassian developer console and in JIRA_OAUTH_CLIENT_SECRET instead)",
                reason="SECRET_NOT_ROTATABLE",
            )
        async with await self.client(settings) as client:
            rearmed = await self._live(
                live_sync.rearm(client, webhook_id, settings.options, _hook_name(webhook_id), new_secret)
            )
        if not rearmed:
            raise FailedPrecondition(
                f"Jira no longer has webhook {webhook_id}; the live-sync check registers a new one",
                reason="WEBHOOK_GONE",
            )
        return WebhookSubscription(webhook_id, container_id, new_secret)

    async def delete_webhook(self, settings: Settings, webhook_id: str) -> None:
        async with await self.client(settings) as client:
            if self._dynamic(settings):
                await self._live(dynamic_webhooks.delete(client, webhook_id))
            else:
                await self._live(live_sync.delete(client, webhook_id))

    async def repair_gap(
        self, settings: Settings, writer: GraphWriter, container_id: str, since: datetime, run_id: str
    ) -> GapRepair:
        async with await self.client(settings) as client:
            return await self._live(
                live_sync.repair_gap(
                    client, writer, self._site(settings, client), settings.options, since, run_id, settings.fields
                )
            )

    @staticmethod
    async def _live(call: Awaitable[T]) -> T:
        """Live-sync calls fail as clear FAILED_PRECONDITIONs, never as an internal error."""
        try:
            return await call
        except live_sync.NotAnAdministrator as exc:
            raise FailedPrecondition(str(exc), reason="JIRA_ADMIN_REQUIRED") from None
        except JiraAuthError as exc:
            raise FailedPrecondition(f"Jira rejected the credentials: {exc}", reason="AUTH_FAILED") from None
        except JiraError as exc:
            raise FailedPrecondition(f"Jira error: {exc}", reason="PROVIDER_ERROR") from None

    # -- webhooks

    def parse_delivery(self, delivery: Delivery) -> ParsedDelivery:
        return parse_delivery(delivery)

    async def apply_webhook(self, settings: Settings, writer: GraphWriter, event: WebhookEvent, run_id: str) -> str:
        async with await self.client(settings) as client:
            site = self._site(settings, client)
            return await apply_event(client, writer, event, run_id, site, settings.options, settings.fields)

    # -- custom fields

    async def custom_fields(self, settings: Settings) -> list[CustomFieldInfo]:
        """The site's custom fields (``GET /rest/api/3/field``); the list read also refreshes the one
        events are transformed with, so a field just added in Jira reaches them at once."""
        try:
            async with await self.client(settings) as client:
                site_fields, found = fields.discover(await client.get("/rest/api/3/field"))
                self._site(settings, client).remember(site_fields)
                return found
        except GrantRevoked as exc:
            raise FailedPrecondition(str(exc), reason="NEEDS_REAUTHORIZATION") from exc
        except ImportFailure as exc:  # the settings cannot reach a site (no URL or email, site not granted)
            raise FailedPrecondition(str(exc), reason="NOT_CONFIGURED") from exc
        except JiraAuthError as exc:
            raise FailedPrecondition(self._refused(settings, exc), reason="AUTH_FAILED") from exc
        except JiraError as exc:
            raise Unavailable(f"Jira could not list the custom fields: {exc}", reason="PROVIDER_ERROR") from exc

    def remap_node(self, label: str, props: Mapping[str, Any], mapping: FieldMap) -> dict[str, Any] | None:
        return fields.remap(label, props, mapping)

    async def test_connection(self, settings: Settings) -> ConnectionCheck:
        started = time.monotonic()
        try:
            async with await self.client(settings) as client:
                me = await client.myself()
                cloud_id = await self._site(settings, client).cloud_id(client)
                site = await self._site_url(settings, client)
        except GrantRevoked as exc:
            return ConnectionCheck(Outcome.NEEDS_REAUTHORIZATION, str(exc), time.monotonic() - started)
        except ImportFailure as exc:
            return ConnectionCheck(Outcome.ERROR, str(exc), time.monotonic() - started)
        except JiraAuthError as exc:
            return ConnectionCheck(Outcome.AUTH_FAILED, self._refused(settings, exc), time.monotonic() - started)
        except JiraError as exc:
            return ConnectionCheck(Outcome.ERROR, f"Jira error: {exc}", time.monotonic() - started)
        return ConnectionCheck(
            Outcome.CONNECTED,
            f"Connected to {site} as {me.display_name or me.account_id}",
            time.monotonic() - started,
            account=AccountInfo(me.account_id, me.display_name or "", me.email or ""),
            containers=[ContainerInfo(cloud_id, site, 0)] if cloud_id else [],
        )

    @staticmethod
    def _refused(settings: Settings, error: JiraAuthError) -> str:
        if isinstance(error, JiraScopeError):
            return f"{error}; sign in again to grant it"
        if isinstance(settings.credentials, OAuthTokens):
            return "Jira rejected the OAuth grant; sign in again"
        return "Jira rejected the email and API token"

    # -- import

    async def run_import(self, context: ImportContext[JiraOptions]) -> ImportOutcome:
        async with await self.client(context.settings) as client:
            try:
                site_url = await self._site_url(context.settings, client)
                return await JiraImport(client, context, site_url).run()
            except JiraAuthError as exc:
                raise ImportFailure(self._refused(context.settings, exc)) from exc
            except JiraError as exc:
                raise ImportFailure(str(exc)) from exc
