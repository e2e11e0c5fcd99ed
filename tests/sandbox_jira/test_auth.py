"""Basic auth with API tokens (§2.1, V1): the plain-text 401, anonymous answers, /myself."""

from __future__ import annotations

import httpx
import pytest

from sandbox.jira.generator import MAIN_EMAIL, MAIN_TOKEN, OTHER_EMAIL
from sandbox.jira.model import Site
from tests.sandbox_jira.conftest import basic


def test_v1_the_published_header_is_what_basic_auth_sends() -> None:
    assert basic("jane@example.com", "ATATT3xFfGF0-example-token") == (
        "Basic amFuZUBleGFtcGxlLmNvbTpBVEFUVDN4RmZHRjAtZXhhbXBsZS10b2tlbg=="
    )


def test_myself_answers_the_token_owner_with_an_account_id_and_own_email(jira: httpx.Client, site: Site) -> None:
    body = jira.get("/rest/api/3/myself").json()
    assert body["emailAddress"] == MAIN_EMAIL
    assert body["accountId"] == site.api_tokens[MAIN_TOKEN]
    assert body["timeZone"] == "America/Phoenix"


@pytest.mark.parametrize(
    "header",
    [
        basic(MAIN_EMAIL, "ATATT3x-wrong"),
        basic(OTHER_EMAIL, MAIN_TOKEN),  # a real token under someone else's email
        "Basic not-base64!",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",  # 3LO tokens only work through the gateway
    ],
)
def test_bad_credentials_get_jiras_plain_text_401(jira_url: str, header: str) -> None:
    response = httpx.get(f"{jira_url}/rest/api/3/project/search", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.text == "Client must be authenticated to access this resource."
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    assert "WWW-Authenticate" in response.headers


def test_no_credentials_give_200_with_reduced_data_but_myself_refuses(anonymous: httpx.Client) -> None:
    projects = anonymous.get("/rest/api/3/project/search")
    assert projects.status_code == 200
    assert projects.json()["values"] == []
    assert projects.json()["total"] == 0
    search = anonymous.get("/rest/api/3/search/jql", params={"jql": "project = PROJ"})
    assert search.status_code == 200
    assert search.json() == {"issues": [], "isLast": True}
    assert anonymous.get("/rest/api/3/issuetype").json() == []
    assert anonymous.get("/rest/api/3/myself").status_code == 401


def test_an_issued_token_works_and_tenant_info_names_the_cloud_id(jira_url: str, site: Site) -> None:
    issued = httpx.post(f"{jira_url}/_sandbox/tokens", json={"email": OTHER_EMAIL}).json()
    me = httpx.get(f"{jira_url}/rest/api/3/myself", headers={"Authorization": issued["authorization"]}).json()
    assert me["emailAddress"] == OTHER_EMAIL  # hidden from others, not from its owner
    assert httpx.get(f"{jira_url}/_edge/tenant_info").json() == {"cloudId": site.cloud_id}
