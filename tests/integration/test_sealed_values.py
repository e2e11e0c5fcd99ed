"""Key rotation against the real Neo4j: batches, a run stopped half-way, a writer racing the swap.

Rows here are sealed under keys of their own (the session's rows then count as unreadable to the
ring used and are left untouched), and removed afterwards so the suite-wide audit stays exact.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping

import neo4j
import pytest

from devtools.neo4j_local import Connection
from graph.integration_store import ConcurrentUpdateError, IntegrationKey, IntegrationStore
from graph.sealed_values import INTEGRATION_SETTINGS, WEBHOOK_SECRET, SealedField, SealedRow, SealedValues
from server.crypto import KeyRing, generate_key_spec
from server.rotate import FieldReport, aad_of, rotate_keys


@pytest.fixture
async def driver(neo4j_connection: Connection) -> AsyncIterator[neo4j.AsyncDriver]:
    async with neo4j.AsyncGraphDatabase.driver(
        neo4j_connection.uri, auth=(neo4j_connection.user, neo4j_connection.password)
    ) as async_driver:
        yield async_driver


@pytest.fixture
async def org(driver: neo4j.AsyncDriver) -> AsyncIterator[str]:
    """An org of this test's own; everything it wrote is removed afterwards."""
    name = f"org-{uuid.uuid4().hex[:12]}"
    yield name
    await driver.execute_query("MATCH (n {orgId: $org}) DETACH DELETE n", org=name, database_="neo4j")


def ring(*ids: str) -> tuple[KeyRing, list[str]]:
    """A key ring with fresh keys of these ids (first seals), and the specs to build narrower rings."""
    specs = [generate_key_spec(key_id) for key_id in ids]
    return KeyRing.from_spec(",".join(specs)), specs


async def seal_webhooks(driver: neo4j.AsyncDriver, org: str, keyring: KeyRing, count: int) -> dict[str, str]:
    """``count`` webhook registrations of ``org``, sealed by ``keyring``; returns webhook id -> secret."""
    secrets = {str(uuid.uuid4()): f"whsec-{uuid.uuid4().hex}" for _ in range(count)}
    await driver.execute_query(
        "UNWIND $rows AS row CREATE (:WebhookRegistration {integration: 'clickup', webhookId: row.id, orgId: $org, "
        "projectId: 'p', workspaceId: 'w', secretCiphertext: row.sealed})",
        rows=[
            {"id": wid, "sealed": keyring.seal(secret.encode(), aad_of(WEBHOOK_SECRET, ("clickup", wid)))}
            for wid, secret in secrets.items()
        ],
        org=org,
        database_="neo4j",
    )
    return secrets


async def stored_secrets(driver: neo4j.AsyncDriver, org: str) -> dict[str, str]:
    records, _, _ = await driver.execute_query(
        "MATCH (w:WebhookRegistration {orgId: $org}) RETURN w.webhookId AS id, w.secretCiphertext AS sealed",
        org=org,
        database_="neo4j",
    )
    return {r["id"]: r["sealed"] for r in records}


def report_of(reports: list[FieldReport], field: SealedField) -> FieldReport:
    return next(r for r in reports if r.name == field.name)


class Crash(RuntimeError):
    pass


class CrashAfterFirstBatch(SealedValues):
    """The process dies after its first committed batch.

    Its walk sees only the test's own webhook rows: rows other tests left behind are unreadable to
    this ring, and where they sort (by element id, which Neo4j reuses) would otherwise decide how
    many of the test's rows the first batch holds."""

    swaps = 0

    def __init__(self, driver: neo4j.AsyncDriver, mine: set[str]) -> None:
        super().__init__(driver, "neo4j")
        self._mine = mine

    async def not_under(self, field: SealedField, prefix: str, after: str, limit: int) -> list[SealedRow]:
        rows = await super().not_under(field, prefix, after, 1_000_000)
        return [row for row in rows if field is WEBHOOK_SECRET and row.identity[1] in self._mine][:limit]

    async def swap(self, field: SealedField, key_id: str, swaps: Mapping[SealedRow, str]) -> set[str]:
        if self.swaps:
            raise Crash
        self.swaps += 1
        return await super().swap(field, key_id, swaps)


async def test_a_run_stopped_half_way_is_finished_by_running_again(driver: neo4j.AsyncDriver, org: str) -> None:
    keyring, (new_spec, old_spec) = ring("kb", "ka")
    secrets = await seal_webhooks(driver, org, KeyRing.from_spec(old_spec), 7)

    with pytest.raises(Crash):
        await rotate_keys(CrashAfterFirstBatch(driver, set(secrets)), keyring, batch=2)
    stored = await stored_secrets(driver, org)
    assert sum(v.startswith("v1.kb.") for v in stored.values()) == 2, "the first batch was committed"

    report = await rotate_keys(SealedValues(driver, "neo4j"), keyring, batch=2)
    webhooks = report_of(report.fields, WEBHOOK_SECRET)
    assert webhooks.resealed == 5
    assert webhooks.already_current == 2
    assert not any(who.startswith("clickup/") and who[8:] in secrets for who, _ in webhooks.unreadable)
    only_new = KeyRing.from_spec(new_spec)
    for webhook_id, sealed in (await stored_secrets(driver, org)).items():
        assert only_new.open(sealed, aad_of(WEBHOOK_SECRET, ("clickup", webhook_id))).decode() == secrets[webhook_id]


class RacingWriter(SealedValues):
    """Before the first swap, a server still sealing with the old key rewrites one row of the batch."""

    def __init__(self, driver: neo4j.AsyncDriver, old: KeyRing, secret: str) -> None:
        super().__init__(driver, "neo4j")
        self._driver_for_race = driver
        self._old = old
        self._secret = secret
        self.raced: str | None = None

    async def swap(self, field: SealedField, key_id: str, swaps: Mapping[SealedRow, str]) -> set[str]:
        if self.raced is None and field is WEBHOOK_SECRET and swaps:
            row = next(iter(swaps))
            self.raced = row.identity[1]
            await self._driver_for_race.execute_query(
                "MATCH (w:WebhookRegistration) WHERE elementId(w) = $id SET w.secretCiphertext = $sealed",
                id=row.element_id,
                sealed=self._old.seal(self._secret.encode(), aad_of(WEBHOOK_SECRET, row.identity)),
                database_="neo4j",
            )
        return await super().swap(field, key_id, swaps)


async def test_a_row_rewritten_during_the_swap_is_read_again_not_overwritten(
    driver: neo4j.AsyncDriver, org: str
) -> None:
    keyring, (new_spec, old_spec) = ring("kd", "kc")
    old = KeyRing.from_spec(old_spec)
    await seal_webhooks(driver, org, old, 3)
    racing = RacingWriter(driver, old, "rewritten-secret")

    report = await rotate_keys(racing, keyring, batch=10)

    webhooks = report_of(report.fields, WEBHOOK_SECRET)
    assert webhooks.changed == 0
    assert webhooks.resealed == 3, "two in the batch, the raced one on its second read"
    assert racing.raced is not None
    sealed = (await stored_secrets(driver, org))[racing.raced]
    opened = KeyRing.from_spec(new_spec).open(sealed, aad_of(WEBHOOK_SECRET, ("clickup", racing.raced)))
    assert opened == b"rewritten-secret", "the racing writer's value was re-sealed, not the stale one"


async def test_a_writer_holding_a_read_from_before_the_rotation_cannot_write_the_old_value_back(
    driver: neo4j.AsyncDriver, org: str
) -> None:
    keyring, (_, old_spec) = ring("kf", "ke")
    key = IntegrationKey(org, f"proj-{uuid.uuid4().hex[:12]}", "clickup")
    sealed = KeyRing.from_spec(old_spec).seal(
        b"settings", aad_of(INTEGRATION_SETTINGS, (key.org_id, key.project_id, key.name))
    )
    await driver.execute_query(
        "CREATE (:Integration {orgId: $org, projectId: $project, name: $name, enabled: false, version: 3, "
        "settingsCiphertext: $sealed, settingsKeyId: 'ke'})",
        org=key.org_id,
        project=key.project_id,
        name=key.name,
        sealed=sealed,
        database_="neo4j",
    )
    store = IntegrationStore(driver, "neo4j")
    stale = await store.get(key)
    assert stale is not None

    report = await rotate_keys(SealedValues(driver, "neo4j"), keyring)

    assert report_of(report.fields, INTEGRATION_SETTINGS).resealed == 1
    rotated = await store.get(key)
    assert rotated is not None
    assert rotated.settings_key_id == "kf"
    assert rotated.version == 4
    with pytest.raises(ConcurrentUpdateError):
        await store.save(stale.with_changes(enabled=True))  # would put the "ke" ciphertext back
