"""Secrets a webhook is still verified with besides its current one, and webhooks on their way out.

A regenerated secret does not retire the old one at once: deliveries signed with it may still be
on their way (queued or retried by the third party, spooled by the gateway). Until the grace period
ends it stays accepted as a ``(:WebhookPreviousSecret {integration, webhookId, secretCiphertext,
until})``, sealed exactly as the registration's current secret is (same key ring, same associated
data: the webhook's identity), so it can be moved between the two without being opened.

A third party that cannot give a webhook a new secret gets a new webhook instead; the old one keeps
its registration (and secret) until ``(:WebhookRetirement {integration, webhookId, until})`` says
its grace is over, and is then deleted there and here.

Expired rows are filtered out by every read and purged by the supervisor; nothing depends on the
purge having run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import neo4j

from graph.connection import to_datetime


@dataclass(frozen=True)
class AcceptedSecret:
    """A sealed secret still accepted for a webhook, until ``until``."""

    sealed: str
    until: datetime


@dataclass(frozen=True)
class Grace:
    """What a webhook's secret lookup needs beyond the registration: the extra secrets still accepted
    (newest first) and, for a webhook being retired, when its own grace ends."""

    accepted: list[AcceptedSecret]
    retiring_until: datetime | None


@dataclass(frozen=True)
class Retirement:
    integration: str
    webhook_id: str
    until: datetime


class WebhookSecrets:
    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def accept(self, integration: str, webhook_id: str, sealed: str, until: datetime) -> None:
        """Accept ``sealed`` for the webhook until ``until``, besides its current secret."""
        await self._driver.execute_query(
            "CREATE (:WebhookPreviousSecret {integration: $integration, webhookId: $webhook, "
            "secretCiphertext: $sealed, until: $until, createdAt: datetime()})",
            integration=integration,
            webhook=webhook_id,
            sealed=sealed,
            until=until,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def withdraw(self, integration: str, webhook_id: str, sealed: str) -> None:
        await self._driver.execute_query(
            "MATCH (p:WebhookPreviousSecret {integration: $integration, webhookId: $webhook}) "
            "WHERE p.secretCiphertext = $sealed DELETE p",
            integration=integration,
            webhook=webhook_id,
            sealed=sealed,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def promote(self, integration: str, webhook_id: str, sealed: str, old_until: datetime) -> bool:
        """In one transaction: the registration's current secret becomes a previous one (accepted until
        ``old_until``) and ``sealed`` becomes current (no longer listed as an extra). False when the
        webhook is not registered (any more)."""
        records, _, _ = await self._driver.execute_query(
            """
            MATCH (w:WebhookRegistration {integration: $integration, webhookId: $webhook})
            CREATE (:WebhookPreviousSecret {integration: $integration, webhookId: $webhook,
                                            secretCiphertext: w.secretCiphertext, until: $until,
                                            createdAt: datetime()})
            SET w.secretCiphertext = $sealed, w.updatedAt = datetime()
            WITH w
            OPTIONAL MATCH (p:WebhookPreviousSecret {integration: $integration, webhookId: $webhook,
                                                     secretCiphertext: $sealed})
            DELETE p
            RETURN count(DISTINCT w) AS promoted
            """,
            integration=integration,
            webhook=webhook_id,
            sealed=sealed,
            until=old_until,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return bool(records and records[0]["promoted"])

    async def grace(self, integration: str, webhook_id: str, now: datetime) -> Grace:
        """The unexpired extra secrets and the retirement, in one read. On the leader, like the
        registration's own lookup: a secret accepted a moment ago on another replica must be seen."""
        records, _, _ = await self._driver.execute_query(
            """
            OPTIONAL MATCH (r:WebhookRetirement {integration: $integration, webhookId: $webhook})
            WITH r.until AS retiring
            OPTIONAL MATCH (p:WebhookPreviousSecret {integration: $integration, webhookId: $webhook})
            WHERE p.until > $now
            WITH retiring, p ORDER BY p.createdAt DESC
            RETURN retiring, [x IN collect(p) | {sealed: x.secretCiphertext, until: x.until}] AS accepted
            """,
            integration=integration,
            webhook=webhook_id,
            now=now,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        record = records[0]
        accepted = [AcceptedSecret(str(a["sealed"]), _when(a["until"])) for a in record["accepted"]]
        return Grace(accepted, to_datetime(record["retiring"]))

    async def retire(self, integration: str, webhook_id: str, until: datetime) -> None:
        """The webhook is to be deleted once ``until`` has passed (its replacement is registered)."""
        await self._driver.execute_query(
            "MERGE (r:WebhookRetirement {integration: $integration, webhookId: $webhook}) SET r.until = $until",
            integration=integration,
            webhook=webhook_id,
            until=until,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def retirement(self, integration: str, webhook_id: str) -> datetime | None:
        records, _, _ = await self._driver.execute_query(
            "MATCH (r:WebhookRetirement {integration: $integration, webhookId: $webhook}) RETURN r.until AS until",
            integration=integration,
            webhook=webhook_id,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return _when(records[0]["until"]) if records else None

    async def retirements(self) -> list[Retirement]:
        """On the leader: a retirement written a moment ago keeps the supervisor off that webhook."""
        records, _, _ = await self._driver.execute_query(
            "MATCH (r:WebhookRetirement) RETURN r.integration AS integration, r.webhookId AS webhook, r.until AS until",
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return [Retirement(str(r["integration"]), str(r["webhook"]), _when(r["until"])) for r in records]

    async def forget(self, integration: str, webhook_id: str) -> None:
        """Everything kept about a webhook that is no longer registered."""
        await self._driver.execute_query(
            """
            OPTIONAL MATCH (p:WebhookPreviousSecret {integration: $integration, webhookId: $webhook})
            DELETE p
            WITH count(*) AS ignored
            OPTIONAL MATCH (r:WebhookRetirement {integration: $integration, webhookId: $webhook})
            DELETE r
            """,
            integration=integration,
            webhook=webhook_id,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )

    async def purge_expired(self, now: datetime) -> int:
        """Delete previous secrets whose grace is over; returns how many."""
        records, _, _ = await self._driver.execute_query(
            "MATCH (p:WebhookPreviousSecret) WHERE p.until <= $now DELETE p RETURN count(p) AS purged",
            now=now,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return int(records[0]["purged"]) if records else 0


def _when(value: object) -> datetime:
    when = to_datetime(value)
    if when is None:
        raise ValueError("a stored grace period has no end")
    return when
