"""Sealed values at rest: AAD binding, key rotation through the CLI (settings and webhook secrets), and
what the raw database holds."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import httpx
import neo4j

from integrations.v1 import integration_service_pb2 as pb
from server.crypto import KeyRing, generate_key_spec, record_aad
from server.webhooks import secret_aad
from tests.conftest import RunningHub, RunningSandbox, Tokens, bearer, server_env, start_hub
from tests.integration.rpc import failure
from tests.integration.test_gallery import configure, get, settings, update
from tests.support import UvicornThread, wait_until
from webhook_gateway.app import create_app as create_gateway
from webhook_gateway.config import GatewayConfig


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
    other = (tenant[0], f"{tenant[1]}-2")
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


def rotate(env: dict[str, str], keys: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server", "rotate-keys", *extra],
        env={**env, "INTEGRATION_ENCRYPTION_KEYS": keys},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def sealed_values_under(driver: neo4j.Driver, key_id: str) -> list[str]:
    """Every property of every node that holds a value sealed under ``key_id`` (label.property)."""
    records, _, _ = driver.execute_query(
        "MATCH (n) UNWIND keys(n) AS k WITH n, k WHERE n[k] IS :: STRING AND n[k] STARTS WITH $prefix "
        "RETURN labels(n)[0] + '.' + k AS where",
        prefix=f"v1.{key_id}.",
    )
    return [r["where"] for r in records]


def cli_env(neo4j_connection: object, tokens: Tokens, sandbox: RunningSandbox, keys: str) -> dict[str, str]:
    env = server_env(neo4j_connection, tokens, sandbox.api_url, keys)  # type: ignore[arg-type]
    return {**env, "PATH": os.environ.get("PATH", "")}


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
    await configure(hub, tokens, (tenant[0], f"{tenant[1]}-2"))
    env = cli_env(neo4j_connection, tokens, clickup_sandbox, encryption_keys)
    new_key = generate_key_spec("k2")

    forward = rotate(env, f"{new_key},{encryption_keys}", "--batch", "1")
    try:
        assert forward.returncode == 0, forward.stdout + forward.stderr
        rows, _, _ = neo4j_driver.execute_query(
            "MATCH (i:Integration) WHERE i.settingsCiphertext IS NOT NULL "
            "RETURN i.orgId AS org, i.projectId AS project, i.name AS name, i.settingsCiphertext AS c, "
            "i.settingsKeyId AS kid"
        )
        assert len(rows) >= 2
        assert f"integration settings: {len(rows)} re-sealed, 0 already current, 0 unreadable" in forward.stdout
        assert "done: every sealed value is under key 'k2'" in forward.stdout
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
    finally:
        back = rotate(env, f"{encryption_keys},{new_key}")
    assert back.returncode == 0, back.stdout + back.stderr
    assert (await get(hub, tokens, tenant)).settings.api_token == "pk_5****0000"
    again = rotate(env, encryption_keys)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "integration settings: 0 re-sealed" in again.stdout, "rotation is idempotent"
    assert "webhook secret: 0 re-sealed" in again.stdout


async def test_after_rotating_and_dropping_the_old_key_signed_deliveries_still_verify(
    hub: RunningHub,
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    neo4j_driver: neo4j.Driver,
    neo4j_connection: object,
    encryption_keys: str,
    tenant: tuple[str, str],
    tmp_path: Path,
) -> None:
    """The README's steps end to end: new key first, rotate-keys, drop the old key, restart."""
    webhook_id, secret = str(uuid.uuid4()), f"whsec-{uuid.uuid4().hex}"
    await configure(hub, tokens, tenant)  # first: an update without auto-sync removes the project's webhooks
    await hub.server.webhooks.register("clickup", webhook_id, tenant[0], tenant[1], "90120000", secret)
    old_key_id = encryption_keys.partition(":")[0]
    new_key = generate_key_spec("k2")
    env = cli_env(neo4j_connection, tokens, clickup_sandbox, encryption_keys)

    forward = rotate(env, f"{new_key},{encryption_keys}")
    try:
        assert forward.returncode == 0, forward.stdout + forward.stderr
        resealed = re.search(
            r"^webhook secret: (\d+) re-sealed, 0 already current, 0 unreadable$", forward.stdout, re.M
        )
        assert resealed, forward.stdout
        assert int(resealed[1]) >= 1
        assert sealed_values_under(neo4j_driver, old_key_id) == [], "nothing is left under the old key"
        assert secret not in forward.stdout + forward.stderr

        only_new = await start_hub(server_env(neo4j_connection, tokens, clickup_sandbox.api_url, new_key))  # type: ignore[arg-type]
        try:
            answer = await only_new.stub.GetWebhookSecret(
                pb.GetWebhookSecretRequest(integration="clickup", webhook_id=webhook_id),
                metadata=bearer(tokens.gateway),
            )
            assert answer.secret == secret
            assert (await get(only_new, tokens, tenant)).settings.api_token == "pk_5****0000"

            body = json.dumps(
                {
                    "event": "taskUpdated",
                    "history_items": [{"id": uuid.uuid4().hex}],
                    "task_id": "86x",
                    "webhook_id": webhook_id,
                },
                separators=(",", ":"),
            ).encode()
            signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            config = GatewayConfig(
                server_target=only_new.target, server_token=tokens.gateway, spool_path=tmp_path / "s.db"
            )
            with UvicornThread(create_gateway(config)) as gateway:
                async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
                    headers = {"Content-Type": "application/json"}
                    forged = await client.post(
                        "/webhooks/clickup", content=body, headers={**headers, "X-Signature": "0" * 64}
                    )
                    assert forged.status_code == 401, "verification is real"
                    signed = await client.post(
                        "/webhooks/clickup", content=body, headers={**headers, "X-Signature": signature}
                    )
                    assert signed.status_code == 200, signed.text
                    await asyncio.to_thread(
                        wait_until, lambda: stored_events(neo4j_driver, tenant) == 1, 30, "the delivery stored"
                    )
        finally:
            await only_new.channel.close(None)
            await only_new.server.stop(grace=1)
    finally:  # the rest of the suite runs with the session key only
        back = rotate(env, f"{encryption_keys},{new_key}")
    assert back.returncode == 0, back.stdout + back.stderr
    assert sealed_values_under(neo4j_driver, "k2") == []


def stored_events(driver: neo4j.Driver, tenant: tuple[str, str]) -> int:
    records, _, _ = driver.execute_query(
        "MATCH (e:WebhookEvent {orgId: $org, projectId: $project}) RETURN count(e) AS n",
        org=tenant[0],
        project=tenant[1],
    )
    return int(records[0]["n"])


async def test_rows_that_cannot_be_read_are_reported_by_identity_and_fail_the_run(
    tokens: Tokens,
    clickup_sandbox: RunningSandbox,
    neo4j_driver: neo4j.Driver,
    neo4j_connection: object,
    encryption_keys: str,
) -> None:
    """A value sealed with a key that is not configured stays as it is, and the run says so (exit 1)."""
    webhook_id, secret = str(uuid.uuid4()), f"whsec-{uuid.uuid4().hex}"
    lost = KeyRing.from_spec(generate_key_spec("k0")).seal(secret.encode(), secret_aad("clickup", webhook_id))
    neo4j_driver.execute_query(
        "CREATE (:WebhookRegistration {integration: 'clickup', webhookId: $id, orgId: 'o', projectId: 'p', "
        "workspaceId: 'w', secretCiphertext: $sealed})",
        id=webhook_id,
        sealed=lost,
    )
    env = cli_env(neo4j_connection, tokens, clickup_sandbox, encryption_keys)
    try:
        result = rotate(env, encryption_keys)
        checked = rotate(env, encryption_keys, "--check")
    finally:
        neo4j_driver.execute_query("MATCH (w:WebhookRegistration {webhookId: $id}) DELETE w", id=webhook_id)
    assert result.returncode == 1
    assert re.search(r"^webhook secret: 0 re-sealed, \d+ already current, 1 unreadable$", result.stdout, re.M)
    assert f"unreadable webhook secret clickup/{webhook_id}: sealed with key 'k0', which is not configured" in (
        result.stdout
    )
    assert "keep the older keys configured" in result.stderr
    assert secret not in result.stdout + result.stderr
    assert lost not in result.stdout + result.stderr
    assert checked.returncode == 1
    key_id = encryption_keys.partition(":")[0]
    assert re.search(rf"^webhook secret: \d+ under key '{key_id}', 1 not \(yet\)$", checked.stdout, re.M)
