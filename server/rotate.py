"""Re-seal every sealed value in the database under the newest key, so an old key can be retired.

Which values exist, and the associated data each was sealed with, come from the one list in
``graph.sealed_values``. Each row is swapped compare-and-set (a row rewritten meanwhile is read
again), in batches; a run that stops half-way is simply run again. Rows that cannot be opened
are left as they are and reported by identity (never by value): until they are repaired the key
they need must stay configured.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from graph.sealed_values import SEALED_FIELDS, SealedField, SealedRow, SealedValues
from server.crypto import DecryptionError, KeyRing, record_aad

logger = logging.getLogger(__name__)

CAS_ATTEMPTS = 5


def aad_of(sealed_field: SealedField, identity: Sequence[str]) -> bytes:
    """The associated data a value of this field and row was sealed with."""
    return record_aad(*sealed_field.aad_parts(identity))


@dataclass
class FieldReport:
    name: str
    resealed: int = 0
    already_current: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (record identity, why)
    changed: int = 0  # kept changing under us: run again

    def line(self) -> str:
        text = (
            f"{self.name}: {self.resealed} re-sealed, {self.already_current} already current, "
            f"{len(self.unreadable)} unreadable"
        )
        return text + (f", {self.changed} changed during the run" if self.changed else "")


@dataclass
class RotationReport:
    key_id: str
    fields: list[FieldReport]

    @property
    def complete(self) -> bool:
        """Every sealed value is now under the newest key: older keys may be dropped."""
        return not any(f.unreadable or f.changed for f in self.fields)


async def rotate_keys(values: SealedValues, keyring: KeyRing, batch: int = 200) -> RotationReport:
    reports = [await _rotate_field(values, keyring, f, batch) for f in SEALED_FIELDS]
    return RotationReport(keyring.primary_key_id, reports)


async def _rotate_field(values: SealedValues, keyring: KeyRing, sealed_field: SealedField, batch: int) -> FieldReport:
    report = FieldReport(sealed_field.name)
    prefix = keyring.primary_prefix
    report.already_current = (await values.count(sealed_field, prefix)).under_prefix
    retry: list[str] = []
    after = ""
    while rows := await values.not_under(sealed_field, prefix, after, batch):
        after = rows[-1].element_id
        retry += await _reseal(values, keyring, rows, report)
    for _ in range(CAS_ATTEMPTS):
        if not retry:
            break
        rows = await values.by_element_ids(sealed_field, prefix, retry)
        retry = await _reseal(values, keyring, rows, report)
    report.changed = len(retry)
    return report


async def _reseal(values: SealedValues, keyring: KeyRing, rows: list[SealedRow], report: FieldReport) -> list[str]:
    """Re-seals the rows that open; returns the element ids whose compare-and-set was lost."""
    swaps: dict[SealedRow, str] = {}
    for row in rows:
        aad = aad_of(row.field, row.identity)
        try:
            plaintext = keyring.open(row.sealed, aad)
        except DecryptionError as exc:
            who = "/".join(row.identity)
            logger.warning("cannot re-seal %s %s: %s", row.field.name, who, exc)
            report.unreadable.append((who, str(exc)))
            continue
        swaps[row] = keyring.seal(plaintext, aad)
    if not swaps:
        return []
    swapped = await values.swap(rows[0].field, keyring.primary_key_id, swaps)
    report.resealed += len(swapped)
    return [row.element_id for row in swaps if row.element_id not in swapped]
