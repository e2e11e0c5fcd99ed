"""The interface every integration plugin implements, in the project's own types (not protobuf).

A plugin is one package under ``server/integrations/<name>/`` plus one registry line. It owns:

- its **settings**: typed options (``OptionsT``) it parses from, and dumps to, plain JSON-like data
  (the wire's ``settings.options`` Struct, and the sealed blob), plus the rules for its credentials;
- its **import** (get -> transform -> load -> cleanup), run by ``server/imports.py``;
- its **custom fields**, if it has any: discovered for the mapping page, mapped as the project says
  (``settings.fields``) when it transforms a record, and re-mapped on the nodes already written;
- its **live sync** (register / status / re-activate / delete webhooks, give one a new secret, repair
  a gap), run by ``server/live_sync.py`` and ``server/secret_rotation.py``;
- its **webhooks**: which signing scheme the gateway checks, how a delivery reads (routing and
  dedupe facts), and how an event is applied, run by ``server/webhooks.py`` and the worker.

Its hierarchy stays inside it: the interface speaks of *containers* (the top-level units a project
selects and webhooks are registered for: ClickUp workspaces, Jira sites), *records* and
*watermarks*.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from graph.import_jobs import FULL, ImportJobRecord, Progress
from graph.schema import GraphSchema
from graph.writer import GraphWriter
from server.errors import FailedPrecondition
from server.integrations.credentials import AuthMethod, Credentials, OAuthAuth, OAuthTokens
from server.integrations.field_map import CustomFieldInfo, FieldMap
from server.integrations.oauth import OAuthProvider
from server.integrations.settings import IntegrationSettings, WebhookTarget


class Outcome(Enum):
    CONNECTED = "CONNECTED"
    AUTH_FAILED = "AUTH_FAILED"
    ERROR = "ERROR"
    # The OAuth grant is gone (revoked, refresh token dead): only a new sign-in helps.
    NEEDS_REAUTHORIZATION = "NEEDS_REAUTHORIZATION"


@dataclass(frozen=True)
class AccountInfo:
    id: str
    username: str
    email: str


@dataclass(frozen=True)
class ContainerInfo:
    """A container the credentials can see."""

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
    containers: list[ContainerInfo] = field(default_factory=list)  # what the credentials can see
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


OptionsT = TypeVar("OptionsT")


@dataclass
class ImportContext(Generic[OptionsT]):
    job: ImportJobRecord
    settings: IntegrationSettings[OptionsT]
    writer: GraphWriter
    report: ProgressSink
    seen: dict[str, set[str]] = field(default_factory=dict)  # ids already seen (a resumed run)
    # FULL: everything, then the sweep. INCREMENTAL (plugins with ``supports_incremental``): the
    # hierarchy, then only what changed since ``since`` (each container's watermark); no sweep.
    mode: str = FULL
    since: dict[str, datetime] = field(default_factory=dict)


@dataclass
class ImportOutcome:
    container_ids: list[str]  # the containers this import covered
    watermarks: dict[str, datetime]  # newest change seen, per container
    removed: dict[str, int]  # swept (tombstoned) per kind
    totals: dict[str, int]  # nodes per kind after the import


@dataclass(frozen=True)
class WebhookSubscription:
    """A webhook the third party now sends to us, for one container, signed with ``secret``."""

    webhook_id: str  # the registry key: what the signing scheme finds the secret by
    container_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class WebhookState:
    status: str  # "active", "suspended", or the third party's own word
    fail_count: int = 0


@dataclass(frozen=True)
class GapRepair:
    records: int  # records re-read
    newest: datetime | None  # the newest change seen (the container's new watermark), if any


@dataclass(frozen=True)
class Delivery:
    """A verified delivery as the gateway handed it over."""

    raw_body: bytes
    headers: Mapping[str, str]  # lower-case names; includes the gateway's route key for route-keyed schemes
    received_ms: int


@dataclass(frozen=True)
class ParsedDelivery:
    """What the inbox needs of a delivery: where it goes, what it is, and its dedupe key."""

    webhook_id: str
    event: str
    object_id: str
    dedupe_key: str
    # A "duplicate" of an applied delivery may be a new change when bodies carry no change id:
    # such a delivery is applied again (a re-fetch, harmless if nothing changed).
    reapply_duplicate: bool = False
    # Why this routed delivery cannot be applied as it is (an ErrorInfo-style reason and a sentence);
    # empty for a good one. The inbox then stores it DEAD_LETTERED.
    problem: str = ""
    problem_message: str = ""


@dataclass(frozen=True)
class WebhookEvent:
    """One stored delivery, as the worker hands it to the plugin to apply."""

    event: str
    object_id: str
    container_id: str  # the container of the webhook it came through
    body: str


class Integration(abc.ABC, Generic[OptionsT]):
    name: ClassVar[str]
    display_name: ClassVar[str]
    description: ClassVar[str]
    logo_url: ClassVar[str]
    auth_methods: ClassVar[tuple[AuthMethod, ...]] = (AuthMethod.API_TOKEN,)
    # What the plugin writes to the graph; every plugin that imports or applies webhooks declares one.
    graph_schema: ClassVar[GraphSchema]
    # A JSON Schema of the options, shown to callers (``Integration.options_schema`` on the wire).
    options_schema: ClassVar[dict[str, Any]] = {"type": "object", "additionalProperties": False}
    # The version of the options' stored shape; ``upgrade_options`` brings older blobs up to it.
    options_version: ClassVar[int] = 1

    # -- settings ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def parse_options(self, raw: Mapping[str, Any], path: str) -> OptionsT:
        """Typed options from plain data; raise ``InvalidArgument`` naming ``path`` + the bad key."""

    @abc.abstractmethod
    def dump_options(self, options: OptionsT) -> dict[str, Any]:
        """Plain, JSON-ready data that ``parse_options`` reads back to equal options."""

    def upgrade_options(self, version: int, raw: dict[str, Any]) -> dict[str, Any]:
        """Stored options of an older ``options_version``, in today's shape."""
        return raw

    @abc.abstractmethod
    def validate_credentials(self, credentials: Credentials, path: str) -> None:
        """Raise ``InvalidArgument`` naming ``path`` for credentials this plugin cannot use."""

    async def refresh_tokens(self, tokens: OAuthTokens) -> OAuthTokens:
        """A new token set for ``tokens.refresh_token`` (the third party's token endpoint).

        Plugins whose OAuth tokens expire implement it; ``oauth_auth`` then refreshes as needed.
        """
        raise NotImplementedError(f"{self.display_name} tokens are not refreshed")

    @property
    def refreshes_tokens(self) -> bool:
        """Whether this plugin's OAuth tokens expire and are refreshed (it implements ``refresh_tokens``)."""
        return type(self).refresh_tokens is not Integration.refresh_tokens

    def oauth_auth(self, settings: IntegrationSettings[OptionsT], tokens: OAuthTokens) -> OAuthAuth:
        """``Bearer`` auth that refreshes through the settings' coordinated refresh (the gallery's:
        single-flight across replicas, sealed before use) when the plugin's tokens expire."""
        return OAuthAuth(tokens, settings.refresh if self.refreshes_tokens else None)

    def oauth_provider(self) -> OAuthProvider | None:
        """The sign-in flow, when this server holds the plugin's OAuth app credentials; None makes
        OAuth unavailable for it (not broken): projects then connect with an API token."""
        return None

    def containers(self, options: OptionsT) -> tuple[str, ...]:
        """The containers the options select; empty means every container the credentials see."""
        return ()

    def with_containers(self, options: OptionsT, containers: Sequence[str]) -> OptionsT:
        """The options narrowed to ``containers`` (live sync registers webhooks for some only)."""
        return options

    @abc.abstractmethod
    async def test_connection(self, settings: IntegrationSettings[OptionsT]) -> ConnectionCheck:
        """Try the credentials against the third party; never raise for a failed check."""

    # -- import -----------------------------------------------------------------------------------

    supports_import: ClassVar[bool] = False
    # Whether ``run_import`` reads only what changed when ``context.mode`` is INCREMENTAL.
    supports_incremental: ClassVar[bool] = False

    async def run_import(self, context: ImportContext[OptionsT]) -> ImportOutcome:
        """Fetch everything and write it through ``context.writer``, checkpointing every page."""
        raise NotImplementedError(f"{self.display_name} does not import data")

    # -- custom fields (mapped to properties as the project says: ``settings.fields``) -------------

    supports_field_mapping: ClassVar[bool] = False
    # The kinds whose nodes carry custom-field properties (what a re-map reads through).
    field_kinds: ClassVar[tuple[str, ...]] = ()
    # Properties a custom field may not be mapped to: the kinds' own (a name, a status, ...).
    reserved_properties: ClassVar[frozenset[str]] = frozenset()

    async def custom_fields(self, settings: IntegrationSettings[OptionsT]) -> list[CustomFieldInfo]:
        """The third party's custom fields the selected containers can hold, and their defaults."""
        raise NotImplementedError(f"{self.display_name} has no custom fields to map")

    def remap_node(self, label: str, props: Mapping[str, Any], mapping: FieldMap) -> dict[str, Any] | None:
        """A node's whole property map with its custom fields mapped by ``mapping``, from what the
        node keeps of them (no third-party call); None when it has none or nothing changes."""
        return None

    # -- live sync (webhooks registered with the third party) -------------------------------------

    supports_live_sync: ClassVar[bool] = False

    async def register_webhooks(
        self, settings: IntegrationSettings[OptionsT], target: WebhookTarget
    ) -> list[WebhookSubscription]:
        """One webhook per selected container (adopting one the third party already has for ``target``)."""
        raise NotImplementedError

    async def webhook_status(
        self, settings: IntegrationSettings[OptionsT], container_id: str, webhook_id: str
    ) -> WebhookState | None:
        """The webhook's health as the third party reports it; ``None`` when it no longer exists."""
        raise NotImplementedError

    async def reactivate_webhook(self, settings: IntegrationSettings[OptionsT], webhook_id: str) -> str | None:
        """Turn a suspended webhook back on. Returns its new signing secret when it had to be re-armed
        with one (the server seals it in place of the old), None when its secret is unchanged."""
        raise NotImplementedError

    async def delete_webhook(self, settings: IntegrationSettings[OptionsT], webhook_id: str) -> None:
        raise NotImplementedError

    async def rotate_webhook_secret(
        self,
        settings: IntegrationSettings[OptionsT],
        target: WebhookTarget,
        container_id: str,
        webhook_id: str,
        new_secret: str,
    ) -> WebhookSubscription:
        """Have the third party sign this webhook's deliveries with a new secret.

        Either re-arm the webhook in place with ``new_secret`` (return the same ``webhook_id`` with
        it; the server already accepts it when this is called, so no delivery signed with it is
        refused), or, where the third party cannot change a webhook's secret, make a replacement
        (return its id and secret) that sends nothing yet: the server registers it, then calls
        ``reactivate_webhook`` on it, and deletes the old webhook when the grace period is over.
        The default: this plugin's webhooks cannot be given a new secret (FAILED_PRECONDITION).
        """
        raise FailedPrecondition(
            f"{self.display_name} webhooks cannot be given a new secret", reason="SECRET_NOT_ROTATABLE"
        )

    async def repair_gap(
        self,
        settings: IntegrationSettings[OptionsT],
        writer: GraphWriter,
        container_id: str,
        since: datetime,
        run_id: str,
    ) -> GapRepair:
        """Re-read what changed in ``container_id`` since ``since`` and write it."""
        raise NotImplementedError

    # -- webhooks ---------------------------------------------------------------------------------

    # The gateway's signing scheme for this plugin's deliveries (see webhook_gateway/schemes/); None
    # when the plugin receives no webhooks.
    webhook_scheme: ClassVar[str | None] = None

    def parse_delivery(self, delivery: Delivery) -> ParsedDelivery:
        """Routing and dedupe facts of a verified delivery.

        Raise ``InvalidArgument`` when it cannot even be routed (no webhook id); return a delivery
        with a ``problem`` when it is routed but cannot be applied as it is (it becomes a dead letter).
        """
        raise NotImplementedError(f"{self.display_name} does not receive webhooks")

    async def apply_webhook(
        self, settings: IntegrationSettings[OptionsT], writer: GraphWriter, event: WebhookEvent, run_id: str
    ) -> str:
        """Bring the graph up to date for one webhook event; returns what was done."""
        raise NotImplementedError(f"{self.display_name} does not receive webhooks")


AnyIntegration = Integration[Any]
