"""The interface every integration plugin implements.

A plugin describes itself for the gallery, validates its settings and tests credentials.
Settings are the contract's ``IntegrationSettings``: the stored form is that message, so
a plugin reads the same fields callers send.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import ClassVar, Protocol

from graph.import_jobs import ImportJobRecord, Progress
from graph.schema import GraphSchema
from graph.writer import GraphWriter
from integrations.v1 import integration_service_pb2 as pb


class Outcome(Enum):
    CONNECTED = "CONNECTED"
    AUTH_FAILED = "AUTH_FAILED"
    ERROR = "ERROR"


@dataclass(frozen=True)
class AccountInfo:
    id: str
    username: str
    email: str


@dataclass(frozen=True)
class WorkspaceInfo:
    id: str
    name: str
    member_count: int


@dataclass(frozen=True)
class RateLimitInfo:
    limit: int
    remaining: int
    reset_at: datetime


@dataclass(frozen=True)
class ConnectionCheck:
    outcome: Outcome
    message: str
    latency_seconds: float
    account: AccountInfo | None = None
    workspaces: list[WorkspaceInfo] = field(default_factory=list)
    rate_limit: RateLimitInfo | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.CONNECTED


class ImportFailure(Exception):
    """An expected reason an import cannot finish (the third party kept failing, bad data, access).

    The job fails with this message and keeps its checkpoint: starting again resumes there.
    """


class ImportCancelled(Exception):
    """Raised inside an import when its job was cancelled; nothing after it is written."""


class ProgressSink(Protocol):
    async def __call__(self, progress: Progress, page_seen: dict[str, list[str]] | None) -> None:
        """Checkpoint (after a committed page); raises ImportCancelled or LeaseLost."""


@dataclass
class ImportContext:
    job: ImportJobRecord
    settings: pb.IntegrationSettings
    writer: GraphWriter
    report: ProgressSink
    seen: dict[str, set[str]] = field(default_factory=dict)  # ids already seen (a resumed run)


@dataclass
class ImportOutcome:
    workspace_ids: list[str]
    watermarks: dict[str, datetime]
    removed: dict[str, int]  # swept (tombstoned) per kind
    totals: dict[str, int]  # nodes per kind after the import


class Integration(abc.ABC):
    name: ClassVar[str]
    display_name: ClassVar[str]
    description: ClassVar[str]
    logo_url: ClassVar[str]
    auth_methods: ClassVar[tuple[int, ...]] = (pb.AUTH_METHOD_API_TOKEN,)
    # What the plugin writes to the graph; every plugin that imports or applies webhooks declares one.
    graph_schema: ClassVar[GraphSchema]

    @abc.abstractmethod
    def validate_settings(self, settings: pb.IntegrationSettings) -> None:
        """Raise ``InvalidArgument`` naming the field for anything this plugin cannot use."""

    @abc.abstractmethod
    async def test_connection(self, settings: pb.IntegrationSettings) -> ConnectionCheck:
        """Try the credentials against the third party; never raise for a failed check."""

    supports_import: ClassVar[bool] = False

    async def apply_webhook(
        self,
        settings: pb.IntegrationSettings,
        writer: GraphWriter,
        event: str,
        object_id: str,
        workspace_id: str,
        run_id: str,
    ) -> str:
        """Bring the graph up to date for one webhook event; returns what was done."""
        raise NotImplementedError(f"{self.display_name} does not receive webhooks")

    # Live sync (webhooks registered with the third party). Plugins without it keep these defaults.
    supports_live_sync: ClassVar[bool] = False

    async def register_webhooks(self, settings: pb.IntegrationSettings, endpoint: str) -> list[dict[str, str]]:
        raise NotImplementedError

    async def webhook_status(
        self, settings: pb.IntegrationSettings, workspace_id: str, webhook_id: str
    ) -> tuple[str, int] | None:
        raise NotImplementedError

    async def reactivate_webhook(self, settings: pb.IntegrationSettings, webhook_id: str) -> None:
        raise NotImplementedError

    async def delete_webhook(self, settings: pb.IntegrationSettings, webhook_id: str) -> None:
        raise NotImplementedError

    async def repair_gap(
        self, settings: pb.IntegrationSettings, writer: GraphWriter, workspace_id: str, since_ms: int, run_id: str
    ) -> tuple[int, int | None]:
        raise NotImplementedError

    async def run_import(self, context: ImportContext) -> ImportOutcome:
        """Fetch everything and write it through ``context.writer``, checkpointing every page."""
        raise NotImplementedError(f"{self.display_name} does not import data")
