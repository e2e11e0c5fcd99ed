"""Runs last in this folder on purpose: audits everything the suite wrote to Neo4j."""

from __future__ import annotations

import neo4j

from tests.conftest import RunningSandbox


def test_no_integration_row_holds_a_secret_in_clear(
    neo4j_driver: neo4j.Driver, clickup_sandbox: RunningSandbox
) -> None:
    records, _, _ = neo4j_driver.execute_query("MATCH (i:Integration) RETURN i")
    assert len(records) >= 10, "the suite configured integrations before this audit"
    secrets = [t for t in clickup_sandbox.sandbox.world.tokens] + ["dummy_good_token_123"]
    for record in records:
        node = record["i"]
        flat = " ".join(str(value) for value in dict(node).values())
        assert "pk_" not in flat
        assert not any(secret in flat for secret in secrets)
        if node.get("settingsCiphertext") is not None:
            assert node["settingsCiphertext"].startswith(f"v1.{node['settingsKeyId']}.")
