"""The sandbox's mutable state and behaviour switches, shared by the API and admin routes."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.clickup.model import World
from sandbox.clickup.oauth import Caller, Grant, OAuth
from sandbox.clickup.ratelimit import TokenRateLimiter
from sandbox.clickup.webhooks import WebhookHub


class ApiError(Exception):
    """Rendered as ClickUp's error envelope ``{"err": ..., "ECODE": ...}``."""

    def __init__(self, status: int, err: str, ecode: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(err)
        self.status = status
        self.err = err
        self.ecode = ecode
        self.headers = headers or {}


@dataclass
class Fault:
    """Injected misbehaviour for requests whose path matches ``path`` (a regex)."""

    path: str
    status: int | None = None  # answer with this status (500, 502, 429 ...)
    delay_seconds: float = 0.0  # answer late (past a client's timeout, if long enough)
    malformed: str | None = None  # "missing_date_updated" | "null_objects" | "type_swap"
    times: int = 1  # how many matching requests it affects; -1: all
    hits: int = 0

    def matches(self, path: str) -> bool:
        return (self.times < 0 or self.hits < self.times) and re.search(self.path, path) is not None


@dataclass
class Sandbox:
    world: World
    limiter: TokenRateLimiter = field(default_factory=TokenRateLimiter)
    hub: WebhookHub = field(default_factory=WebhookHub)
    unknown_id_status: int = 401  # ClickUp answers 401 OAUTH_023 for unknown ids; 404 is the alternative
    archived_mode: str = "only"  # archived=true returns only archived items ("include": both)
    faults: list[Fault] = field(default_factory=list)
    oauth: OAuth = field(default_factory=OAuth)
    requests: int = 0
    # Answered (2xx) API requests per "METHOD path": how often a route was really served, e.g. how
    # many webhook-health reads several supervising replicas made between them.
    calls: Counter[str] = field(default_factory=Counter)
    version: int = 0  # bumped by every admin mutation: cached query results are then stale
    _last_ms: int = 0
    _memo: dict[Any, Any] = field(default_factory=dict)
    _memo_key: tuple[int, int] = (0, -1)

    def touch(self) -> None:
        self.version += 1

    def memo(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Cache a derived view of the world (sorted task lists, reverse indexes) until it changes.

        A 100,000-task workspace is served page by page; re-filtering it per page would be quadratic.
        """
        current = (id(self.world), self.version)
        if self._memo_key != current:
            self._memo.clear()
            self._memo_key = current
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def waiters(self) -> dict[str, list[str]]:
        """Task id -> ids of the tasks that wait on it (the other half of `dependencies`)."""

        def build() -> dict[str, list[str]]:
            index: dict[str, list[str]] = {}
            for task in self.world.tasks.values():
                for other in task.depends_on:
                    index.setdefault(other, []).append(task.id)
            return index

        result: dict[str, list[str]] = self.memo("waiters", build)
        return result

    def now_ms(self) -> int:
        """Strictly increasing ms timestamps, so every mutation has its own date_updated."""
        self._last_ms = max(int(time.time() * 1000), self._last_ms + 1)
        return self._last_ms

    def caller(self, token: str) -> Caller:
        """Who a token acts as; 401 in ClickUp's terms for a revoked or an unknown one."""
        if token in self.oauth.revoked:
            raise ApiError(401, "Token not found", "OAUTH_019")
        user_id = self.world.tokens.get(token)
        if user_id is None:
            raise ApiError(401, "Token invalid", "OAUTH_025")
        return Caller(user_id, self.oauth.grants.get(token))

    def exchange_code(self, client_id: str, client_secret: str, code: str) -> str:
        """A new OAuth access token for a code (raises ``OAuthError``); usable like a personal token."""
        token, grant = self.oauth.redeem(client_id, client_secret, code)
        self.world.tokens[token] = grant.user_id
        return token

    def revoke_token(self, token: str) -> Grant | None:
        grant = self.oauth.revoke(token)
        if grant is not None:
            self.world.tokens.pop(token, None)
        return grant

    def unknown(self, what: str) -> ApiError:
        if self.unknown_id_status == 404:
            return ApiError(404, f"{what} not found", "ITEM_015")
        return ApiError(401, "Team(s) not authorized", "OAUTH_023")

    def answered(self, method: str, path: str) -> None:
        self.calls[f"{method} {path}"] += 1

    def fault_for(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(path):
                fault.hits += 1
                return fault
        return None

    def configure(self, values: dict[str, Any]) -> None:
        allowed = {
            "rate_limit",
            "rate_limit_window_seconds",
            "unknown_id_status",
            "archived_mode",
            "hold_deliveries",
            "webhook_retry_delay_seconds",
        }
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        if "rate_limit" in values:
            limit = values["rate_limit"]
            if limit is not None and (not isinstance(limit, int) or limit < 1):
                raise ValueError("rate_limit must be a positive integer or null (unlimited)")
            self.limiter.limit = limit
        if "rate_limit_window_seconds" in values:
            window = float(values["rate_limit_window_seconds"])
            if window <= 0:
                raise ValueError("rate_limit_window_seconds must be positive")
            self.limiter.window_seconds = window
        if "unknown_id_status" in values:
            if values["unknown_id_status"] not in (401, 404):
                raise ValueError("unknown_id_status must be 401 or 404")
            self.unknown_id_status = int(values["unknown_id_status"])
        if "archived_mode" in values:
            if values["archived_mode"] not in ("only", "include"):
                raise ValueError("archived_mode must be 'only' or 'include'")
            self.archived_mode = str(values["archived_mode"])
        if "hold_deliveries" in values:
            self.hub.hold = bool(values["hold_deliveries"])
        if "webhook_retry_delay_seconds" in values:
            self.hub.retry_delay = float(values["webhook_retry_delay_seconds"])
