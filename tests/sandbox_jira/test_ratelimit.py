"""The burst limit (§5, V11): off by default; when on, headers on every answer and 429 with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.jira.state import Sandbox
from tests.sandbox_jira.conftest import FakeClock


@pytest.fixture
def limited(jira: httpx.Client, jira_sandbox: Sandbox) -> Iterator[httpx.Client]:
    assert jira.put("/_sandbox/config", json={"rate_limit": 3, "rate_limit_refill_per_second": 0.5}).status_code == 200
    try:
        yield jira
    finally:
        jira_sandbox.configure({"rate_limit": None})


def test_off_by_default_sends_no_rate_headers(jira: httpx.Client) -> None:
    response = jira.get("/rest/api/3/priority")
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response.headers


def test_v11_a_spent_bucket_answers_429_then_recovers(limited: httpx.Client, jira_clock: FakeClock) -> None:
    answers = [limited.get("/rest/api/3/priority") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"
    assert answers[2].headers["X-RateLimit-NearLimit"] == "true"
    throttled = answers[3]
    assert throttled.headers["Retry-After"] == "2"
    assert throttled.headers["X-RateLimit-Remaining"] == "0"
    assert throttled.headers["RateLimit-Reason"] == "jira-burst-based"
    assert throttled.headers["X-RateLimit-Reset"].endswith("Z")
    assert len(throttled.headers["X-RateLimit-Reset"]) == len("2026-01-05T13:00Z")
    assert throttled.json() == {"errorMessages": ["Rate limit exceeded."], "errors": {}}
    jira_clock.now += 2
    assert limited.get("/rest/api/3/priority").status_code == 200


def test_bad_settings_are_refused(jira: httpx.Client) -> None:
    response = jira.put("/_sandbox/config", json={"rate_limit": 0})
    assert response.status_code == 400
    assert jira.put("/_sandbox/config", json={"nope": 1}).status_code == 400
