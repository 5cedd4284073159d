"""Server key ring configuration (docs/security.md, "Server-Accessible mode and the key ring")."""

from __future__ import annotations

import base64
import copy
import os
import pickle

import pytest

from rolecall.crypto import KeyRing, KeyRingError, UnknownKeyError, generate_key_file_text
from rolecall.crypto.aead import hkdf_sha256
from rolecall.crypto.keyring import KEK_INFO


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


K1, K2 = os.urandom(32), os.urandom(32)


def test_first_entry_is_primary_and_kek_is_hkdf_of_the_key() -> None:
    ring = KeyRing.parse(f"2026-11:{b64(K1)},2026-01:{b64(K2)}")
    assert ring.primary == "2026-11"
    assert ring.kids == ("2026-11", "2026-01")
    assert ring.kek("2026-01") == hkdf_sha256(K2, salt=b"", info=b"rolecall/v1/srv/credential-kek")
    assert KEK_INFO == b"rolecall/v1/srv/credential-kek"
    assert ring.kek("2026-11") != K1  # the configured secret is never used as the AES key itself
    assert "2026-01" in ring and "nope" not in ring


def test_file_form_with_comments_newlines_urlsafe_and_no_padding() -> None:
    text = (
        "# RoleCall encryption keys: back this file up with the database\n"
        f"\n  new : {base64.urlsafe_b64encode(K1).decode().rstrip('=')}  \n"
        f"old:{b64(K2)}\n"
    )
    ring = KeyRing.parse(text)
    assert ring.kids == ("new", "old")
    assert ring.kek("old") == KeyRing.parse(f"x:{b64(K2)}").kek("x")


BAD_RINGS = [
    ("", "empty"),
    ("# only a comment\n", "empty"),
    (f"k1:{b64(os.urandom(31))}", "32 bytes"),
    (f"k1:{b64(os.urandom(33))}", "32 bytes in base64"),
    (f"k1:{b64(bytes(32))}", "repeated byte"),
    (f"k1:{b64(bytes([0xAB]) * 32)}", "repeated byte"),
    (f"k1:{b64(K1)},k1:{b64(K2)}", "appears twice"),
    (f"k1:{b64(K1)},k2:{b64(K1)}", "repeats another key"),
    (f"bad.kid:{b64(K1)}", "entry 1"),
    (f"{'k' * 33}:{b64(K1)}", "entry 1"),
    (b64(K1), "entry 1"),
    (f"k1:{b64(K1)[:-2]}!=", "32 bytes in base64"),
    (f"k1:{b64(K1)}==", "32 bytes in base64"),
    (f"k1:{b64(K1)[:20]}-+{b64(K1)[22:]}", "32 bytes in base64"),  # mixed alphabets
    (f"k1:{b64(K1)[:42]}B=", "canonical"),
]


@pytest.mark.parametrize("text,why", BAD_RINGS, ids=[f"{i}-{why}" for i, (_, why) in enumerate(BAD_RINGS)])
def test_weak_or_malformed_rings_refused(text: str, why: str) -> None:
    with pytest.raises(KeyRingError, match=why) as info:
        KeyRing.parse(text)
    message = str(info.value)
    for key in (K1, K2):  # never key material in a message
        assert b64(key)[:12] not in message


def test_constructor_checks_primary_and_keys() -> None:
    with pytest.raises(KeyRingError):
        KeyRing({"a": K1}, primary="b")
    with pytest.raises(KeyRingError):
        KeyRing({}, primary="a")
    with pytest.raises(KeyRingError):
        KeyRing({"a": b"\x01" * 32}, primary="a")


def test_unknown_kid_names_it() -> None:
    ring = KeyRing.parse(f"k1:{b64(K1)}")
    with pytest.raises(UnknownKeyError, match="'2025-07'") as info:
        ring.kek("2025-07")
    assert info.value.kid == "2025-07"
    assert ring.missing(["k1", "2025-07", "2024-01", "2025-07"]) == ["2024-01", "2025-07"]


def test_ring_never_shows_or_serialises_keys() -> None:
    ring = KeyRing.parse(f"k1:{b64(K1)},k2:{b64(K2)}")
    text = repr(ring) + str(ring)
    assert text == "KeyRing(primary='k1', kids=('k1', 'k2'))" * 2
    assert ring.kek("k1").hex() not in text
    with pytest.raises(TypeError):
        pickle.dumps(ring)
    with pytest.raises(TypeError):
        copy.deepcopy(ring)


def test_generate_key_file_text_makes_a_valid_new_primary_line() -> None:
    line = generate_key_file_text("2026-12")
    assert line.startswith("2026-12:") and line.endswith("\n") and line.count("\n") == 1
    assert len(base64.b64decode(line.split(":", 1)[1])) == 32
    existing = f"2026-11:{b64(K1)}\n"
    ring = KeyRing.parse(line + existing)  # prepend = new primary, old key stays readable
    assert ring.kids == ("2026-12", "2026-11")
    assert generate_key_file_text("k") != generate_key_file_text("k")
    with pytest.raises(KeyRingError):
        generate_key_file_text("bad kid")
    with pytest.raises(KeyRingError):
        generate_key_file_text("k", randbytes=lambda n: bytes(n))  # a broken RNG is caught
