"""Re-encrypt every stored setting under the newest key, so an old key can be retired."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from graph.integration_store import IntegrationStore
from server.crypto import DecryptionError, KeyRing, record_aad

logger = logging.getLogger(__name__)


@dataclass
class RotationResult:
    rotated: int = 0
    unreadable: int = 0


async def rotate_keys(store: IntegrationStore, keyring: KeyRing, batch: int = 200) -> RotationResult:
    result = RotationResult()
    skipped: set[tuple[str, str, str]] = set()
    while True:
        records = [
            r
            for r in await store.records_not_under_key(keyring.primary_key_id, batch + len(skipped))
            if (r.key.org_id, r.key.project_id, r.key.name) not in skipped
        ]
        if not records:
            return result
        for record in records:
            key = record.key
            aad = record_aad(key.org_id, key.project_id, key.name)
            assert record.settings_ciphertext is not None
            try:
                plaintext = keyring.open(record.settings_ciphertext, aad)
            except DecryptionError as exc:
                logger.error("cannot rotate %s/%s/%s: %s", key.org_id, key.project_id, key.name, exc)
                skipped.add((key.org_id, key.project_id, key.name))
                result.unreadable += 1
                continue
            if await store.replace_ciphertext(record, keyring.seal(plaintext, aad), keyring.primary_key_id):
                result.rotated += 1
