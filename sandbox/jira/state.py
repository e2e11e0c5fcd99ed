"""The sandbox's mutable state, its clock and switches, and the three error bodies Jira sends (§8)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.jira.delivery import WebhookHub
from sandbox.jira.model import Issue, Site
from sandbox.jira.oauth import OAuth
from sandbox.jira.pagetokens import PageTokens
from sandbox.jira.ratelimit import BurstLimiter

PROBLEM_JSON = "application/problem+json"


class ApiError(Exception):
    """An error answer: an ErrorCollection (dict), a problem+json (dict) or plain text (str)."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | str,
        media_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.media_type = media_type
        self.headers = headers or {}


def error_collection(status: int, *messages: str, errors: bool = True) -> ApiError:
    """``{"errorMessages": [...], "errors": {}}``; some 400s leave out ``errors`` (§8)."""
    body: dict[str, Any] = {"errorMessages": list(messages)}
    if errors:
        body["errors"] = {}
    return ApiError(status, body)


def problem(status: int, title: str, detail: str, instance: str, headers: dict[str, str] | None = None) -> ApiError:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "instance": instance}
    return ApiError(status, body, PROBLEM_JSON, headers)


@dataclass
class Sandbox:
    site: Site
    clock: Callable[[], float] = time.time
    requests: int = 0
    search_lag_seconds: float = 0.0  # how long searches keep serving an issue as it was before an edit
    # OAuth apps' client secrets by client id: the OAuth side registers apps, dynamic webhooks sign with them.
    app_secrets: dict[str, str] = field(default_factory=dict)
    _indexed: dict[str, tuple[Issue, float]] = field(default_factory=dict)
    limiter: BurstLimiter = field(init=False)
    page_tokens: PageTokens = field(init=False)
    oauth: OAuth = field(init=False)  # 3LO apps, grants and tokens (oauth.py)
    hub: WebhookHub = field(init=False)

    def __post_init__(self) -> None:
        # Through a lambda, so a test that swaps ``clock`` moves every part's time with it.
        self.limiter = BurstLimiter(lambda: self.clock())
        self.page_tokens = PageTokens(lambda: self.clock())
        self.oauth = OAuth(lambda: self.clock(), self.site)
        self.hub = WebhookHub(lambda: self.clock(), self.app_secrets)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def before_edit(self, issue: Issue) -> None:
        """Keep the issue as the search index holds it until the index catches up (§3.2: eventual)."""
        if self.search_lag_seconds <= 0:
            return
        held = self._indexed.get(issue.id)
        snapshot = held[0] if held is not None and held[1] > self.clock() else copy.deepcopy(issue)
        self._indexed[issue.id] = (snapshot, self.clock() + self.search_lag_seconds)

    def lagging(self) -> bool:
        now = self.clock()
        self._indexed = {k: v for k, v in self._indexed.items() if v[1] > now}
        return bool(self._indexed)

    def indexed(self, issue: Issue) -> Issue:
        """The issue as search sees it: stale for ``search_lag_seconds`` after an edit."""
        held = self._indexed.get(issue.id)
        return held[0] if held is not None and held[1] > self.clock() else issue

    def configure(self, values: dict[str, Any]) -> None:
        allowed = {
            "rate_limit",
            "rate_limit_refill_per_second",
            "page_token_ttl_seconds",
            "search_lag_seconds",
            "hold_deliveries",
            "webhook_retry_delay_seconds",
        }
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        if "rate_limit" in values:
            limit = values["rate_limit"]
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
                raise ValueError("rate_limit must be a positive integer or null (off)")
            self.limiter.capacity = limit
        if "rate_limit_refill_per_second" in values:
            refill = float(values["rate_limit_refill_per_second"])
            if refill <= 0:
                raise ValueError("rate_limit_refill_per_second must be positive")
            self.limiter.refill_per_second = refill
        if "page_token_ttl_seconds" in values:
            ttl = float(values["page_token_ttl_seconds"])
            if ttl <= 0:
                raise ValueError("page_token_ttl_seconds must be positive")
            self.page_tokens.ttl_seconds = ttl
        if "search_lag_seconds" in values:
            lag = float(values["search_lag_seconds"])
            if lag < 0:
                raise ValueError("search_lag_seconds must be zero or positive")
            self.search_lag_seconds = lag
        if "hold_deliveries" in values:
            if not isinstance(values["hold_deliveries"], bool):
                raise ValueError("hold_deliveries must be true or false")
            self.hub.hold = values["hold_deliveries"]
        if "webhook_retry_delay_seconds" in values:
            delay = float(values["webhook_retry_delay_seconds"])
            if delay < 0:
                raise ValueError("webhook_retry_delay_seconds must be zero or positive")
            self.hub.retry_delay = delay
