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
from typing import ClassVar

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


class Integration(abc.ABC):
    name: ClassVar[str]
    display_name: ClassVar[str]
    description: ClassVar[str]
    logo_url: ClassVar[str]
    auth_methods: ClassVar[tuple[int, ...]] = (pb.AUTH_METHOD_API_TOKEN,)

    @abc.abstractmethod
    def validate_settings(self, settings: pb.IntegrationSettings) -> None:
        """Raise ``InvalidArgument`` naming the field for anything this plugin cannot use."""

    @abc.abstractmethod
    async def test_connection(self, settings: pb.IntegrationSettings) -> ConnectionCheck:
        """Try the credentials against the third party; never raise for a failed check."""
