from __future__ import annotations

import asyncio
import uuid

import neo4j
import pytest

from devtools.neo4j_local import Connection
from graph.connection import GraphConfig, open_driver
from graph.migrations import MIGRATIONS, Migration, MigrationError, applied_versions, migrate


async def drivers(connection: Connection, count: int) -> list[neo4j.AsyncDriver]:
    config = GraphConfig(connection.uri, connection.user, connection.password)
    return [await open_driver(config) for _ in range(count)]


async def test_migrations_are_recorded_and_rerunning_applies_nothing(neo4j_connection: Connection, hub: object) -> None:
    (driver,) = await drivers(neo4j_connection, 1)
    try:
        assert await migrate(driver, "neo4j") == []
        assert set(await applied_versions(driver, "neo4j")) == {m.version for m in MIGRATIONS}
        records, _, _ = await driver.execute_query("SHOW CONSTRAINTS YIELD name RETURN collect(name) AS names")
        assert "integration_key" in records[0]["names"]
    finally:
        await driver.close()


async def test_two_processes_migrating_at_once_apply_each_version_once(neo4j_connection: Connection) -> None:
    suffix = uuid.uuid4().hex[:8]
    scope = f"test-{suffix}"
    plan = [
        Migration(1, "first", (f"CREATE INDEX t{suffix}_a IF NOT EXISTS FOR (n:T{suffix}) ON (n.a)",)),
        Migration(2, "second", (f"CREATE INDEX t{suffix}_b IF NOT EXISTS FOR (n:T{suffix}) ON (n.b)",)),
    ]
    first, second = await drivers(neo4j_connection, 2)
    try:
        results = await asyncio.gather(
            migrate(first, "neo4j", plan, scope=scope), migrate(second, "neo4j", plan, scope=scope)
        )
        assert sorted(results) == [[], [1, 2]]
        records, _, _ = await first.execute_query(
            "MATCH (m:SchemaMigration {scope: $scope}) RETURN m.version AS v ORDER BY v", scope=scope
        )
        assert [r["v"] for r in records] == [1, 2]

        edited = [Migration(1, "first", (f"CREATE INDEX t{suffix}_c IF NOT EXISTS FOR (n:T{suffix}) ON (n.c)",))]
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(first, "neo4j", edited, scope=scope)
    finally:
        for name in ("a", "b"):
            await first.execute_query(f"DROP INDEX t{suffix}_{name} IF EXISTS")
        await first.execute_query(
            "MATCH (n) WHERE (n:SchemaMigration OR n:SchemaLock) AND n.scope = $scope DETACH DELETE n", scope=scope
        )
        await first.close()
        await second.close()
