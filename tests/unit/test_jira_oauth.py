"""Jira's sign-in pieces against the recorded answers of §2.2: the consent URL, the code exchange,
the refresh with rotation (V8), the sites of a grant, and every refusal mapped to an error that
never shows a code, token or secret."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from server.integrations.credentials import OAuthAuth, OAuthTokens
from server.integrations.jira.client import JiraClient
from server.integrations.jira.errors import (
    JiraAuthError,
    JiraOAuthAppRejected,
    JiraOAuthUnavailable,
    JiraResponseError,
    JiraSiteNotGranted,
    JiraTransportError,
)
from server.integrations.jira.oauth import SCOPES, JiraOAuth, JiraSite, site_for
from server.integrations.jira.plugin import JiraConfig, JiraIntegration
from server.integrations.oauth import GrantRevoked, OAuthApp, OAuthFlowError

SECRET = "app-secret-Zq9"
APP = OAuthApp("client-J1", SECRET)
CODE = "auth-code-77"
AT1, RT1, AT2, RT2 = "eyJ-access-1", "eyJ-refresh-1", "eyJ-access-2", "eyJ-refresh-2"
NEVER_SHOWN = (SECRET, CODE, AT1, RT1, AT2, RT2)
REDIRECT = "https://hub.test/oauth/jira/callback"
AUTH = "http://auth.test"
API = "http://api.test"
CLOUD = "1324a887-45db-1bf4-1e99-ef0ff456d421"
CLOUD2 = "9f8e7d6c-0000-4bf4-8e99-ef0ff456d999"
SITE = {"id": CLOUD, "name": "your-domain", "url": "https://your-domain.atlassian.net/",
        "scopes": ["read:jira-work", "read:jira-user"], "avatarUrl": "https://x.test/a.png"}  # fmt: skip
SITE2 = {"id": CLOUD2, "name": "other", "url": "https://other.atlassian.net", "scopes": ["read:jira-work"]}
GRANTED = " ".join(SCOPES)
TOKEN_ANSWER = {"access_token": AT1, "expires_in": 3600, "token_type": "Bearer", "refresh_token": RT1,
                "scope": GRANTED}  # fmt: skip
Answer = httpx.Response | Exception


def provider(token: Answer | Callable[[httpx.Request], Answer], sites: Answer | None = None,
             seen: list[httpx.Request] | None = None) -> JiraOAuth:  # fmt: skip
    """A provider whose token endpoint gives ``token`` and whose accessible-resources gives ``sites``."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if request.url.path == "/oauth/token":
            answer = token(request) if callable(token) else token
        elif request.url.path == "/oauth/token/accessible-resources":
            answer = sites if sites is not None else httpx.Response(200, json=[SITE])
        else:
            answer = httpx.Response(404)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return JiraOAuth(
        APP,
        authorize_url=f"{AUTH}/authorize",
        token_url=f"{AUTH}/oauth/token",
        api_url=API + "/",
        timeout_seconds=5.0,
        transport=httpx.MockTransport(handle),
    )


def assert_nothing_secret(exc: BaseException) -> None:
    for value in NEVER_SHOWN:
        assert value not in str(exc)
        assert value not in repr(exc)


async def exchange(oauth: JiraOAuth) -> OAuthTokens:
    return await oauth.exchange_code(code=CODE, redirect_uri=REDIRECT, code_verifier=None)


STALE = OAuthTokens(AT1, RT1, datetime(2026, 1, 1, tzinfo=UTC), ("read:jira-work",), "acc-1", CLOUD)


# ------------------------------------------------------------ consent page


def test_the_consent_url_carries_every_parameter_atlassian_needs_and_no_secret() -> None:
    url = provider(httpx.Response(500)).authorization_url(
        state="st&ate=1", redirect_uri=REDIRECT + "?x=1", code_challenge="ignored-challenge"
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{AUTH}/authorize"
    assert parse_qs(parts.query, strict_parsing=True) == {
        "audience": ["api.atlassian.com"],
        "client_id": ["client-J1"],
        "scope": [GRANTED],
        "redirect_uri": [REDIRECT + "?x=1"],
        "state": ["st&ate=1"],
        "response_type": ["code"],
        "prompt": ["consent"],
    }
    assert "scope=read%3Ajira-work%20read%3Ajira-user%20manage%3Ajira-webhook%20offline_access%20" in url
    assert "+" not in url
    assert SECRET not in url
    assert "ignored-challenge" not in url
    assert JiraOAuth.pkce is False


def test_the_requested_scopes_cover_the_platform_the_webhooks_offline_access_and_agile() -> None:
    assert set(SCOPES) == {
        "read:jira-work", "read:jira-user", "manage:jira-webhook", "offline_access",
        "read:board-scope:jira-software", "read:board-scope.admin:jira-software", "read:sprint:jira-software",
        "read:epic:jira-software", "read:issue:jira-software", "read:issue-details:jira", "read:jql:jira",
    }  # fmt: skip
    assert len(SCOPES) == len(set(SCOPES))


def test_the_default_endpoints_are_atlassians_and_repr_hides_the_secret() -> None:
    oauth = JiraOAuth(APP)
    assert oauth.authorization_url(state="s", redirect_uri=REDIRECT, code_challenge=None).startswith(
        "https://auth.atlassian.com/authorize?audience=api.atlassian.com&client_id=client-J1&scope="
    )
    assert SECRET not in repr(oauth)
    assert "client-J1" in repr(oauth)


# ------------------------------------------------------------ code exchange


async def test_the_code_is_exchanged_as_json_then_the_single_site_becomes_site_id() -> None:
    seen: list[httpx.Request] = []
    before = datetime.now(UTC)
    tokens = await exchange(provider(httpx.Response(200, json=TOKEN_ANSWER), seen=seen))
    after = datetime.now(UTC)

    assert [(r.method, str(r.url)) for r in seen] == [
        ("POST", f"{AUTH}/oauth/token"),
        ("GET", f"{API}/oauth/token/accessible-resources"),
    ]
    post, get = seen
    assert post.headers["Content-Type"] == "application/json"
    assert json.loads(post.content) == {
        "grant_type": "authorization_code",
        "client_id": "client-J1",
        "client_secret": SECRET,
        "code": CODE,
        "redirect_uri": REDIRECT,
    }
    assert "Authorization" not in post.headers
    assert get.headers["Authorization"] == f"Bearer {AT1}"

    assert (tokens.access_token, tokens.refresh_token, tokens.site_id, tokens.account_id) == (AT1, RT1, CLOUD, "")
    assert tokens.scopes == SCOPES
    assert tokens.expires_at is not None
    assert before + timedelta(seconds=3600) <= tokens.expires_at <= after + timedelta(seconds=3600)
    for value in NEVER_SHOWN:
        assert value not in repr(tokens)


async def test_a_grant_over_several_sites_leaves_site_id_empty() -> None:
    oauth = provider(httpx.Response(200, json=TOKEN_ANSWER), httpx.Response(200, json=[SITE2, SITE]))
    assert (await exchange(oauth)).site_id == ""


async def test_the_granted_scopes_are_what_atlassian_says_or_the_requested_ones() -> None:
    narrower = {**TOKEN_ANSWER, "scope": "read:jira-work offline_access"}
    assert (await exchange(provider(httpx.Response(200, json=narrower)))).scopes == ("read:jira-work", "offline_access")
    unsaid = {k: v for k, v in TOKEN_ANSWER.items() if k != "scope"}
    assert (await exchange(provider(httpx.Response(200, json=unsaid)))).scopes == SCOPES


async def test_an_exchange_without_a_refresh_token_fails_for_lack_of_offline_access() -> None:
    answer = {k: v for k, v in TOKEN_ANSWER.items() if k != "refresh_token"}
    with pytest.raises(OAuthFlowError) as caught:
        await exchange(provider(httpx.Response(200, json=answer)))
    assert (caught.value.field, caught.value.reason) == ("scope", "OAUTH_OFFLINE_ACCESS_MISSING")
    assert "offline_access" in caught.value.message
    assert_nothing_secret(caught.value)


async def test_a_grant_over_no_site_fails() -> None:
    with pytest.raises(OAuthFlowError) as caught:
        await exchange(provider(httpx.Response(200, json=TOKEN_ANSWER), httpx.Response(200, json=[])))
    assert (caught.value.field, caught.value.reason) == ("scope", "OAUTH_NO_SITE")


def oauth_error(status: int, error: str, description: str) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "error_description": description})


@pytest.mark.parametrize(
    ("answer", "field", "reason", "says"),
    [
        (oauth_error(400, "invalid_request", "Incorrect request parameters"), "code", "OAUTH_EXCHANGE_FAILED",
         "400 invalid_request: Incorrect request parameters"),
        (oauth_error(403, "invalid_grant", "Invalid authorization code"), "code", "OAUTH_EXCHANGE_FAILED",
         "expired or was used"),
        (oauth_error(403, "invalid_grant", "Invalid redirect_uri"), "redirect_uri", "OAUTH_EXCHANGE_FAILED",
         "redirect URI"),
        (oauth_error(401, "access_denied", "Unauthorized"), "client_id", "OAUTH_EXCHANGE_FAILED",
         "JIRA_OAUTH_CLIENT_SECRET"),
        (oauth_error(401, "invalid_client", "bad client"), "client_id", "OAUTH_EXCHANGE_FAILED", "invalid_client"),
        (httpx.Response(401, text="nope"), "client_id", "OAUTH_EXCHANGE_FAILED", "401"),
        (oauth_error(400, "invalid_request", f"code {CODE} with secret {SECRET} is bad"), "code",
         "OAUTH_EXCHANGE_FAILED", "code *** with secret *** is bad"),
        (httpx.Response(400, json={"error": "Not An <Error> Code", "error_description": 5}), "code",
         "OAUTH_EXCHANGE_FAILED", "(400)"),
        (httpx.Response(500, text="<html>oops</html>"), "code", "PROVIDER_UNAVAILABLE", "failed (500)"),
        (httpx.Response(429, json={}), "code", "PROVIDER_UNAVAILABLE", "429"),
        (httpx.ConnectError("refused"), "code", "PROVIDER_UNAVAILABLE", "could not reach"),
        (httpx.ReadTimeout("slow"), "code", "PROVIDER_UNAVAILABLE", "ReadTimeout"),
    ],
)  # fmt: skip
async def test_each_refused_exchange_blames_a_field_and_shows_no_secret(
    answer: Answer, field: str, reason: str, says: str
) -> None:
    with pytest.raises(OAuthFlowError) as caught:
        await exchange(provider(answer))
    assert (caught.value.field, caught.value.reason) == (field, reason)
    assert says in caught.value.message
    assert_nothing_secret(caught.value)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("not json", "not a JSON object"),
        ([TOKEN_ANSWER], "not a JSON object"),
        ({**TOKEN_ANSWER, "access_token": None}, "without an access_token"),
        ({**TOKEN_ANSWER, "access_token": ""}, "access_token"),
        ({**TOKEN_ANSWER, "access_token": 12345}, "access_token"),
        ({**TOKEN_ANSWER, "access_token": "a" * 4097}, "access_token"),
        ({**TOKEN_ANSWER, "access_token": "eyJ a"}, "spaces"),
        ({**TOKEN_ANSWER, "access_token": "eyJ\x00a"}, "access_token"),
        ({**TOKEN_ANSWER, "refresh_token": ["x"]}, "refresh_token"),
        ({**TOKEN_ANSWER, "expires_in": "3600"}, "expires_in"),
        ({**TOKEN_ANSWER, "expires_in": True}, "expires_in"),
        ({**TOKEN_ANSWER, "expires_in": 0}, "expires_in"),
        ({**TOKEN_ANSWER, "expires_in": -5}, "expires_in"),
        ({**TOKEN_ANSWER, "expires_in": 3600.5}, "expires_in"),
        ({**TOKEN_ANSWER, "expires_in": 10**12}, "expires_in"),
        ({k: v for k, v in TOKEN_ANSWER.items() if k != "expires_in"}, "expires_in"),
        ({**TOKEN_ANSWER, "token_type": "mac"}, "token_type"),
        ({**TOKEN_ANSWER, "scope": ["read:jira-work"]}, "scope"),
        ({**TOKEN_ANSWER, "scope": "a\nb"}, "scope"),
    ],
)
async def test_an_unusable_token_answer_is_a_clear_error(body: Any, says: str) -> None:
    answer = httpx.Response(200, text=body) if isinstance(body, str) else httpx.Response(200, json=body)
    with pytest.raises(OAuthFlowError) as caught:
        await exchange(provider(answer))
    assert (caught.value.field, caught.value.reason) == ("code", "OAUTH_FLOW_FAILED")
    assert says in caught.value.message
    assert_nothing_secret(caught.value)


@pytest.mark.parametrize(
    ("sites", "reason", "says"),
    [
        (httpx.Response(401, json={"code": 401, "message": f"Unauthorized {AT1}"}), "OAUTH_FLOW_FAILED",
         "Jira answered 401 (Unauthorized ***)"),
        (httpx.Response(503, text="down"), "PROVIDER_UNAVAILABLE", "503"),
        (httpx.ConnectError("refused"), "PROVIDER_UNAVAILABLE", "could not reach"),
        (httpx.Response(200, json={"id": CLOUD}), "OAUTH_FLOW_FAILED", "not a JSON list"),
    ],
)  # fmt: skip
async def test_a_failed_site_lookup_fails_the_exchange(sites: Answer, reason: str, says: str) -> None:
    with pytest.raises(OAuthFlowError) as caught:
        await exchange(provider(httpx.Response(200, json=TOKEN_ANSWER), sites))
    assert (caught.value.field, caught.value.reason) == ("code", reason)
    assert says in caught.value.message
    assert_nothing_secret(caught.value)


# ------------------------------------------------------------ refresh


async def test_refresh_posts_the_refresh_token_and_keeps_the_rotated_one_and_the_site() -> None:
    seen: list[httpx.Request] = []
    answer = {**TOKEN_ANSWER, "access_token": AT2, "refresh_token": RT2, "scope": "read:jira-work offline_access"}
    before = datetime.now(UTC)
    fresh = await provider(httpx.Response(200, json=answer), seen=seen).refresh(STALE)

    assert [(r.method, str(r.url)) for r in seen] == [("POST", f"{AUTH}/oauth/token")]
    assert seen[0].headers["Content-Type"] == "application/json"
    assert json.loads(seen[0].content) == {
        "grant_type": "refresh_token",
        "client_id": "client-J1",
        "client_secret": SECRET,
        "refresh_token": RT1,
    }
    assert (fresh.access_token, fresh.refresh_token) == (AT2, RT2)
    assert (fresh.site_id, fresh.account_id) == (CLOUD, "acc-1")
    assert fresh.scopes == ("read:jira-work", "offline_access")
    assert fresh.expires_at is not None
    assert fresh.expires_at >= before + timedelta(seconds=3600)


async def test_a_refresh_answer_without_refresh_token_or_scope_keeps_the_old_ones() -> None:
    answer = {"access_token": AT2, "expires_in": 3600, "token_type": "Bearer"}
    fresh = await provider(httpx.Response(200, json=answer)).refresh(STALE)
    assert (fresh.access_token, fresh.refresh_token, fresh.scopes) == (AT2, RT1, STALE.scopes)


async def test_v8_rotation_leeway_then_the_dead_token_revokes_the_grant() -> None:
    """t0: RT1 → AT2 + RT2; RT1 again within the leeway → 200; after it → 403 invalid_grant."""
    minutes = [0]

    def endpoint(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)["refresh_token"]
        if sent == RT1 and minutes[0] <= 10:
            return httpx.Response(200, json={**TOKEN_ANSWER, "access_token": AT2, "refresh_token": RT2})
        return oauth_error(403, "invalid_grant", "Unknown or invalid refresh token.")

    oauth = provider(endpoint)
    assert (await oauth.refresh(STALE)).refresh_token == RT2
    minutes[0] = 2
    assert (await oauth.refresh(STALE)).refresh_token == RT2
    minutes[0] = 15
    with pytest.raises(GrantRevoked) as caught:
        await oauth.refresh(STALE)
    assert "Unknown or invalid refresh token." in str(caught.value)
    assert "sign in to Jira again" in str(caught.value)
    assert_nothing_secret(caught.value)


@pytest.mark.parametrize(
    ("answer", "kind", "says"),
    [
        (oauth_error(403, "invalid_grant", "Unknown or invalid refresh token."), GrantRevoked, "403 invalid_grant"),
        (oauth_error(403, "invalid_grant", "Token has been expired or revoked."), GrantRevoked, "expired or revoked"),
        (oauth_error(400, "invalid_grant", f"refresh token {RT1} is dead"), GrantRevoked, "refresh token *** is dead"),
        (httpx.Response(403, text=""), GrantRevoked, "403"),
        (oauth_error(403, "unauthorized_client", "not allowed"), JiraOAuthAppRejected, "JIRA_OAUTH_CLIENT_ID"),
        (oauth_error(401, "access_denied", "Unauthorized"), JiraOAuthAppRejected, "401 access_denied"),
        (oauth_error(400, "invalid_request", "Incorrect request parameters"), JiraOAuthAppRejected,
         "Incorrect request parameters"),
        (oauth_error(400, "invalid_request", f"secret {SECRET} wrong"), JiraOAuthAppRejected, "secret *** wrong"),
        (httpx.Response(500, text="<html>"), JiraOAuthUnavailable, "failed refreshing"),
        (httpx.Response(503, json={}), JiraOAuthUnavailable, "503"),
        (httpx.Response(429, json={}), JiraOAuthUnavailable, "429"),
        (httpx.ConnectError("refused"), JiraOAuthUnavailable, "could not reach"),
        (httpx.ReadTimeout("slow"), JiraOAuthUnavailable, "ReadTimeout"),
        (httpx.Response(302, headers={"Location": "http://x.test"}), JiraResponseError, "302"),
        (httpx.Response(200, json={"access_token": AT2}), JiraResponseError, "expires_in"),
        (httpx.Response(200, text="<html>"), JiraResponseError, "not a JSON object"),
    ],
)  # fmt: skip
async def test_each_refused_refresh_maps_to_its_error_without_secrets(
    answer: Answer, kind: type[Exception], says: str
) -> None:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the exact type is asserted below
        await provider(answer).refresh(STALE)
    assert type(caught.value) is kind
    assert says in str(caught.value)
    assert_nothing_secret(caught.value)


def test_a_refresh_that_failed_on_atlassians_side_is_retryable_as_a_transport_error() -> None:
    assert issubclass(JiraOAuthUnavailable, JiraTransportError)


async def test_a_set_without_refresh_token_is_a_dead_grant_without_asking() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(GrantRevoked):
        await provider(httpx.Response(500), seen=seen).refresh(OAuthTokens(AT1, site_id=CLOUD))
    assert seen == []


async def test_refresh_is_the_refresher_of_a_gateway_client() -> None:
    """The pieces together: an expired set is refreshed before the call, which then goes to the
    gateway with the new access token; the rotated set is what the auth holds afterwards."""
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url} {request.headers.get('Authorization', '')}")
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={**TOKEN_ANSWER, "access_token": AT2, "refresh_token": RT2})
        return httpx.Response(200, json={"accountId": "acc-1"})

    transport = httpx.MockTransport(handle)
    oauth = JiraOAuth(APP, token_url=f"{AUTH}/oauth/token", api_url=API, transport=transport)
    auth = OAuthAuth(STALE, oauth.refresh)
    async with JiraClient.for_gateway(API, CLOUD, auth, timeout=5.0, transport=transport) as client:
        assert (await client.myself()).account_id == "acc-1"
    assert seen == [
        f"POST {AUTH}/oauth/token ",
        f"GET {API}/ex/jira/{CLOUD}/rest/api/3/myself Bearer {AT2}",
    ]
    assert (auth.tokens.refresh_token, auth.tokens.site_id) == (RT2, CLOUD)


# ------------------------------------------------------------ sites


async def test_accessible_resources_lists_the_sites_with_normalised_urls() -> None:
    seen: list[httpx.Request] = []
    sites = await provider(httpx.Response(500), httpx.Response(200, json=[SITE, SITE2]), seen).accessible_resources(AT1)
    assert sites == [
        JiraSite(CLOUD, "your-domain", "https://your-domain.atlassian.net", ("read:jira-work", "read:jira-user")),
        JiraSite(CLOUD2, "other", "https://other.atlassian.net", ("read:jira-work",)),
    ]
    assert [(r.method, str(r.url), r.headers["Authorization"]) for r in seen] == [
        ("GET", f"{API}/oauth/token/accessible-resources", f"Bearer {AT1}")
    ]


async def test_accessible_resources_with_a_bad_access_token_is_an_auth_error_not_a_dead_grant() -> None:
    answer = httpx.Response(401, json={"code": 401, "message": "Unauthorized"})
    with pytest.raises(JiraAuthError) as caught:
        await provider(httpx.Response(500), answer).accessible_resources(AT1)
    assert (caught.value.status, caught.value.path) == (401, "/oauth/token/accessible-resources")
    assert_nothing_secret(caught.value)


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (httpx.Response(500, text="oops"), JiraOAuthUnavailable),
        (httpx.Response(429, json={}), JiraOAuthUnavailable),
        (httpx.ConnectError("refused"), JiraOAuthUnavailable),
    ],
)
async def test_accessible_resources_failing_on_atlassians_side_is_retryable(
    answer: Answer, kind: type[Exception]
) -> None:
    with pytest.raises(kind):
        await provider(httpx.Response(500), answer).accessible_resources(AT1)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"sites": []}, "not a JSON list"),
        ("[", "not a JSON list"),
        ([SITE, "x"], "site 1 is not an object"),
        ([{**SITE, "id": None}], "site 0 has no id"),
        ([{**SITE, "id": 12}], "site 0 has no id"),
        ([{**SITE, "id": "../../admin"}], "site 0 has no id"),
        ([{**SITE, "url": None}], "site 0 has no url"),
        ([{**SITE, "url": "ftp://x.test"}], "not an http(s) site address"),
        ([{**SITE, "url": "https://x.test/?q=1"}], "not an http(s) site address"),
        ([{**SITE, "url": "https://" + "x" * 4096}], "site 0 has no url"),
        ([{**SITE, "name": 3}], "name"),
        ([{**SITE, "scopes": "read:jira-work"}], "scopes"),
        ([{**SITE, "scopes": [1]}], "scopes"),
        ([SITE] * 1001, "more than 1000 sites"),
    ],
)
async def test_unusable_site_lists_are_clear_errors(body: Any, says: str) -> None:
    answer = httpx.Response(200, text=body) if isinstance(body, str) else httpx.Response(200, json=body)
    with pytest.raises(JiraResponseError) as caught:
        await provider(httpx.Response(500), answer).accessible_resources(AT1)
    assert says in str(caught.value)


ONE = JiraSite(CLOUD, "your-domain", "https://your-domain.atlassian.net", ())
TWO = JiraSite(CLOUD2, "other", "https://other.atlassian.net", ())


@pytest.mark.parametrize(
    ("sites", "site_url", "expected"),
    [
        ([TWO, ONE], "https://your-domain.atlassian.net", ONE),
        ([ONE, TWO], "https://your-domain.atlassian.net", ONE),
        ([TWO, ONE], "https://Your-Domain.atlassian.net/", ONE),
        ([TWO, ONE], " https://other.atlassian.net ", TWO),
        ([ONE], "", ONE),
    ],
)
def test_site_for_matches_on_url_whatever_the_order(sites: list[JiraSite], site_url: str, expected: JiraSite) -> None:
    assert site_for(sites, site_url) == expected


@pytest.mark.parametrize(
    ("sites", "site_url", "says"),
    [
        ([TWO, ONE], "https://third.atlassian.net",
         "does not cover 'https://third.atlassian.net' (it covers: https://other.atlassian.net, "
         "https://your-domain.atlassian.net)"),
        ([ONE], "https://your-domain.atlassian.net.evil.test", "it covers: https://your-domain.atlassian.net"),
        ([], "https://your-domain.atlassian.net", "it covers: none"),
        ([TWO, ONE], "", "covers 2 sites (https://other.atlassian.net, https://your-domain.atlassian.net)"),
        ([], "", "covers no site"),
    ],
)  # fmt: skip
def test_site_for_names_the_granted_sites_when_none_fits(sites: list[JiraSite], site_url: str, says: str) -> None:
    with pytest.raises(JiraSiteNotGranted) as caught:
        site_for(sites, site_url)
    assert says in str(caught.value)


async def test_a_server_without_the_app_credentials_refuses_to_refresh_without_pausing_the_project() -> None:
    """Missing app credentials are this server's problem, not a revoked grant: no NEEDS_REAUTHORIZATION."""
    plugin = JiraIntegration(JiraConfig())
    with pytest.raises(JiraOAuthAppRejected, match="JIRA_OAUTH_CLIENT_ID"):
        await plugin.refresh_tokens(OAuthTokens("access-token-1234", "refresh-token-1234"))
