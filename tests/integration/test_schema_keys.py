"""A source's labels get their key constraints from its schema: no migration per new source."""

from __future__ import annotations

import asyncio

import neo4j
import pytest

from devtools.neo4j_local import Connection
from graph.connection import GraphConfig, open_driver
from graph.schema_keys import ensure_keys
from server.integrations.clickup.schema import SCHEMA as CLICKUP
from tests.integration.test_graph_writer import TOY


def key_constraints(driver: neo4j.Driver) -> dict[str, tuple[str, ...]]:
    records, _, _ = driver.execute_query(
        "SHOW CONSTRAINTS YIELD name, labelsOrTypes, properties, type WHERE type CONTAINS 'UNIQUENESS' "
        "RETURN name, labelsOrTypes[0] AS label, properties"
    )
    return {r["label"]: tuple(r["properties"]) for r in records}


async def test_every_kind_of_a_schema_gets_its_key_even_when_replicas_start_together(
    neo4j_connection: Connection, neo4j_driver: neo4j.Driver, tenant: tuple[str, str]
) -> None:
    driver = await open_driver(GraphConfig(neo4j_connection.uri, neo4j_connection.user, neo4j_connection.password))
    try:
        await asyncio.gather(*(ensure_keys(driver, "neo4j", TOY) for _ in range(3)))
        await ensure_keys(driver, "neo4j", CLICKUP)  # the core labels: their migration's constraints, kept
    finally:
        await driver.close()
    keys = key_constraints(neo4j_driver)
    for label in [*TOY.labels, *CLICKUP.labels]:
        assert keys.get(label) == ("projectId", "source", "externalId"), label

    create = "CREATE (:ToyBoard {projectId: $p, source: 'toy', externalId: 'same'})"
    neo4j_driver.execute_query(create, p=tenant[1])
    with pytest.raises(neo4j.exceptions.ConstraintError):
        neo4j_driver.execute_query(create, p=tenant[1])
