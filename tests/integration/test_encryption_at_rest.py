"""Settings at rest: AAD binding, key rotation through the CLI, and what the raw database holds."""

from __future__ import annotations

import os
import subprocess
import sys

import grpc
import httpx
import neo4j

from integrations.v1 import integration_service_pb2 as pb
from server.crypto import KeyRing, generate_key_spec, record_aad
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, server_env
from tests.integration.rpc import failure
from tests.integration.test_gallery import configure, get, settings, update


async def issue_token(sandbox: RunningSandbox, user_id: int) -> str:
    async with httpx.AsyncClient(base_url=sandbox.url) as admin:
        token: str = (await admin.post("/_sandbox/tokens", json={"user_id": user_id})).json()["token"]
        return token


def ciphertext_of(driver: neo4j.Driver, tenant: tuple[str, str]) -> str:
    records, _, _ = driver.execute_query(
        "MATCH (i:Integration {orgId: $org, projectId: $project, name: 'clickup'}) RETURN i.settingsCiphertext AS c",
        org=tenant[0],
        project=tenant[1],
    )
    value: str = records[0]["c"]
    return value


async def test_ciphertexts_swapped_between_rows_refuse_to_decrypt(
    hub: RunningHub,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    neo4j_driver: neo4j.Driver,
    tenant: tuple[str, str],
) -> None:
    other = (tenant[0], "proj-2")
    await configure(hub, tokens, tenant)
    await configure(hub, tokens, other, await issue_token(clickup_sandbox, 5550002))
    first, second = ciphertext_of(neo4j_driver, tenant), ciphertext_of(neo4j_driver, other)
    neo4j_driver.execute_query(
        """
        MATCH (a:Integration {orgId: $org, projectId: $p1, name: 'clickup'}),
              (b:Integration {orgId: $org, projectId: $p2, name: 'clickup'})
        SET a.settingsCiphertext = $second, b.settingsCiphertext = $first
        """,
        org=tenant[0],
        p1=tenant[1],
        p2=other[1],
        first=first,
        second=second,
    )

    for victim in (tenant, other):
        refused = await failure(
            hub.stub.GetIntegration(
                pb.GetIntegrationRequest(org_id=victim[0], project_id=victim[1], name="clickup"),
                metadata=bearer(tokens.admin),
            )
        )
        assert refused.code == grpc.StatusCode.FAILED_PRECONDITION
        assert refused.reason == "SETTINGS_UNREADABLE"
        assert "pk_" not in refused.message

    listed = await hub.stub.ListIntegrations(
        pb.ListIntegrationsRequest(org_id=tenant[0], project_id=tenant[1]), metadata=bearer(tokens.admin)
    )
    row = listed.integrations[0]
    assert row.configured
    assert row.connection_status == pb.CONNECTION_STATUS_ERROR
    assert "cannot be decrypted" in row.last_error
    assert not row.HasField("settings")

    # A full settings update with real credentials repairs each row.
    for victim in (tenant, other):
        repaired = await hub.stub.UpdateIntegration(
            update(victim, "settings", new_settings=settings()), metadata=bearer(tokens.admin)
        )
        assert repaired.connection_status == pb.CONNECTION_STATUS_CONNECTED
        assert (await get(hub, tokens, victim)).configured


def rotate(env: dict[str, str], keys: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", "rotate-keys"],
        env={**env, "INTEGRATION_ENCRYPTION_KEYS": keys},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_rotate_keys_reseals_every_row_under_the_newest_key(
    hub: RunningHub,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    neo4j_driver: neo4j.Driver,
    neo4j_connection: object,
    encryption_keys: str,
    tenant: tuple[str, str],
) -> None:
    await configure(hub, tokens, tenant)
    await configure(hub, tokens, (tenant[0], "proj-2"))
    env = {
        **server_env(neo4j_connection, tokens, clickup_sandbox.api_url, encryption_keys),  # type: ignore[arg-type]
        "PATH": os.environ.get("PATH", ""),
    }
    new_key = generate_key_spec("k2")

    forward = rotate(env, f"{new_key},{encryption_keys}")
    assert forward.returncode == 0, forward.stderr
    rows, _, _ = neo4j_driver.execute_query(
        "MATCH (i:Integration) WHERE i.settingsCiphertext IS NOT NULL "
        "RETURN i.orgId AS org, i.projectId AS project, i.name AS name, i.settingsCiphertext AS c, "
        "i.settingsKeyId AS kid"
    )
    assert len(rows) >= 2
    assert f"re-encrypted {len(rows)} setting(s) under key 'k2'; 0 unreadable" in forward.stdout
    only_new = KeyRing.from_spec(new_key)  # the old key can now be retired
    for row in rows:
        assert row["kid"] == "k2"
        assert row["c"].startswith("v1.k2.")
        assert only_new.open(row["c"], record_aad(row["org"], row["project"], row["name"]))

    unreadable = await failure(
        hub.stub.GetIntegration(
            pb.GetIntegrationRequest(org_id=tenant[0], project_id=tenant[1], name="clickup"),
            metadata=bearer(tokens.admin),
        )
    )
    assert unreadable.reason == "SETTINGS_UNREADABLE", "a server without k2 cannot read rotated rows"

    back = rotate(env, f"{encryption_keys},{new_key}")
    assert back.returncode == 0, back.stderr
    assert (await get(hub, tokens, tenant)).settings.api_token == "pk_5****0000"
    assert rotate(env, encryption_keys).stdout.startswith("re-encrypted 0 setting(s)"), "rotation is idempotent"
