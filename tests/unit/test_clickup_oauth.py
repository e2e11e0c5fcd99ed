"""ClickUp's sign-in pieces, against recorded answers: the consent URL, the code exchange and its
errors, the app credentials from configuration, and which 401s mean "the grant is gone"."""

from __future__ import annotations

import random
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from envconfig import Config, ConfigError
from server.integrations.clickup.client import ClickUpClient
from server.integrations.clickup.errors import ClickUpAuthError, ClickUpNotAuthorized
from server.integrations.clickup.oauth import ClickUpOAuth
from server.integrations.clickup.rate_limit import RateLimiter
from server.integrations.credentials import OAuthTokens
from server.integrations.oauth import GrantRevoked, OAuthApp, OAuthFlowError, code_challenge, new_code_verifier
from tests.unit.test_rate_limiter import FakeClock

APP = OAuthApp("client-1", "app-secret-1")
API = "http://clickup.test/api/v2"


def provider(answer: httpx.Response | Exception, seen: list[httpx.Request] | None = None) -> ClickUpOAuth:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return ClickUpOAuth(
        APP, authorize_url="http://app.test/api", api_base_url=API, transport=httpx.MockTransport(handle)
    )


def test_the_consent_url_carries_client_redirect_and_state_and_no_secret() -> None:
    url = provider(httpx.Response(200)).authorization_url(
        state="s t&ate", redirect_uri="https://hub.test/oauth/callback?x=1", code_challenge=None
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "http://app.test/api"
    assert parse_qs(parts.query) == {
        "client_id": ["client-1"],
        "redirect_uri": ["https://hub.test/oauth/callback?x=1"],
        "state": ["s t&ate"],
    }
    assert "app-secret-1" not in url


async def test_the_code_is_exchanged_with_query_parameters_as_the_spec_says() -> None:
    seen: list[httpx.Request] = []
    tokens = await provider(httpx.Response(200, json={"access_token": "tok_abc"}), seen).exchange_code(
        code="code-1", redirect_uri="https://hub.test/cb", code_verifier=None
    )
    assert tokens == OAuthTokens("tok_abc")
    assert tokens.expires_at is None, "ClickUp tokens do not expire"
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/api/v2/oauth/token")]
    assert parse_qs(seen[0].url.query.decode()) == {
        "client_id": ["client-1"],
        "client_secret": ["app-secret-1"],
        "code": ["code-1"],
    }


@pytest.mark.parametrize(
    ("answer", "field", "reason", "says"),
    [
        (httpx.Response(400, json={"err": "Client not found", "ECODE": "OAUTH_010"}), "client_id", None, "OAUTH_010"),
        (httpx.Response(400, json={"err": "x", "ECODE": "OAUTH_017"}), "redirect_uri", None, "OAUTH_017"),
        (httpx.Response(400, json={"err": "x", "ECODE": "OAUTH_007"}), "redirect_uri", None, "not registered"),
        (httpx.Response(400, json={"err": "Code not found", "ECODE": "OAUTH_015"}), "code", None, "OAUTH_015"),
        (httpx.Response(500, text="<html>"), "code", None, "500"),
        (httpx.Response(200, json={"token": "x"}), "code", None, "without a usable access_token"),
        (httpx.Response(200, json={"access_token": "a\nb"}), "code", None, "without a usable access_token"),
        (httpx.ConnectError("refused"), "code", "PROVIDER_UNAVAILABLE", "could not reach"),
    ],
)
async def test_a_refused_exchange_names_the_field_to_fix_and_never_the_code_or_secret(
    answer: httpx.Response | Exception, field: str, reason: str | None, says: str
) -> None:
    with pytest.raises(OAuthFlowError) as refused:
        await provider(answer).exchange_code(
            code="code-secret-9", redirect_uri="https://hub.test/cb", code_verifier=None
        )
    assert refused.value.field == field
    assert says in refused.value.message
    if reason is not None:
        assert refused.value.reason == reason
    assert "code-secret-9" not in refused.value.message
    assert "app-secret-1" not in refused.value.message


def test_app_credentials_come_from_configuration(tmp_path: Path) -> None:
    assert OAuthApp.from_config(Config({}), "clickup") is None
    inline = OAuthApp.from_config(
        Config({"CLICKUP_OAUTH_CLIENT_ID": "id-1", "CLICKUP_OAUTH_CLIENT_SECRET": "secret-1"}), "clickup"
    )
    assert inline == OAuthApp("id-1", "secret-1")
    assert "secret-1" not in repr(inline)
    secret_file = tmp_path / "secret"
    secret_file.write_text("secret-2\n")
    from_file = OAuthApp.from_config(
        Config({"CLICKUP_OAUTH_CLIENT_ID": "id-1", "CLICKUP_OAUTH_CLIENT_SECRET_FILE": str(secret_file)}), "clickup"
    )
    assert from_file == OAuthApp("id-1", "secret-2")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CLICKUP_OAUTH_CLIENT_ID": "id-1"}, "neither CLICKUP_OAUTH_CLIENT_SECRET"),
        (
            {
                "CLICKUP_OAUTH_CLIENT_ID": "id-1",
                "CLICKUP_OAUTH_CLIENT_SECRET": "s",
                "CLICKUP_OAUTH_CLIENT_SECRET_FILE": "f",
            },
            "not both",
        ),
        ({"CLICKUP_OAUTH_CLIENT_ID": "id-1", "CLICKUP_OAUTH_CLIENT_SECRET_FILE": "/nonexistent/x"}, "cannot be read"),
    ],
)
def test_incomplete_app_credentials_stop_start_up_naming_the_variable(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        OAuthApp.from_config(Config(env), "clickup")
    assert says in str(refused.value)


def test_pkce_verifiers_and_challenges_have_the_rfc_7636_shape() -> None:
    verifiers = {new_code_verifier() for _ in range(20)}
    assert len(verifiers) == 20
    for verifier in verifiers:
        assert re.fullmatch(r"[A-Za-z0-9\-._~]{43,128}", verifier)
        challenge = code_challenge(verifier)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge), "S256: 32 bytes, base64url, no padding"
        assert challenge == code_challenge(verifier) != code_challenge(verifier + "x")


def api_client(credentials: OAuthTokens | str, status: int, ecode: str) -> ClickUpClient:
    clock = FakeClock()
    answer = httpx.Response(status, json={"err": "x", "ECODE": ecode})
    return ClickUpClient(
        credentials,
        base_url=API,
        transport=httpx.MockTransport(lambda request: answer),
        clock=clock,
        limiter=RateLimiter(clock=clock),
        rng=random.Random(0),
        max_retries=0,
    )


@pytest.mark.parametrize("ecode", ["OAUTH_019", "OAUTH_021", "OAUTH_025", "OAUTH_077"])
async def test_token_not_found_on_an_oauth_token_means_the_grant_is_gone(ecode: str) -> None:
    async with api_client(OAuthTokens("tok_1"), 401, ecode) as client:
        with pytest.raises(GrantRevoked, match=ecode):
            await client.get("/team")


async def test_an_unknown_id_or_a_personal_token_is_not_a_revocation() -> None:
    async with api_client(OAuthTokens("tok_1"), 401, "OAUTH_023") as client:
        with pytest.raises(ClickUpNotAuthorized):  # ClickUp's answer for an unknown id
            await client.get("/task/nope")
    async with api_client("pk_1_ABCDEFGHIJ", 401, "OAUTH_019") as client:
        with pytest.raises(ClickUpAuthError):  # a bad personal token is replaced, not re-authorized
            await client.get("/team")
