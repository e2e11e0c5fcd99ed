"""The "Tracker" integration: a test-only second plugin, proving an integration is one package
plus one registry line (``registry.py``). Boards are its containers; cards and checklist items
its records. Projects connect with an API token or by signing in (OAuth, ``oauth.py``: expiring
access tokens, rotating refresh tokens)."""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from envconfig import Config, duration, url
from graph.rows import Rows
from graph.writer import GraphWriter
from server.errors import InvalidArgument
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
from server.integrations.credentials import ApiToken, AuthMethod, Credentials, HeaderAuth, OAuthTokens
from server.integrations.oauth import GrantRevoked, OAuthApp, OAuthProvider
from server.integrations.settings import IntegrationSettings, WebhookTarget
from tests.tracker import transform, webhooks
from tests.tracker.client import TrackerAuthError, TrackerClient, TrackerError, TrackerNotFound
from tests.tracker.importer import TrackerImport, newest
from tests.tracker.oauth import TrackerOAuth, TrackerOAuthError
from tests.tracker.options import OPTIONS_SCHEMA, TrackerOptions, dump_options, parse_options
from tests.tracker.schema import SCHEMA

_TOKEN = re.compile(r"trk_[A-Za-z0-9]{8,64}")
_OAUTH_TOKEN = re.compile(r"[\x21-\x7e]{8,4096}")  # opaque: printable, no spaces
Settings = IntegrationSettings[TrackerOptions]


@dataclass(frozen=True)
class TrackerConfig:
    """Server-wide settings of the plugin (not per project)."""

    api_base_url: str
    timeout_seconds: float = 10.0
    # The OAuth app (``TRACKER_OAUTH_CLIENT_ID`` + secret); None: sign-in is unavailable here.
    oauth_app: OAuthApp | None = None
    oauth_authorize_url: str = ""
    oauth_token_url: str = ""

    @classmethod
    def from_config(cls, config: Config) -> TrackerConfig:
        """Read from the server's environment (``TRACKER_*``), checked at start-up. The OAuth
        endpoints default to ``/oauth/authorize`` and ``/oauth/token`` on the API's host."""
        api = config("TRACKER_API_URL", url("http", "https"))
        root = api.rstrip("/")
        return cls(
            api_base_url=api,
            timeout_seconds=config("TRACKER_TIMEOUT_SECONDS", duration(0.1, 300), default="10"),
            oauth_app=OAuthApp.from_config(config, "tracker"),
            oauth_authorize_url=config(
                "TRACKER_OAUTH_AUTHORIZE_URL", url("http", "https"), default=f"{root}/oauth/authorize"
            ),
            oauth_token_url=config("TRACKER_OAUTH_TOKEN_URL", url("http", "https"), default=f"{root}/oauth/token"),
        )


def _route_key(url: str) -> str:
    return urlsplit(url).path.rstrip("/").rpartition("/")[2]


class TrackerIntegration(Integration[TrackerOptions]):
    name = "tracker"
    display_name = "Tracker"
    description = "Boards, cards and checklist items from Tracker (a test-only integration)."
    logo_url = "https://tracker.invalid/logo.svg"
    graph_schema = SCHEMA
    options_schema = OPTIONS_SCHEMA
    webhook_scheme = "hub-sha256-route"
    auth_methods = (AuthMethod.API_TOKEN, AuthMethod.OAUTH)
    supports_import = True
    supports_live_sync = True

    def __init__(self, config: TrackerConfig) -> None:
        self._config = config
        self._oauth = (
            TrackerOAuth(
                config.oauth_app,
                authorize_url=config.oauth_authorize_url,
                token_url=config.oauth_token_url,
                timeout_seconds=config.timeout_seconds,
            )
            if config.oauth_app is not None
            else None
        )

    @classmethod
    def from_config(cls, config: Config) -> TrackerIntegration:
        return cls(TrackerConfig.from_config(config))

    def _client(self, settings: Settings) -> TrackerClient:
        """A client signing as the settings say; an OAuth token set refreshes through the settings'
        coordinated refresh (one replica spends the rotating refresh token, sealed before use)."""
        credentials = settings.credentials
        auth = (
            self.oauth_auth(settings, credentials)
            if isinstance(credentials, OAuthTokens)
            else HeaderAuth(f"Bearer {credentials.token}")
        )
        return TrackerClient(self._config.api_base_url, auth, self._config.timeout_seconds)

    # -- OAuth

    def oauth_provider(self) -> OAuthProvider | None:
        return self._oauth

    async def refresh_tokens(self, tokens: OAuthTokens) -> OAuthTokens:
        if self._oauth is None:
            # The grant may be fine: this server lacks the app credentials (not a reason to pause the project).
            raise TrackerOAuthError("cannot refresh Tracker tokens here: set TRACKER_OAUTH_CLIENT_ID and its secret")
        return await self._oauth.refresh(tokens)

    # -- settings

    def parse_options(self, raw: Mapping[str, Any], path: str) -> TrackerOptions:
        return parse_options(raw, path)

    def dump_options(self, options: TrackerOptions) -> dict[str, Any]:
        return dump_options(options)

    def validate_credentials(self, credentials: Credentials, path: str) -> None:
        if isinstance(credentials, OAuthTokens):
            if not _OAUTH_TOKEN.fullmatch(credentials.access_token):
                raise InvalidArgument(path, "must be a Tracker access token: 8-4096 printable characters, no spaces")
        elif not isinstance(credentials, ApiToken) or not _TOKEN.fullmatch(credentials.token):
            raise InvalidArgument(path, "must be a Tracker API token: 'trk_' then 8-64 letters or digits")

    def containers(self, options: TrackerOptions) -> tuple[str, ...]:
        return options.board_ids

    def with_containers(self, options: TrackerOptions, containers: Sequence[str]) -> TrackerOptions:
        return replace(options, board_ids=tuple(containers))

    async def test_connection(self, settings: Settings) -> ConnectionCheck:
        started = time.monotonic()
        async with self._client(settings) as client:
            try:
                me = await client.get("/me")
                boards = await client.all("/boards", "boards")
            except GrantRevoked as exc:
                return ConnectionCheck(Outcome.NEEDS_REAUTHORIZATION, str(exc), time.monotonic() - started)
            except TrackerAuthError:
                return ConnectionCheck(
                    Outcome.AUTH_FAILED, f"Tracker rejected the {_kind(settings)}", time.monotonic() - started
                )
            except TrackerError as exc:
                return ConnectionCheck(Outcome.ERROR, f"Tracker error: {exc}", time.monotonic() - started)
        missing = sorted(set(settings.options.board_ids) - {str(b.get("id")) for b in boards})
        if missing:
            message = f"the token cannot see board(s) {', '.join(missing)}"
            return ConnectionCheck(Outcome.ERROR, message, time.monotonic() - started)
        return ConnectionCheck(
            Outcome.CONNECTED,
            f"Connected as {me.get('name')}; {len(boards)} board(s) visible",
            time.monotonic() - started,
            account=AccountInfo(str(me.get("id")), str(me.get("name")), str(me.get("email"))),
            containers=[ContainerInfo(str(b.get("id")), str(b.get("name")), 0) for b in boards],
        )

    # -- import

    async def run_import(self, context: ImportContext[TrackerOptions]) -> ImportOutcome:
        async with self._client(context.settings) as client:
            try:
                return await TrackerImport(client, context).run()
            except TrackerAuthError as exc:
                raise ImportFailure(f"Tracker rejected the {_kind(context.settings)}") from exc
            except TrackerError as exc:
                raise ImportFailure(str(exc)) from exc

    # -- webhooks

    def parse_delivery(self, delivery: Delivery) -> ParsedDelivery:
        return webhooks.parse_delivery(delivery)

    async def apply_webhook(self, settings: Settings, writer: GraphWriter, event: WebhookEvent, run_id: str) -> str:
        async with self._client(settings) as client:
            return await webhooks.apply_event(client, writer, event, run_id)

    # -- live sync: one webhook per board, at its own URL whose last segment (the route key) is the id

    async def _boards(self, client: TrackerClient, options: TrackerOptions) -> list[str]:
        visible = [str(b.get("id")) for b in await client.all("/boards", "boards")]
        return [b for b in visible if not options.board_ids or b in options.board_ids]

    async def _hooks(self, client: TrackerClient, board_id: str) -> list[dict[str, Any]]:
        return await client.all("/webhooks", "webhooks", {"board_id": board_id})

    async def register_webhooks(self, settings: Settings, target: WebhookTarget) -> list[WebhookSubscription]:
        made: list[WebhookSubscription] = []
        async with self._client(settings) as client:
            try:
                for board_id in await self._boards(client, settings.options):
                    url = target.in_path(board_id)
                    for old in await self._hooks(client, board_id):  # its secret cannot be read back: replace it
                        if old.get("url") == url:
                            await client.request("DELETE", f"/webhooks/{old['id']}")
                    secret = secrets.token_hex(32)
                    await client.request("POST", "/webhooks", body={"url": url, "secret": secret, "board_id": board_id})
                    made.append(WebhookSubscription(_route_key(url), board_id, secret))
            except BaseException:
                for hook in made:  # nothing half-done
                    with contextlib.suppress(TrackerError):
                        await self._delete(client, hook.container_id, hook.webhook_id)
                raise
        return made

    async def _find(self, client: TrackerClient, board_id: str, webhook_id: str) -> dict[str, Any] | None:
        for hook in await self._hooks(client, board_id):
            if _route_key(str(hook.get("url", ""))) == webhook_id:
                return hook
        return None

    async def _delete(self, client: TrackerClient, board_id: str, webhook_id: str) -> None:
        hook = await self._find(client, board_id, webhook_id)
        if hook is not None:
            with contextlib.suppress(TrackerNotFound):
                await client.request("DELETE", f"/webhooks/{hook['id']}")

    async def webhook_status(self, settings: Settings, container_id: str, webhook_id: str) -> WebhookState | None:
        async with self._client(settings) as client:
            hook = await self._find(client, container_id, webhook_id)
        if hook is None:
            return None
        return WebhookState("active" if hook.get("active") else "suspended")

    async def reactivate_webhook(self, settings: Settings, webhook_id: str) -> None:
        """Tracker never suspends a webhook: nothing to do."""

    async def delete_webhook(self, settings: Settings, webhook_id: str) -> None:
        board_id = webhook_id.rpartition("-")[2]  # the route key ends with the board id (in_path's suffix)
        async with self._client(settings) as client:
            await self._delete(client, board_id, webhook_id)

    async def repair_gap(
        self, settings: Settings, writer: GraphWriter, container_id: str, since: datetime, run_id: str
    ) -> GapRepair:
        marks: dict[str, datetime] = {}
        count = 0
        async with self._client(settings) as client:
            path = f"/boards/{container_id}/cards"
            async for page in client.pages(path, "cards", {"updated_since": since.isoformat()}):
                rows = Rows()
                for item in page:
                    rows.extend(transform.card(item))
                newest(rows, marks)
                await writer.write(rows, run_id)
                count += len(page)
        return GapRepair(count, marks.get(container_id))


def _kind(settings: Settings) -> str:
    return "OAuth access token" if isinstance(settings.credentials, OAuthTokens) else "API token"
