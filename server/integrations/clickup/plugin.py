"""ClickUp in the gallery: settings rules and the connection test (``GET /user`` + ``/team``)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from graph.writer import GraphWriter
from integrations.v1 import integration_service_pb2 as pb
from server.errors import InvalidArgument
from server.integrations.base import (
    AccountInfo,
    ConnectionCheck,
    ImportContext,
    ImportFailure,
    ImportOutcome,
    Integration,
    Outcome,
    RateLimitInfo,
    WorkspaceInfo,
)
from server.integrations.clickup import live_sync
from server.integrations.clickup.client import DEFAULT_BASE_URL, ClickUpClient
from server.integrations.clickup.errors import (
    ClickUpAuthError,
    ClickUpError,
    ClickUpHTTPError,
    ClickUpTransportError,
)
from server.integrations.clickup.importer import ClickUpImport, ImportFailed
from server.integrations.clickup.live_sync import apply_event
from server.integrations.clickup.rate_limit import LimiterPool
from server.integrations.clickup.schema import SCHEMA

# Used with fullmatch: "$" would let a final "\n" through (into an HTTP header or a graph key).
_PERSONAL_TOKEN = re.compile(r"pk_[A-Za-z0-9_]{8,256}")
_OAUTH_TOKEN = re.compile(r"[\x21-\x7e]{8,512}")
_WORKSPACE_ID = re.compile(r"[0-9]{1,20}")
MAX_WORKSPACES = 100
MIN_SYNC_INTERVAL_S = 60
MAX_SYNC_INTERVAL_S = 7 * 24 * 3600


@dataclass
class ClickUpSettings:
    """Server-wide ClickUp settings (not per project)."""

    api_base_url: str = DEFAULT_BASE_URL
    timeout_seconds: float = 30.0
    limiters: LimiterPool = field(default_factory=LimiterPool)


class ClickUpIntegration(Integration):
    name = "clickup"
    display_name = "ClickUp"
    description = "Workspaces, spaces, folders, lists, tasks, people and tags from ClickUp."
    logo_url = "https://app-cdn.clickup.com/assets/images/brand/clickup-symbol_color.svg"
    auth_methods = (pb.AUTH_METHOD_API_TOKEN, pb.AUTH_METHOD_OAUTH)
    graph_schema = SCHEMA

    def __init__(self, settings: ClickUpSettings) -> None:
        self._settings = settings

    supports_import = True

    def client(self, token: str, *, oauth: bool = False, max_retries: int = 2) -> ClickUpClient:
        return ClickUpClient(
            token,
            oauth=oauth,
            base_url=self._settings.api_base_url,
            timeout=self._settings.timeout_seconds,
            limiter=self._settings.limiters.for_token(token),
            max_retries=max_retries,
        )

    async def apply_webhook(
        self,
        settings: pb.IntegrationSettings,
        writer: GraphWriter,
        event: str,
        object_id: str,
        workspace_id: str,
        run_id: str,
    ) -> str:
        oauth = settings.auth_method == pb.AUTH_METHOD_OAUTH
        async with self.client(settings.api_token, oauth=oauth, max_retries=4) as client:
            return await apply_event(
                client, writer, event, object_id, workspace_id, settings.data_mapping.include_comments, run_id
            )

    supports_live_sync = True

    def _client_for(self, settings: pb.IntegrationSettings) -> ClickUpClient:
        return self.client(settings.api_token, oauth=settings.auth_method == pb.AUTH_METHOD_OAUTH, max_retries=4)

    async def register_webhooks(self, settings: pb.IntegrationSettings, endpoint: str) -> list[dict[str, str]]:
        async with self._client_for(settings) as client:
            return await live_sync.register_webhooks(client, list(settings.data_mapping.workspace_ids), endpoint)

    async def webhook_status(
        self, settings: pb.IntegrationSettings, workspace_id: str, webhook_id: str
    ) -> tuple[str, int] | None:
        async with self._client_for(settings) as client:
            return await live_sync.webhook_status(client, workspace_id, webhook_id)

    async def reactivate_webhook(self, settings: pb.IntegrationSettings, webhook_id: str) -> None:
        async with self._client_for(settings) as client:
            await live_sync.reactivate_webhook(client, webhook_id)

    async def delete_webhook(self, settings: pb.IntegrationSettings, webhook_id: str) -> None:
        async with self._client_for(settings) as client:
            await live_sync.delete_webhook(client, webhook_id)

    async def repair_gap(
        self, settings: pb.IntegrationSettings, writer: GraphWriter, workspace_id: str, since_ms: int, run_id: str
    ) -> tuple[int, int | None]:
        async with self._client_for(settings) as client:
            return await live_sync.repair_gap(client, writer, workspace_id, since_ms, run_id)

    async def run_import(self, context: ImportContext) -> ImportOutcome:
        oauth = context.settings.auth_method == pb.AUTH_METHOD_OAUTH
        async with self.client(context.settings.api_token, oauth=oauth, max_retries=4) as client:
            try:
                return await ClickUpImport(client, context).run()
            except ClickUpAuthError as exc:
                raise ImportFailure(f"ClickUp rejected the API token ({exc.ecode or exc.status})") from exc
            except (ClickUpError, ImportFailed) as exc:
                raise ImportFailure(str(exc)) from exc

    def validate_settings(self, settings: pb.IntegrationSettings) -> None:
        method = settings.auth_method
        if method not in self.auth_methods:
            raise InvalidArgument("settings.auth_method", "must be AUTH_METHOD_API_TOKEN or AUTH_METHOD_OAUTH")
        token = settings.api_token
        if method == pb.AUTH_METHOD_API_TOKEN and not _PERSONAL_TOKEN.fullmatch(token):
            raise InvalidArgument(
                "settings.api_token", "must be a ClickUp personal token: 'pk_' then 8-256 letters, digits or '_'"
            )
        if method == pb.AUTH_METHOD_OAUTH and not _OAUTH_TOKEN.fullmatch(token):
            raise InvalidArgument("settings.api_token", "must be 8-512 printable characters without spaces")
        ids = settings.data_mapping.workspace_ids
        if len(ids) > MAX_WORKSPACES:
            raise InvalidArgument("settings.data_mapping.workspace_ids", f"at most {MAX_WORKSPACES} workspaces")
        for index, workspace_id in enumerate(ids):
            if not _WORKSPACE_ID.fullmatch(workspace_id):
                raise InvalidArgument(
                    f"settings.data_mapping.workspace_ids[{index}]", "must be a ClickUp workspace id (digits)"
                )
        if len(set(ids)) != len(ids):
            raise InvalidArgument("settings.data_mapping.workspace_ids", "lists a workspace twice")
        interval = settings.sync_settings.sync_interval
        seconds = interval.seconds + interval.nanos / 1e9
        if seconds and not MIN_SYNC_INTERVAL_S <= seconds <= MAX_SYNC_INTERVAL_S:
            raise InvalidArgument(
                "settings.sync_settings.sync_interval",
                f"must be 0 (default) or between {MIN_SYNC_INTERVAL_S}s and {MAX_SYNC_INTERVAL_S}s",
            )

    async def test_connection(self, settings: pb.IntegrationSettings) -> ConnectionCheck:
        started = time.monotonic()
        oauth = settings.auth_method == pb.AUTH_METHOD_OAUTH
        async with self.client(settings.api_token, oauth=oauth) as client:
            try:
                user = await client.get_user()
                teams = await client.get_teams()
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
        wanted = set(settings.data_mapping.workspace_ids)
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
            workspaces=[WorkspaceInfo(t.id, t.name, t.member_count) for t in teams],
            rate_limit=RateLimitInfo(
                snapshot.limit, snapshot.remaining, datetime.fromtimestamp(snapshot.reset_epoch, UTC)
            )
            if snapshot
            else None,
        )
