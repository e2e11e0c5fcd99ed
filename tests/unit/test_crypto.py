from __future__ import annotations

import base64

import pytest

from server.crypto import DecryptionError, KeyConfigError, KeyRing, generate_key_spec, parse_keys, record_aad

AAD = record_aad("acme", "p1", "clickup")


def test_seal_then_open_round_trips_and_names_the_key() -> None:
    ring = KeyRing.from_spec(generate_key_spec("k1"))
    sealed = ring.seal(b"pk_secret_value", AAD)
    assert sealed.startswith("v1.k1.")
    assert b"pk_secret_value" not in sealed.encode()
    assert ring.open(sealed, AAD) == b"pk_secret_value"


def test_every_seal_uses_a_fresh_nonce() -> None:
    ring = KeyRing.from_spec(generate_key_spec("k1"))
    assert ring.seal(b"same", AAD) != ring.seal(b"same", AAD)


def test_ciphertext_moved_to_another_record_refuses_to_open() -> None:
    ring = KeyRing.from_spec(generate_key_spec("k1"))
    sealed = ring.seal(b"token-of-p1", AAD)
    with pytest.raises(DecryptionError, match="another record"):
        ring.open(sealed, record_aad("acme", "p2", "clickup"))


def test_flipped_bit_is_detected() -> None:
    ring = KeyRing.from_spec(generate_key_spec("k1"))
    version, key_id, blob = ring.seal(b"value", AAD).split(".")
    raw = bytearray(base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4)))
    raw[-1] ^= 1
    tampered = f"{version}.{key_id}.{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    with pytest.raises(DecryptionError):
        ring.open(tampered, AAD)


def test_newest_key_seals_and_old_keys_still_open() -> None:
    old_spec, new_spec = generate_key_spec("old"), generate_key_spec("new")
    sealed_old = KeyRing.from_spec(old_spec).seal(b"legacy", AAD)
    rotated = KeyRing.from_spec(f"{new_spec},{old_spec}")
    assert rotated.primary_key_id == "new"
    assert rotated.open(sealed_old, AAD) == b"legacy"
    assert KeyRing.key_id_of(rotated.seal(b"fresh", AAD)) == "new"


def test_value_sealed_with_an_unconfigured_key_is_refused_by_name() -> None:
    sealed = KeyRing.from_spec(generate_key_spec("gone")).seal(b"x", AAD)
    with pytest.raises(DecryptionError, match="'gone'"):
        KeyRing.from_spec(generate_key_spec("k1")).open(sealed, AAD)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no key given"),
        ("nokeyid", "must look like"),
        ("bad id!:AAAA", "must look like"),
        ("k1:%%%notbase64", "base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "32 bytes"),
        (generate_key_spec("k1") + "," + generate_key_spec("k1"), "listed twice"),
    ],
)
def test_bad_key_specs_are_rejected_without_echoing_material(spec: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message) as info:
        parse_keys(spec)
    material = spec.partition(":")[2]
    if len(material) > 8:
        assert material not in str(info.value)


def test_repr_never_shows_key_material() -> None:
    spec = generate_key_spec("k1")
    key = parse_keys(spec)[0]
    assert spec.split(":")[1] not in repr(key)
    assert "***" in repr(key)
    assert "k1" in repr(KeyRing([key]))
