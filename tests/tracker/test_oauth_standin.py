"""The stand-in's OAuth server behaves as Atlassian's (``../shared/jira-api.md`` §2.2), and the
plugin's provider reads it right: exchange, rotation with a reuse leeway, expiry, revocation, errors.

The race test (``test_oauth_refresh.py``) counts on these: a stand-in that let a spent refresh
token through forever would hide a double refresh behind a success.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from envconfig import Config
from server.errors import InvalidArgument
from server.integrations.credentials import ApiToken, OAuthTokens
from server.integrations.oauth import GrantRevoked, OAuthApp, OAuthFlowError, code_challenge, new_code_verifier
from tests.support import UvicornThread
from tests.tracker.oauth import TrackerOAuth, TrackerOAuthError
from tests.tracker.plugin import TrackerConfig, TrackerIntegration
from tests.tracker.standin import Tracker, create_app
from tests.tracker.standin_oauth import DEAD_REFRESH, GRANT_TYPES, UNREADABLE

CLIENT_ID = "stand-in-app"
CLIENT_SECRET = "stand-in-app-secret"
REDIRECT_URI = "http://127.0.0.1:9/callback"


@dataclass
class Standin:
    tracker: Tracker
    url: str

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)

    def code(self, verifier: str | None = None, scope: str = "read:tracker offline_access") -> str:
        query = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "s1", "response_type": "code"}
        query["scope"] = scope
        if verifier is not None:
            query |= {"code_challenge": code_challenge(verifier), "code_challenge_method": "S256"}
        with self.http() as http:
            answer = http.get("/oauth/authorize", params=query)
        assert answer.status_code == 302, answer.text
        back = parse_qs(urlsplit(answer.headers["location"]).query)
        assert back["state"] == ["s1"]
        return back["code"][0]

    def token(self, **body: str) -> httpx.Response:
        with self.http() as http:
            return http.post("/oauth/token", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **body})

    def tokens(self) -> dict[str, Any]:
        answer = self.token(grant_type="authorization_code", code=self.code(), redirect_uri=REDIRECT_URI)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def refresh(self, refresh_token: str) -> httpx.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token)

    def provider(self, secret: str = CLIENT_SECRET, token_url: str = "") -> TrackerOAuth:
        return TrackerOAuth(
            OAuthApp(CLIENT_ID, secret),
            authorize_url=f"{self.url}/oauth/authorize",
            token_url=token_url or f"{self.url}/oauth/token",
        )


@pytest.fixture
def standin() -> Iterator[Standin]:
    tracker = Tracker(tokens=set())
    tracker.oauth.clients[CLIENT_ID] = CLIENT_SECRET
    with UvicornThread(create_app(tracker)) as server:
        yield Standin(tracker, server.url)


def invalid(description: str) -> dict[str, str]:
    return {"error": "invalid_request", "error_description": description}


@pytest.mark.parametrize(
    ("content_type", "body", "status", "answer"),
    [
        ("application/json", b'{"grant_type":"password"}', 400, invalid(GRANT_TYPES)),
        ("application/json", b"{}", 400, invalid(GRANT_TYPES)),
        ("application/x-www-form-urlencoded", b"grant_type=client_credential", 400, invalid(GRANT_TYPES)),
        ("application/json", b"{not json", 400, invalid(UNREADABLE)),
        ("application/json", b'["grant_type"]', 400, invalid(UNREADABLE)),
        ("application/json", b'{"grant_type":"refresh_token","refresh_token":7}', 400, invalid(UNREADABLE)),
        ("application/json", b"\xff\xfe", 400, invalid(UNREADABLE)),
        ("application/x-www-form-urlencoded", b"grant_type=refresh_token&x=\xff", 400, invalid(UNREADABLE)),
        ("text/plain", b"grant_type=refresh_token", 400, invalid(UNREADABLE)),
        (
            "application/json",
            b'{"grant_type":"refresh_token","client_id":"stand-in-app","client_secret":"wrong","refresh_token":"x"}',
            401,
            {"error": "access_denied", "error_description": "Unauthorized"},
        ),
        (
            "application/x-www-form-urlencoded",
            b"grant_type=refresh_token&client_id=stand-in-app&client_secret=stand-in-app-secret&refresh_token=x",
            403,
            {"error": "invalid_grant", "error_description": DEAD_REFRESH},
        ),
        (
            "application/json",
            b'{"grant_type":"authorization_code","client_id":"stand-in-app","client_secret":"stand-in-app-secret",'
            b'"code":"made-up","redirect_uri":"http://127.0.0.1:9/callback"}',
            403,
            {"error": "invalid_grant", "error_description": "Invalid authorization code"},
        ),
    ],
)
def test_a_bad_token_request_gets_the_answer_atlassian_gives(
    standin: Standin, content_type: str, body: bytes, status: int, answer: dict[str, str]
) -> None:
    with standin.http() as http:
        response = http.post("/oauth/token", content=body, headers={"Content-Type": content_type})
    assert (response.status_code, response.json()) == (status, answer)
    assert standin.tracker.oauth.refreshes == 0


def test_a_code_is_exchanged_once_for_a_form_or_json_request_with_its_verifier(standin: Standin) -> None:
    verifier = new_code_verifier()
    code = standin.code(verifier)
    wrong = standin.token(
        grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI, code_verifier=new_code_verifier()
    )
    assert (wrong.status_code, wrong.json()["error"]) == (403, "invalid_grant")
    other_uri = standin.token(
        grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI + "x", code_verifier=verifier
    )
    assert other_uri.status_code == 403
    form = {
        "grant_type": "authorization_code",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    with standin.http() as http:
        answer = http.post("/oauth/token", data=form)
        again = http.post("/oauth/token", data=form)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "token_type", "refresh_token", "scope"}
    assert (body["expires_in"], body["token_type"], body["scope"]) == (3600, "Bearer", "read:tracker offline_access")
    assert again.status_code == 403, "a code is single use"
    assert standin.tracker.oauth.invalid_grants == 3


def test_without_offline_access_there_is_no_refresh_token(standin: Standin) -> None:
    answer = standin.token(
        grant_type="authorization_code", code=standin.code(scope="read:tracker"), redirect_uri=REDIRECT_URI
    )
    assert "refresh_token" not in answer.json()


def test_the_authorize_endpoint_checks_the_client_and_the_challenge_method(standin: Standin) -> None:
    base = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "s2", "response_type": "code"}
    with standin.http() as http:
        assert http.get("/oauth/authorize", params={**base, "client_id": "nobody"}).status_code == 400
        plain = http.get("/oauth/authorize", params={**base, "code_challenge": "abc", "code_challenge_method": "plain"})
        implicit = http.get("/oauth/authorize", params={**base, "response_type": "token"})
    assert parse_qs(urlsplit(plain.headers["location"]).query) == {"error": ["invalid_request"], "state": ["s2"]}
    assert parse_qs(urlsplit(implicit.headers["location"]).query)["error"] == ["unsupported_response_type"]


def test_an_access_token_works_until_expired_and_an_api_token_still_works(standin: Standin) -> None:
    standin.tracker.tokens.add("trk_apitoken1")
    access = standin.tokens()["access_token"]
    with standin.http() as http:
        assert http.get("/api/me", headers={"Authorization": f"Bearer {access}"}).status_code == 200
        assert http.post("/_test/oauth/expire").json() == {"expired": 1}
        assert http.get("/api/me", headers={"Authorization": f"Bearer {access}"}).status_code == 401
        assert http.get("/api/me", headers={"Authorization": "Bearer trk_apitoken1"}).status_code == 200
    assert standin.tracker.oauth.unauthorized == 1


def test_expires_in_is_configurable(standin: Standin) -> None:
    standin.tracker.oauth.expires_in = 120
    assert standin.tokens()["expires_in"] == 120


def test_each_refresh_rotates_and_a_spent_token_lives_only_for_the_leeway(standin: Standin) -> None:
    oauth = standin.tracker.oauth
    first = standin.tokens()["refresh_token"]
    rotated = standin.refresh(first)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["refresh_token"]
    assert second != first
    assert standin.refresh(first).status_code == 200, "inside the leeway a spent token still works"
    assert (oauth.refreshes, oauth.leeway_reuses) == (2, 1)
    oauth.reuse_leeway = 0.0
    assert standin.refresh(second).status_code == 200
    dead = standin.refresh(second)
    assert (dead.status_code, dead.json()) == (403, {"error": "invalid_grant", "error_description": DEAD_REFRESH})
    assert standin.refresh(first).status_code == 403
    assert (oauth.refreshes, oauth.leeway_reuses, oauth.invalid_grants) == (3, 1, 2)


def test_a_revoked_grant_kills_its_refresh_and_access_tokens_and_no_other(standin: Standin) -> None:
    tokens, other = standin.tokens(), standin.tokens()
    with standin.http() as http:
        revoked = http.post("/_test/oauth/revoke", json={"refresh_token": tokens["refresh_token"]})
        assert revoked.json() == {"revoked": 1}
        refused = http.get("/api/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        kept = http.get("/api/me", headers={"Authorization": f"Bearer {other['access_token']}"})
    assert (refused.status_code, kept.status_code) == (401, 200)
    assert standin.refresh(tokens["refresh_token"]).status_code == 403
    assert standin.refresh(other["refresh_token"]).status_code == 200


# -- the plugin's provider against it


async def test_the_provider_signs_in_with_pkce_and_refreshes(standin: Standin) -> None:
    provider = standin.provider()
    verifier = new_code_verifier()
    url = provider.authorization_url(state="st", redirect_uri=REDIRECT_URI, code_challenge=code_challenge(verifier))
    async with httpx.AsyncClient() as browser:
        back = parse_qs(urlsplit((await browser.get(url)).headers["location"]).query)
    tokens = await provider.exchange_code(code=back["code"][0], redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert tokens.refresh_token
    assert tokens.scopes == ("read:tracker", "write:tracker", "offline_access")
    assert tokens.expires_at is not None
    assert abs(tokens.expires_at - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(seconds=30)
    fresh = await provider.refresh(tokens)
    assert (fresh.access_token, fresh.refresh_token) != (tokens.access_token, tokens.refresh_token)
    assert standin.tracker.oauth.refreshes == 1
    standin.tracker.oauth.revoke()
    with pytest.raises(GrantRevoked):
        await provider.refresh(fresh)


async def test_the_provider_turns_refusals_into_clear_errors_without_secrets(standin: Standin) -> None:
    tokens = OAuthTokens("trka_x", standin.tokens()["refresh_token"])
    with pytest.raises(TrackerOAuthError) as refused:
        await standin.provider(secret="not-the-secret").refresh(tokens)
    assert "HTTP 401" in str(refused.value)
    with pytest.raises(TrackerOAuthError) as unreachable:
        await standin.provider(token_url="http://127.0.0.1:9/oauth/token").refresh(tokens)
    with pytest.raises(OAuthFlowError) as bad_client:
        await standin.provider(secret="not-the-secret").exchange_code(
            code=standin.code(), redirect_uri=REDIRECT_URI, code_verifier=None
        )
    assert bad_client.value.field == "client_id"
    with pytest.raises(OAuthFlowError) as bad_code:
        await standin.provider().exchange_code(code="trkc_made_up", redirect_uri=REDIRECT_URI, code_verifier=None)
    assert (bad_code.value.field, bad_code.value.reason) == ("code", "OAUTH_EXCHANGE_FAILED")
    for error in (refused.value, unreachable.value, bad_client.value, bad_code.value):
        for secret in ("not-the-secret", CLIENT_SECRET, tokens.refresh_token, "trkc_made_up"):
            assert secret not in str(error)


def test_oauth_is_offered_only_with_app_credentials_and_its_urls_follow_the_api() -> None:
    bare = TrackerIntegration.from_config(Config({"TRACKER_API_URL": "http://tracker.invalid/"}))
    assert bare.oauth_provider() is None
    config = TrackerConfig.from_config(
        Config(
            {
                "TRACKER_API_URL": "http://tracker.invalid/",
                "TRACKER_OAUTH_CLIENT_ID": "app",
                "TRACKER_OAUTH_CLIENT_SECRET": "app-secret",
            }
        )
    )
    assert (config.oauth_authorize_url, config.oauth_token_url) == (
        "http://tracker.invalid/oauth/authorize",
        "http://tracker.invalid/oauth/token",
    )
    assert "app-secret" not in repr(config)
    plugin = TrackerIntegration(config)
    assert plugin.oauth_provider() is not None
    assert plugin.refreshes_tokens
    plugin.validate_credentials(OAuthTokens("trka_opaque-token_1"), "settings.api_token")
    plugin.validate_credentials(ApiToken("trk_abcdefgh"), "settings.api_token")
    with pytest.raises(InvalidArgument):
        plugin.validate_credentials(OAuthTokens("has space in it"), "settings.api_token")
