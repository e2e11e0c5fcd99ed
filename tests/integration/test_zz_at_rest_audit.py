"""Runs last in this folder on purpose: audits everything the suite wrote to Neo4j."""

from __future__ import annotations

import re

import neo4j

from graph.sealed_values import SEALED_FIELDS
from server.crypto import KeyRing
from server.rotate import aad_of
from tests.conftest import RunningSandbox
from tests.sandbox import vectors as tv

SEALED = re.compile(r"v1\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{20,}")


def test_no_integration_row_holds_a_secret_in_clear(
    neo4j_driver: neo4j.Driver, clickup_sandbox: RunningSandbox
) -> None:
    records, _, _ = neo4j_driver.execute_query("MATCH (i:Integration) RETURN i")
    assert len(records) >= 10, "the suite configured integrations before this audit"
    secrets = [t for t in clickup_sandbox.sandbox.world.tokens] + ["dummy_good_token_123"]
    for record in records:
        node = record["i"]
        values = [str(value) for value in dict(node).values()]
        flat = " ".join(values)
        # A ClickUp personal token starts with "pk_"; ciphertext is random base64url and may hold
        # those three characters by chance, so the prefix check skips sealed values (whose
        # plaintext the next check and the audit below cover).
        assert not any("pk_" in value for value in values if not SEALED.fullmatch(value))
        assert not any(secret in flat for secret in secrets)
        if node.get("settingsCiphertext") is not None:
            assert node["settingsCiphertext"].startswith(f"v1.{node['settingsKeyId']}.")


def test_no_webhook_registration_holds_its_secret_in_clear(neo4j_driver: neo4j.Driver) -> None:
    records, _, _ = neo4j_driver.execute_query("MATCH (w:WebhookRegistration) RETURN w")
    assert records, "the suite registered webhooks before this audit"
    for record in records:
        node = dict(record["w"])
        assert SEALED.fullmatch(node["secretCiphertext"])
        assert tv.TV_SECRET not in " ".join(str(value) for value in node.values())


def test_every_sealed_value_is_a_listed_field_and_opens_with_the_session_key(
    neo4j_driver: neo4j.Driver, encryption_keys: str
) -> None:
    """Rotation covers exactly the fields in graph.sealed_values: a sealed property missing from that
    list would be skipped by rotate-keys (and stranded when the old key is dropped). And nothing is
    left under a key the suite no longer has."""
    listed = {(f.label, f.property): f for f in SEALED_FIELDS}
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (n) UNWIND keys(n) AS k WITH n, k WHERE n[k] IS :: STRING AND n[k] STARTS WITH 'v1.' "
        "RETURN labels(n) AS labels, k, n[k] AS value, n AS node"
    )
    keyring = KeyRing.from_spec(encryption_keys)
    seen = 0
    for record in records:
        if not SEALED.fullmatch(record["value"]):
            continue
        where = [(label, record["k"]) for label in record["labels"] if (label, record["k"]) in listed]
        assert where, f"{record['labels']}.{record['k']} holds a sealed value but is not in SEALED_FIELDS"
        field = listed[where[0]]
        identity = tuple(str(record["node"][name]) for name in field.identity)
        assert keyring.open(record["value"], aad_of(field, identity)), f"{field.name} {'/'.join(identity)}"
        seen += 1
    assert seen, "the suite sealed values before this audit"
