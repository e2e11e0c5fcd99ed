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


GOOD = generate_key_spec("k1")
GOOD_ID, GOOD_MATERIAL = GOOD.split(":")
RAW = base64.urlsafe_b64decode(GOOD_MATERIAL + "=")


def _standard_alphabet_key() -> str:
    """A 32-byte key whose standard base64 holds '+' or '/' (the URL-safe alphabet has '-' and '_')."""
    raw = bytes([0xFB, 0xFF]) + RAW[2:]
    return base64.b64encode(raw).decode().rstrip("=")


def _non_canonical(material: str) -> str:
    """The same 32 bytes with the unused low bits of the last character set: an alias of the key."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return material[:-1] + alphabet[alphabet.index(material[-1]) | 1]  # canonical: the low 2 bits are 0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "no key given"),
        ("nokeyid", "entry 1 must look like"),
        ("bad!id:" + GOOD_MATERIAL, "entry 1 must look like"),
        (":" + GOOD_MATERIAL, "entry 1 must look like"),  # empty key id
        ("k1\n:" + GOOD_MATERIAL, "entry 1 contains whitespace"),  # a key id with a final newline
        ("k" * 33 + ":" + GOOD_MATERIAL, "entry 1 must look like"),
        ("k1:%%%notbase64", "entry 1 \\(key id 'k1'\\) is not URL-safe base64"),
        ("k1:" + GOOD_MATERIAL[:20] + "!!" + GOOD_MATERIAL[22:], "is not URL-safe base64"),
        ("k1:" + GOOD_MATERIAL[:20] + " " + GOOD_MATERIAL[21:], "entry 1 contains whitespace"),
        ("k1:" + GOOD_MATERIAL[:20] + "\t" + GOOD_MATERIAL[21:], "entry 1 contains whitespace"),
        (GOOD + "\n", "entry 1 contains whitespace"),  # trailing newline, as `echo` leaves it
        (" " + GOOD, "entry 1 contains whitespace"),
        (GOOD + ", " + generate_key_spec("k2"), "entry 2 contains whitespace"),
        (GOOD + ",", "entry 2 is empty"),
        (GOOD + ",," + generate_key_spec("k2"), "entry 2 is empty"),
        ("k1:" + _standard_alphabet_key(), "is not URL-safe base64"),
        ("k1:" + GOOD_MATERIAL + "==", "wrong '=' padding"),
        ("k1:" + _non_canonical(GOOD_MATERIAL), "not the canonical encoding"),
        ("k1:" + base64.urlsafe_b64encode(b"short").decode(), "must decode to 32 bytes, got 5"),
        ("k1:" + base64.urlsafe_b64encode(bytes(33)).decode(), "must decode to 32 bytes, got 33"),
        (GOOD + "," + generate_key_spec("k1"), "entry 2 \\(key id 'k1'\\): key id 'k1' is listed twice"),
    ],
    ids=[
        "empty",
        "no separator",
        "bad id",
        "empty id",
        "id with newline",
        "id too long",
        "not base64",
        "!! inside",
        "space inside",
        "tab inside",
        "trailing newline",
        "leading space",
        "space after comma",
        "trailing comma",
        "empty entry",
        "standard alphabet",
        "extra padding",
        "non-canonical",
        "too short",
        "too long",
        "duplicate id",
    ],
)
def test_bad_key_specs_are_rejected_without_echoing_material(spec: str, message: str) -> None:
    with pytest.raises(KeyConfigError, match=message) as info:
        parse_keys(spec)
    for entry in spec.split(","):
        material = entry.partition(":")[2].strip()
        for chunk in (material[i : i + 8] for i in range(0, max(len(material) - 7, 0), 4)):
            assert chunk not in str(info.value), "no part of the key material is echoed"


@pytest.mark.parametrize(
    "spec",
    [
        GOOD,  # what `python -m server new-key` prints: unpadded
        GOOD + "=",  # the same, padded
        f"{generate_key_spec('new_2')},{GOOD}",
        f"A-z_9:{GOOD_MATERIAL}",
    ],
    ids=["new-key output", "padded", "two keys", "id of every allowed kind"],
)
def test_good_key_specs_parse_to_their_exact_bytes(spec: str) -> None:
    keys = parse_keys(spec)
    assert keys[-1].material == RAW
    assert len({k.key_id for k in keys}) == len(keys)


def test_new_key_output_always_parses() -> None:
    for _ in range(200):
        assert len(parse_keys(generate_key_spec("k9"))[0].material) == 32


@pytest.mark.parametrize("key_id", ["", "has space", "k1\n", "dots.in.id", "x" * 33])
def test_new_key_refuses_an_id_the_parser_would_refuse(key_id: str) -> None:
    with pytest.raises(KeyConfigError, match="key id"):
        generate_key_spec(key_id)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s.replace("v1.", "v2.", 1),
        lambda s: s + "\n",
        lambda s: s[:-1] + "+",
        lambda s: s.replace(".k1.", ".k1\n.", 1),
        lambda s: s[: s.rindex(".") + 10],
    ],
    ids=["unknown format", "trailing newline", "standard alphabet", "key id with newline", "truncated"],
)
def test_malformed_sealed_values_are_refused(mangle: object) -> None:
    ring = KeyRing.from_spec(GOOD)
    sealed = ring.seal(b"value", AAD)
    with pytest.raises(DecryptionError):
        ring.open(mangle(sealed), AAD)  # type: ignore[operator]


def test_repr_never_shows_key_material() -> None:
    spec = generate_key_spec("k1")
    key = parse_keys(spec)[0]
    assert spec.split(":")[1] not in repr(key)
    assert "***" in repr(key)
    assert "k1" in repr(KeyRing([key]))
