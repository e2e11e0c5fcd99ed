"""The uniqueness constraints a source's schema needs, created from the schema itself.

Every node the writer loads is keyed on ``(projectId, source, externalId)`` per label. The core
labels got their constraints in a migration; a new source declares new labels in its schema, and
this module gives them the same constraint when the server starts (``CREATE ... IF NOT EXISTS``,
so every replica may run it, at once, on every start). The constraint is both the idempotency
guarantee (two writers can never create the same node twice) and the index the writer's lookups use.
"""

from __future__ import annotations

import neo4j
from neo4j.exceptions import ClientError

from graph.schema import GraphSchema

# Another replica created the same constraint a moment earlier (a race IF NOT EXISTS does not close).
_ALREADY_THERE = (
    "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
    "Neo.ClientError.Schema.ConstraintAlreadyExists",
    "Neo.ClientError.Schema.ConstraintWithNameAlreadyExists",
)


def key_constraint(label: str) -> str:
    """The constraint statement for one kind; named as migration 2 named the first ones."""
    return (
        f"CREATE CONSTRAINT {label.lower()}_key IF NOT EXISTS FOR (n:{label}) "
        "REQUIRE (n.projectId, n.source, n.externalId) IS UNIQUE"
    )


async def ensure_keys(driver: neo4j.AsyncDriver, database: str, schema: GraphSchema) -> list[str]:
    """Make sure every kind of ``schema`` has its key constraint; returns the labels checked."""
    for label in schema.labels:  # plain identifiers: GraphSchema checks them
        try:
            await driver.execute_query(key_constraint(label), database_=database, routing_=neo4j.RoutingControl.WRITE)
        except ClientError as error:
            if error.code not in _ALREADY_THERE:
                raise
    return list(schema.labels)
