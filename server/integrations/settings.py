"""A project's settings for one integration, as plugins see them: credentials, typed options, sync policy.

``OptionsT`` is the plugin's own options type (ClickUp: which workspaces, whether to read comments). How
these travel on the wire and how they are sealed at rest is ``server/settings_codec.py``'s job.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from server.integrations.credentials import Credentials, Refresher
from server.integrations.field_map import FieldMap
from server.integrations.rate_budget import SharedBudget

OptionsT = TypeVar("OptionsT")


@dataclass(frozen=True)
class SyncPolicy:
    auto_sync: bool = False
    interval_seconds: int = 0  # 0: the server's default gap-repair interval


@dataclass(frozen=True)
class IntegrationSettings(Generic[OptionsT]):
    credentials: Credentials = field(repr=False)
    options: OptionsT
    sync: SyncPolicy = SyncPolicy()
    # How the project maps the third party's custom fields (kept beside the sealed settings, not in
    # them: nothing secret; set by the gallery when it opens the stored settings).
    fields: FieldMap = field(default_factory=FieldMap)
    # How a stale OAuth token set of this project becomes a fresh one: set by the gallery when it
    # opens stored settings (one replica refreshes, the new set is sealed before it is used; the
    # others wait for it). ``OAuthAuth`` calls it. Not part of the settings' value.
    refresh: Refresher | None = field(default=None, compare=False, repr=False)
    # The provider's request budget as all replicas share it (set by the gallery like ``refresh``);
    # None: this process counts alone.
    rate_budget: SharedBudget | None = field(default=None, compare=False, repr=False)

    def with_options(self, options: OptionsT) -> IntegrationSettings[OptionsT]:
        return replace(self, options=options)

    def with_credentials(self, credentials: Credentials) -> IntegrationSettings[OptionsT]:
        return replace(self, credentials=credentials)


ROUTE_PARAM = "route"


@dataclass(frozen=True)
class WebhookTarget:
    """Where a project's webhooks for one integration are sent: the gateway's endpoint for the
    integration (``<public>/webhooks/<name>``) and an opaque route, stable per (org, project,
    integration). The plugin picks how the route travels, to suit its signing scheme: in the query
    (schemes that find the secret by a body field ignore it) or as the path's last segment (schemes
    keyed by the route)."""

    url: str
    route: str

    @classmethod
    def of(cls, public_url: str, org_id: str, project_id: str, integration: str) -> WebhookTarget:
        parts = urlsplit(public_url)
        path = parts.path.rstrip("/")
        head, sep, _ = path.rpartition("/webhooks/")
        base = head if sep and "/" not in path[len(head) + len(sep) :] else path  # ".../webhooks/<any>" -> base
        url = urlunsplit(parts._replace(path=f"{base}/webhooks/{integration}"))
        route = hashlib.sha256("\x00".join((org_id, project_id, integration)).encode()).hexdigest()[:32]
        return cls(url, route)

    def in_query(self) -> str:
        parts = urlsplit(self.url)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != ROUTE_PARAM]
        return urlunsplit(parts._replace(query=urlencode([*query, (ROUTE_PARAM, self.route)])))

    def in_path(self, suffix: str = "") -> str:
        """``<url>/<route>[-<suffix>]``; the last segment is then the key the gateway finds the secret by."""
        key = f"{self.route}-{suffix}" if suffix else self.route
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"{parts.path}/{key}"))
