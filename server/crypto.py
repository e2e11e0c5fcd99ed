"""Settings encryption at rest: AES-256-GCM with key ids for rotation.

A sealed value is ``v1.<key id>.<base64url(nonce | ciphertext+tag)>``: a random 96-bit
nonce per value, and the record's identity as associated data so a ciphertext copied onto
another record fails to open. The first key of ``INTEGRATION_ENCRYPTION_KEYS`` seals; every
listed key opens, so old rows keep working until ``rotate-keys`` re-seals them.

Keys and sealed values are read strictly: URL-safe base64 (RFC 4648 section 5, the form
``new-key`` prints, '=' padding optional) in its one canonical spelling, nothing trimmed or
repaired. A key that is accepted "after cleaning" is a key no one can be sure of.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = "v1"
NONCE_BYTES = 12
KEY_BYTES = 32
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")  # always fullmatch: "$" would let a final newline through
_URLSAFE_B64 = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class KeyConfigError(ValueError):
    """The key configuration is unusable; the message says what is wrong (never the key)."""


class DecryptionError(RuntimeError):
    """A sealed value could not be opened: unknown key, tampering, or the wrong record."""


@dataclass(frozen=True)
class EncryptionKey:
    key_id: str
    material: bytes

    def __repr__(self) -> str:
        return f"EncryptionKey(key_id={self.key_id!r}, material='***')"


def _b64decode(text: str) -> bytes:
    """Strict URL-safe base64: the alphabet checked first (b64decode's altchars would still let
    '+' and '/' through), padding absent or exact, and the text the canonical encoding of its bytes."""
    if not _URLSAFE_B64.fullmatch(text):
        raise ValueError("characters outside the URL-safe base64 alphabet")
    unpadded = text.rstrip("=")
    padded = unpadded + "=" * (-len(unpadded) % 4)
    if text not in (unpadded, padded):
        raise ValueError("wrong '=' padding")
    raw = base64.b64decode(padded, altchars=b"-_", validate=True)
    if base64.urlsafe_b64encode(raw).decode().rstrip("=") != unpadded:
        raise ValueError("not the canonical encoding of its bytes")
    return raw


def parse_keys(spec: str) -> list[EncryptionKey]:
    """Parse ``id:key[,id:key...]``, newest (sealing) key first, ``key`` being 32 bytes in URL-safe
    base64. Errors name the entry (and its key id once that is known), never the key material."""
    if not spec:
        raise KeyConfigError("no key given")
    keys: list[EncryptionKey] = []
    for position, item in enumerate(spec.split(","), start=1):
        where = f"entry {position}"
        if not item:
            raise KeyConfigError(f"{where} is empty (a stray comma?)")
        if any(char.isspace() for char in item):
            raise KeyConfigError(f"{where} contains whitespace (a space, tab or newline); remove it")
        key_id, sep, encoded = item.partition(":")
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise KeyConfigError(
                f"{where} must look like '<key id>:<base64url of {KEY_BYTES} bytes>' "
                "with a key id of 1-32 letters, digits, '-' or '_'"
            )
        where = f"{where} (key id {key_id!r})"
        try:
            material = _b64decode(encoded)
        except (binascii.Error, ValueError) as exc:
            raise KeyConfigError(f"{where} is not URL-safe base64 ('-' and '_', not '+' and '/'): {exc}") from None
        if len(material) != KEY_BYTES:
            raise KeyConfigError(f"{where} must decode to {KEY_BYTES} bytes, got {len(material)}")
        if any(k.key_id == key_id for k in keys):
            raise KeyConfigError(f"{where}: key id {key_id!r} is listed twice")
        keys.append(EncryptionKey(key_id, material))
    return keys


def generate_key_spec(key_id: str) -> str:
    """A fresh ``id:key`` entry, in exactly the form :func:`parse_keys` reads."""
    if not _KEY_ID.fullmatch(key_id):
        raise KeyConfigError("a key id is 1-32 letters, digits, '-' or '_'")
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip('=')}"


def record_aad(*identity: str) -> bytes:
    """Associated data binding a ciphertext to one record (unambiguous: a JSON array)."""
    return json.dumps(["integration-settings", *identity], separators=(",", ":")).encode()


class KeyRing:
    def __init__(self, keys: Sequence[EncryptionKey]) -> None:
        if not keys:
            raise KeyConfigError("no key given")
        self._keys = {k.key_id: AESGCM(k.material) for k in keys}
        self.primary_key_id = keys[0].key_id

    def __repr__(self) -> str:
        return f"KeyRing(key_ids={list(self._keys)!r}, primary={self.primary_key_id!r})"

    @classmethod
    def from_spec(cls, spec: str) -> KeyRing:
        return cls(parse_keys(spec))

    @property
    def primary_prefix(self) -> str:
        """How every value sealed by this ring starts: rows without it still need ``rotate-keys``."""
        return f"{FORMAT}.{self.primary_key_id}."

    def seal(self, plaintext: bytes, aad: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.primary_key_id].encrypt(nonce, plaintext, aad)
        blob = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{FORMAT}.{self.primary_key_id}.{blob}"

    @staticmethod
    def key_id_of(sealed: str) -> str:
        parts = sealed.split(".")
        if len(parts) != 3 or parts[0] != FORMAT or not _KEY_ID.fullmatch(parts[1]):
            raise DecryptionError("not a sealed value of a known format")
        return parts[1]

    def open(self, sealed: str, aad: bytes) -> bytes:
        key_id = self.key_id_of(sealed)
        aead = self._keys.get(key_id)
        if aead is None:
            raise DecryptionError(f"sealed with key {key_id!r}, which is not configured")
        try:
            raw = _b64decode(sealed.split(".")[2])
        except (binascii.Error, ValueError):
            raise DecryptionError("sealed value is not valid base64") from None
        if len(raw) <= NONCE_BYTES:
            raise DecryptionError("sealed value is truncated")
        try:
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError("sealed value failed authentication (tampered, or from another record)") from None
