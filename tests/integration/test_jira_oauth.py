"""Jira connected by signing in (OAuth 2.0 3LO) through the Jira sandbox's consent page: a site is
chosen, the import runs through the ``/ex/jira/{cloudId}`` gateway, a revoked grant pauses the
integration until a new sign-in, and an OAuth project lives on dynamic webhooks. (Two replica
processes sharing the rotating refresh token: ``test_jira_oauth_replicas.py``.)"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import httpx
import neo4j
import pytest
from google.protobuf import field_mask_pb2

from devtools.neo4j_local import Connection
from integrations.v1 import integration_service_pb2 as pb
from integrations.v1 import integration_service_pb2_grpc as pb_grpc
from sandbox.jira.generator import MAIN_TOKEN, GeneratorConfig
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, hub_with, server_env
from tests.integration.importing import watch
from tests.jira_sites import JiraSite, serving
from tests.support import UvicornThread, free_port, wait_until
from webhook_gateway.app import create_app as create_gateway
from webhook_gateway.config import GatewayConfig

CLIENT_ID, CLIENT_SECRET = "jira-test-app", "jira-test-secret-0123456789"
REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"  # never called: the test reads the redirect itself
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)
_SELECT = re.compile(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', re.I | re.S)
_OPTION = re.compile(r'<option[^>]*value="([^"]+)"([^>]*)>([^<]*)</option>', re.I)


class HasStub(Protocol):
    """An in-process hub or a replica process: what a sign-in needs of either."""

    @property
    def stub(self) -> pb_grpc.IntegrationServiceAsyncStub: ...


@pytest.fixture(scope="module")
def jira_cloud() -> Iterator[JiraSite]:
    with serving(GeneratorConfig(seed=9, projects=2, issues_per_project=10)) as site:
        register_app(site.url)
        yield site


def register_app(url: str) -> None:
    """The test's OAuth app at the sandbox, and a second site for the consent page to offer."""
    with httpx.Client(base_url=url) as admin:
        admin.post(
            "/_sandbox/oauth/clients",
            json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [REDIRECT_URI]},
        ).raise_for_status()
        admin.post("/_sandbox/oauth/sites", json={"name": "beta", "url": "https://beta.example.net"})


def jira_env(env: dict[str, str], cloud: JiraSite) -> dict[str, str]:
    return {
        **env,
        "JIRA_OAUTH_CLIENT_ID": CLIENT_ID,
        "JIRA_OAUTH_CLIENT_SECRET": CLIENT_SECRET,
        "JIRA_OAUTH_AUTHORIZE_URL": f"{cloud.url}/authorize",
        "JIRA_OAUTH_TOKEN_URL": f"{cloud.url}/oauth/token",
        "JIRA_API_URL": cloud.url,
    }


@pytest.fixture
async def oauth_hub(
    neo4j_connection: Connection,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
    jira_cloud: JiraSite,
) -> AsyncIterator[RunningHub]:
    """A server that holds the test's Jira OAuth app (two replicas: test_jira_oauth_replicas.py)."""
    env = jira_env(server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys), jira_cloud)
    async with hub_with(env) as hub:
        yield hub


async def sign_in(hub: HasStub, admin: str, tenant: tuple[str, str], site: str) -> pb.CompleteAuthorizationResponse:
    """StartAuthorization, the sandbox's consent page with ``site`` chosen, CompleteAuthorization."""
    started = await hub.stub.StartAuthorization(
        pb.StartAuthorizationRequest(org_id=tenant[0], project_id=tenant[1], name="jira", redirect_uri=REDIRECT_URI),
        metadata=bearer(admin),
    )
    query = parse_qs(urlsplit(started.authorization_url).query)
    assert query["audience"] == ["api.atlassian.com"]
    assert "offline_access" in query["scope"][0].split()
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(started.authorization_url)
        assert page.status_code == 200, page.text
        form = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
        selects = {name: _OPTION.findall(body) for name, body in _SELECT.findall(page.text)}
        account = next(html.unescape(v) for v, attrs, _ in selects["account_id"] if "selected" in attrs)
        sites = {label.strip(): html.unescape(value) for value, _, label in selects["site"]}
        assert len(sites) >= 2, "the consent page offers a choice of sites"
        chosen = next(value for label, value in sites.items() if label.startswith(site + " "))
        choice = {**form, "account_id": account, "site": chosen, "decision": "accept"}
        answer = await browser.post(page.url, data=choice)
    assert answer.status_code in (302, 303), answer.text
    redirect = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    assert redirect["state"] == started.state
    done: pb.CompleteAuthorizationResponse = await hub.stub.CompleteAuthorization(
        pb.CompleteAuthorizationRequest(
            org_id=tenant[0], project_id=tenant[1], name="jira", state=redirect["state"], code=redirect["code"]
        ),
        metadata=bearer(admin),
    )
    return done


async def test_consent_with_a_site_choice_then_an_import_through_the_gateway(
    oauth_hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], jira_cloud: JiraSite
) -> None:
    hub = oauth_hub
    site = jira_cloud.sandbox.site
    done = await sign_in(hub, tokens.admin, tenant, site.name)
    assert done.integration.settings.auth_method == pb.AUTH_METHOD_OAUTH
    assert done.integration.connection_status == pb.CONNECTION_STATUS_CONNECTED
    assert [w.id for w in done.workspaces] == [site.cloud_id], "the chosen site, not the other"
    job = await hub.stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="jira"), metadata=bearer(tokens.admin)
    )
    final = (await watch(hub, tokens.admin, tenant, job.id))[-1]
    assert final.state == pb.IMPORT_JOB_STATE_SUCCEEDED, final.error
    assert final.counters["issue"] > 0


async def test_a_revoked_grant_needs_a_new_sign_in(
    oauth_hub: RunningHub, tokens: Tokens, tenant: tuple[str, str], jira_cloud: JiraSite
) -> None:
    hub, site = oauth_hub, jira_cloud.sandbox.site
    await sign_in(hub, tokens.admin, tenant, site.name)
    oauth = jira_cloud.sandbox.oauth
    async with httpx.AsyncClient(base_url=jira_cloud.url) as admin:
        for token in list(oauth.access_tokens):
            await admin.post("/_sandbox/oauth/revoke", json={"token": token})
    tested = await hub.stub.TestConnection(
        pb.TestConnectionRequest(org_id=tenant[0], project_id=tenant[1], name="jira"), metadata=bearer(tokens.admin)
    )
    assert not tested.ok
    got = await hub.stub.GetIntegration(
        pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="jira"), metadata=bearer(tokens.admin)
    )
    assert got.connection_status == pb.CONNECTION_STATUS_NEEDS_REAUTHORIZATION
    again = await sign_in(hub, tokens.admin, tenant, site.name)
    assert again.integration.connection_status == pb.CONNECTION_STATUS_CONNECTED


@pytest.fixture
async def live(
    neo4j_connection: Connection,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    encryption_keys: str,
    jira_cloud: JiraSite,
    tmp_path: Path,
) -> AsyncIterator[RunningHub]:
    """One server with the applying worker and a public URL, behind the real gateway."""
    gateway_port = free_port()
    env = jira_env(server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys), jira_cloud) | {
        "WEBHOOK_WORKER": "on",
        "LIVE_SYNC_CHECK_SECONDS": "3600",
        "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{gateway_port}",
    }
    async with hub_with(env) as hub:
        config = GatewayConfig(server_target=hub.target, server_token=tokens.gateway, spool_path=tmp_path / "s.db")
        with UvicornThread(create_gateway(config), gateway_port):
            yield hub


async def auto_sync(hub: RunningHub, admin: str, tenant: tuple[str, str], on: bool) -> pb.Integration:
    wanted = pb.Integration(name="jira", settings=pb.IntegrationSettings(sync_settings=pb.SyncSettings(auto_sync=on)))
    saved: pb.Integration = await hub.stub.UpdateIntegration(
        pb.UpdateIntegrationRequest(
            org_id=tenant[0],
            project_id=tenant[1],
            integration=wanted,
            update_mask=field_mask_pb2.FieldMask(paths=["settings.sync_settings.auto_sync"]),
        ),
        metadata=bearer(admin),
    )
    return saved


async def test_an_oauth_project_lives_on_dynamic_webhooks_signed_with_a_jwt_and_refreshed_before_expiry(
    live: RunningHub, tokens: Tokens, tenant: tuple[str, str], jira_cloud: JiraSite, neo4j_driver: neo4j.Driver
) -> None:
    admin, hub = tokens.admin, live
    await sign_in(hub, admin, tenant, jira_cloud.sandbox.site.name)
    job = await hub.stub.StartImport(
        pb.StartImportRequest(org_id=tenant[0], project_id=tenant[1], name="jira"), metadata=bearer(admin)
    )
    assert (await watch(hub, admin, tenant, job.id))[-1].state == pb.IMPORT_JOB_STATE_SUCCEEDED
    enabled = await auto_sync(hub, admin, tenant, True)
    assert [w.status for w in enabled.webhooks] == ["active"]
    hooks = jira_cloud.sandbox.hub.webhooks
    dynamic = [h for h in hooks.values() if h.kind == "dynamic" and h.client_id == CLIENT_ID]
    assert len(dynamic) == 1, "a dynamic webhook, registered by the OAuth app"
    assert not any(h.kind == "admin" for h in hooks.values())

    site = jira_cloud.sandbox.site
    issue = next(
        i for i in site.issues.values() if site.can_browse(site.api_tokens.get(MAIN_TOKEN), site.projects[i.project_id])
    )
    async with httpx.AsyncClient(base_url=jira_cloud.url, timeout=60) as jira:
        renamed = await jira.patch(f"/_sandbox/issues/{issue.id}", json={"summary": "Renamed through a JWT delivery"})
        assert renamed.status_code == 200, renamed.text
        sent = (await jira.get("/_sandbox/deliveries", params={"wait": "true", "timeout": "30"})).json()["deliveries"]
    assert sent
    assert all(d["kind"] == "dynamic" and d["delivered"] for d in sent), sent

    def renamed_in_graph() -> bool:
        records, _, _ = neo4j_driver.execute_query(
            "MATCH (i:Issue {projectId: $p, externalId: $id}) RETURN i.name AS name", p=tenant[1], id=issue.id
        )
        return bool(records) and records[0]["name"] == "Renamed through a JWT delivery"

    await asyncio.to_thread(wait_until, renamed_in_graph, 60, "the rename applied")

    # Six days before expiry, the health check refreshes the registration for another 30 days.
    now_ms = jira_cloud.sandbox.now_ms()
    dynamic[0].expires_ms = now_ms + 6 * 24 * 3600 * 1000
    assert hub.server.live_sync is not None
    await hub.server.live_sync.check_once()
    assert dynamic[0].expires_ms is not None
    assert dynamic[0].expires_ms > now_ms + 29 * 24 * 3600 * 1000, "refreshed before it expired"

    disabled = await auto_sync(hub, admin, tenant, False)
    assert list(disabled.webhooks) == []
    assert not any(h.kind == "dynamic" for h in hooks.values()), "deleted in Jira too"
