"""READ routing on the real Neo4j: what makes the suite catch a write marked READ.

Neo4j enforces a transaction's access mode on one Community server too (``Writing in read access mode
not allowed``, the same over ``neo4j://`` and ``bolt://``), so any test that reaches a write sent in
READ mode fails with it, and the suite runs over ``neo4j://`` (tests/conftest.py). The statements
routed READ are also run here, each once, so a write among them fails here even before a scenario
reaches it. What is routed where is checked on the source in ``tests/unit/test_graph_routing.py``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import neo4j
import pytest
from neo4j.exceptions import ClientError

from graph import cleanup
from graph.import_jobs import ImportJobStore
from graph.integration_store import IntegrationKey, IntegrationStore
from graph.rows import NodeRow, Rows
from graph.schema import GraphSchema, NodeKind
from graph.sealed_values import SEALED_FIELDS, SealedValues
from graph.webhook_inbox import EventFilter, WebhookInbox, WebhookRegistry
from graph.writer import GraphWriter

ACCESS_MODE = "Neo.ClientError.Statement.AccessMode"
PROBE = GraphSchema(source="routing-probe", kinds=(NodeKind("RoutingProbe"),), swept=("RoutingProbe",))


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE (:RoutingProbe {tag: $tag})",
        "MERGE (:RoutingProbe {tag: $tag})",
        "MATCH (n:RoutingProbe {tag: $tag}) SET n.seen = true",  # matches nothing: refused all the same
        "MATCH (n:RoutingProbe {tag: $tag}) DETACH DELETE n",
        "CREATE CONSTRAINT routing_probe_tag IF NOT EXISTS FOR (n:RoutingProbe) REQUIRE n.tag IS UNIQUE",
    ],
)
async def test_the_server_refuses_a_write_sent_in_read_mode(graph_driver: neo4j.AsyncDriver, statement: str) -> None:
    tag = uuid.uuid4().hex
    with pytest.raises(ClientError) as refused:
        await graph_driver.execute_query(statement, tag=tag, database_="neo4j", routing_=neo4j.RoutingControl.READ)
    assert refused.value.code == ACCESS_MODE
    records, _, _ = await graph_driver.execute_query(
        "MATCH (n:RoutingProbe {tag: $tag}) RETURN count(n) AS n", tag=tag, database_="neo4j"
    )
    assert records[0]["n"] == 0
    constraints, _, _ = await graph_driver.execute_query(
        "SHOW CONSTRAINTS YIELD name WHERE name = 'routing_probe_tag' RETURN name",
        database_="neo4j",
        routing_=neo4j.RoutingControl.READ,
    )
    assert constraints == []


async def test_a_managed_read_transaction_refuses_a_write(graph_driver: neo4j.AsyncDriver) -> None:
    async def work(tx: neo4j.AsyncManagedTransaction) -> None:
        await (await tx.run("CREATE (:RoutingProbe {tag: 'read-tx'})")).consume()

    async with graph_driver.session(
        database="neo4j", bookmark_manager=graph_driver.execute_query_bookmark_manager
    ) as session:
        with pytest.raises(ClientError) as refused:
            await session.execute_read(work)
    assert refused.value.code == ACCESS_MODE


async def test_the_statements_routed_to_followers_run_in_read_mode(
    graph_driver: neo4j.AsyncDriver, tenant: tuple[str, str]
) -> None:
    """Each READ statement once, on a tenant of its own (what they return is other tests' business)."""
    org, project = tenant
    now = datetime.now(UTC)
    jobs = ImportJobStore(graph_driver, "neo4j")  # no job made: a running server's orphan scan would take it
    assert await jobs.get(uuid.uuid4().hex) is None
    assert await jobs.list_jobs(org, project, None, 0, 10) == []
    await jobs.orphans()
    assert await jobs.sync_state(org, project, "routing-probe") is None

    store = IntegrationStore(graph_driver, "neo4j")
    assert await store.get(IntegrationKey(org, project, "routing-probe")) is None
    assert await store.list_for_project(org, project) == []
    await store.enabled_keys()

    values = SealedValues(graph_driver, "neo4j")
    for field in SEALED_FIELDS:
        await values.count(field, "no-such-prefix:")
        await values.not_under(field, "no-such-prefix:", "", 1)
        assert await values.by_element_ids(field, "no-such-prefix:", []) == []

    inbox = WebhookInbox(graph_driver, "neo4j")
    assert await inbox.list_events(org, project, EventFilter(), 0, 10) == []
    assert await inbox.dead_letters(org, project, [], now - timedelta(days=1), now) == []
    await inbox.depth_by_state()
    registry = WebhookRegistry(graph_driver, "neo4j")
    assert await registry.for_project(org, project, "routing-probe") == []
    await registry.all_registrations()

    writer = GraphWriter(graph_driver, "neo4j", org, project, PROBE)
    await writer.write(
        Rows([NodeRow("RoutingProbe", "seen", "w1", {}), NodeRow("RoutingProbe", "gone", "w1", {})]), "r"
    )
    assert await writer.totals() == {"routingprobe": 2}
    assert await cleanup.sweep(graph_driver, "neo4j", PROBE, project, ["w1"], {"RoutingProbe": {"seen"}}) == {
        "RoutingProbe": 1
    }


async def test_a_write_in_the_writers_session_moves_the_bookmarks_execute_query_reads_after(
    graph_driver: neo4j.AsyncDriver, tenant: tuple[str, str]
) -> None:
    """The writer's session feeds the driver's bookmark manager: on a cluster, the totals read that
    follows an import's write then waits for a follower that has it."""
    manager = graph_driver.execute_query_bookmark_manager
    writer = GraphWriter(graph_driver, "neo4j", *tenant, PROBE)
    before = await manager.get_bookmarks()
    await writer.write(Rows([NodeRow("RoutingProbe", "one", "w1", {})]), "r")
    after = await manager.get_bookmarks()
    assert after
    assert after != before
