"""The grace-period store against Neo4j: extra secrets expire by filter and by purge, a promotion
swaps the current and the new secret in one step, and nothing is kept for an unknown webhook."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import neo4j
import pytest

from graph.webhook_inbox import WebhookRegistration, WebhookRegistry
from graph.webhook_secrets import WebhookSecrets


def ids() -> tuple[str, str]:
    return "jira", f"store-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(autouse=True)
async def leave_nothing(graph_driver: neo4j.AsyncDriver) -> AsyncIterator[None]:
    """The rows here hold made-up ciphertext: key rotation and the at-rest audit read every row."""
    yield
    await graph_driver.execute_query(
        "MATCH (n) WHERE (n:WebhookPreviousSecret OR n:WebhookRetirement OR n:WebhookRegistration) "
        "AND n.webhookId STARTS WITH 'store-test-' DETACH DELETE n"
    )


async def test_extra_secrets_count_until_their_grace_ends(graph_driver: neo4j.AsyncDriver) -> None:
    store, (integration, hook) = WebhookSecrets(graph_driver, "neo4j"), ids()
    now = datetime.now(UTC)
    await store.accept(integration, hook, "v1.k.older", now + timedelta(minutes=5))
    await store.accept(integration, hook, "v1.k.newer", now + timedelta(minutes=10))
    await store.accept(integration, hook, "v1.k.expired", now - timedelta(seconds=1))
    grace = await store.grace(integration, hook, now)
    assert [a.sealed for a in grace.accepted] == ["v1.k.newer", "v1.k.older"]
    assert grace.retiring_until is None
    assert [a.sealed for a in (await store.grace(integration, hook, now + timedelta(minutes=6))).accepted] == [
        "v1.k.newer"
    ]

    assert await store.purge_expired(now) >= 1
    records, _, _ = await graph_driver.execute_query(
        "MATCH (p:WebhookPreviousSecret {webhookId: $hook}) RETURN p.secretCiphertext AS s ORDER BY s", hook=hook
    )
    assert [r["s"] for r in records] == ["v1.k.newer", "v1.k.older"], "only the expired one purged"

    await store.withdraw(integration, hook, "v1.k.older")
    assert [a.sealed for a in (await store.grace(integration, hook, now)).accepted] == ["v1.k.newer"]


async def test_a_promotion_makes_the_new_secret_current_and_keeps_the_old_one_for_the_grace(
    graph_driver: neo4j.AsyncDriver,
) -> None:
    store, registry, (integration, hook) = (
        WebhookSecrets(graph_driver, "neo4j"),
        WebhookRegistry(graph_driver, "neo4j"),
        ids(),
    )
    await registry.save(WebhookRegistration(integration, hook, "org", "proj", "site", "v1.k.old"))
    until = datetime.now(UTC) + timedelta(minutes=10)
    await store.accept(integration, hook, "v1.k.new", until)
    assert await store.promote(integration, hook, "v1.k.new", until)
    registration = await registry.get(integration, hook)
    assert registration is not None
    assert registration.secret_ciphertext == "v1.k.new"
    grace = await store.grace(integration, hook, datetime.now(UTC))
    assert [(a.sealed, a.until) for a in grace.accepted] == [("v1.k.old", until)], "the new one is no extra any more"

    await store.retire(integration, hook, until)
    assert (await store.grace(integration, hook, datetime.now(UTC))).retiring_until == until
    await store.forget(integration, hook)
    left = await store.grace(integration, hook, datetime.now(UTC))
    assert (left.accepted, left.retiring_until) == ([], None), "nothing left of it"


async def test_nothing_is_promoted_for_a_webhook_that_is_not_registered(graph_driver: neo4j.AsyncDriver) -> None:
    store, (integration, hook) = WebhookSecrets(graph_driver, "neo4j"), ids()
    assert not await store.promote(integration, hook, "v1.k.new", datetime.now(UTC) + timedelta(minutes=1))
    assert (await store.grace(integration, hook, datetime.now(UTC))).accepted == []
