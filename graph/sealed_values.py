"""Every sealed (encrypted) value the graph holds, in one list, and the queries key rotation needs.

A sealed value is opaque here: this module never sees a key or a plaintext. What it knows is
where sealed values live (label and property), which properties identify their row, and how the
row's identity becomes the associated data the value was sealed with. A new sealed property is
one more entry in :data:`SEALED_FIELDS`; rotation and the at-rest audit then cover it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import neo4j

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")  # label and property names are spliced into Cypher


@dataclass(frozen=True)
class SealedField:
    """One property holding sealed values.

    The associated data of a value is ``aad_prefix`` followed by the row's ``identity`` property
    values, in that order (the server turns these parts into bytes). ``key_id_property`` names a
    property that mirrors the sealing key id, ``version_property`` a compare-and-set counter that
    must move whenever the value changes (so a writer holding an old read cannot write it back).
    """

    name: str
    label: str
    property: str
    identity: tuple[str, ...]
    aad_prefix: tuple[str, ...] = ()
    key_id_property: str | None = None
    version_property: str | None = None

    def __post_init__(self) -> None:
        names = [self.label, self.property, *self.identity, self.key_id_property, self.version_property]
        if not self.identity or not all(n is None or _NAME.fullmatch(n) for n in names):
            raise ValueError(f"sealed field {self.name!r}: label and property names must be plain identifiers")

    def aad_parts(self, identity: Sequence[str]) -> tuple[str, ...]:
        """The parts of the associated data for a row with these identity values."""
        if len(identity) != len(self.identity):
            raise ValueError(f"{self.name} is identified by {', '.join(self.identity)}")
        return (*self.aad_prefix, *identity)


INTEGRATION_SETTINGS = SealedField(
    name="integration settings",
    label="Integration",
    property="settingsCiphertext",
    identity=("orgId", "projectId", "name"),
    key_id_property="settingsKeyId",
    version_property="version",
)
WEBHOOK_SECRET = SealedField(
    name="webhook secret",
    label="WebhookRegistration",
    property="secretCiphertext",
    identity=("integration", "webhookId"),
    aad_prefix=("webhook-secret",),
)
AUTHORIZATION_VERIFIER = SealedField(
    name="sign-in verifier",
    label="AuthorizationState",
    property="verifierCiphertext",
    identity=("stateHash",),
    aad_prefix=("authorization-verifier",),
)
# A secret still accepted during a regeneration's grace period: sealed as the current one is (same
# associated data), so it moves between the two without being opened.
PREVIOUS_WEBHOOK_SECRET = SealedField(
    name="previous webhook secret",
    label="WebhookPreviousSecret",
    property="secretCiphertext",
    identity=("integration", "webhookId"),
    aad_prefix=("webhook-secret",),
)
SEALED_FIELDS: tuple[SealedField, ...] = (
    INTEGRATION_SETTINGS,
    WEBHOOK_SECRET,
    AUTHORIZATION_VERIFIER,
    PREVIOUS_WEBHOOK_SECRET,
)


@dataclass(frozen=True)
class SealedRow:
    field: SealedField
    element_id: str
    identity: tuple[str, ...]
    sealed: str

    def __repr__(self) -> str:  # the sealed value is not secret, but it is noise in logs
        return f"SealedRow({self.field.name}: {'/'.join(self.identity)})"


@dataclass(frozen=True)
class FieldCount:
    under_prefix: int
    other: int


def _lacks(field: SealedField) -> str:
    return f"n.{field.property} IS NOT NULL AND NOT n.{field.property} STARTS WITH $prefix"


def _returning(field: SealedField) -> str:
    identity = ", ".join(f"n.{name}" for name in field.identity)
    return f"RETURN elementId(n) AS id, [{identity}] AS identity, n.{field.property} AS sealed"


class SealedValues:
    """Lists rows whose sealed value does not start with a prefix, and swaps values compare-and-set."""

    def __init__(self, driver: neo4j.AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def count(self, field: SealedField, prefix: str) -> FieldCount:
        records, _, _ = await self._driver.execute_query(
            f"MATCH (n:{field.label}) WHERE n.{field.property} IS NOT NULL "
            f"RETURN count(CASE WHEN n.{field.property} STARTS WITH $prefix THEN 1 END) AS under, "
            f"count(CASE WHEN NOT n.{field.property} STARTS WITH $prefix THEN 1 END) AS other",
            prefix=prefix,
            database_=self._database,
            routing_=neo4j.RoutingControl.READ,
        )
        return FieldCount(int(records[0]["under"]), int(records[0]["other"]))

    async def not_under(self, field: SealedField, prefix: str, after: str, limit: int) -> list[SealedRow]:
        """The next ``limit`` rows past ``after`` (an element id; "" to start) whose value lacks ``prefix``.
        Walking by element id visits each row once per pass, even rows that stay unreadable."""
        return await self._rows(
            field,
            f"MATCH (n:{field.label}) WHERE elementId(n) > $after AND {_lacks(field)} "
            f"{_returning(field)} ORDER BY elementId(n) LIMIT $limit",
            prefix=prefix,
            after=after,
            limit=limit,
        )

    async def by_element_ids(self, field: SealedField, prefix: str, ids: Sequence[str]) -> list[SealedRow]:
        """These rows again, if their value still lacks ``prefix`` (after a lost compare-and-set)."""
        return await self._rows(
            field,
            f"MATCH (n:{field.label}) WHERE elementId(n) IN $ids AND {_lacks(field)} "
            f"{_returning(field)} ORDER BY elementId(n)",
            prefix=prefix,
            ids=list(ids),
        )

    async def _rows(self, field: SealedField, query: str, **params: object) -> list[SealedRow]:
        records, _, _ = await self._driver.execute_query(
            query, params, database_=self._database, routing_=neo4j.RoutingControl.READ
        )
        return [SealedRow(field, r["id"], tuple(str(v) for v in r["identity"]), r["sealed"]) for r in records]

    async def swap(self, field: SealedField, key_id: str, swaps: Mapping[SealedRow, str]) -> set[str]:
        """Replace each row's value with its new one where the row still holds the value that was read
        (compare-and-set, one transaction for the batch); returns the element ids swapped."""
        if not swaps:
            return set()
        sets = [f"n.{field.property} = row.new"]
        if field.key_id_property:
            sets.append(f"n.{field.key_id_property} = $kid")
        if field.version_property:
            sets.append(f"n.{field.version_property} = coalesce(n.{field.version_property}, 0) + 1")
        records, _, _ = await self._driver.execute_query(
            f"UNWIND $rows AS row MATCH (n:{field.label}) WHERE elementId(n) = row.id AND n.{field.property} = row.old "
            f"SET {', '.join(sets)} RETURN elementId(n) AS id",
            rows=[{"id": r.element_id, "old": r.sealed, "new": new} for r, new in swaps.items()],
            kid=key_id,
            database_=self._database,
            routing_=neo4j.RoutingControl.WRITE,
        )
        return {str(r["id"]) for r in records}
