"""AES-256-GCM primitives and the exact AAD strings (docs/security.md, "Associated data (binding)")."""

from __future__ import annotations

import os

import pytest

from rolecall.crypto import Binding, ContextError, DecryptError
from rolecall.crypto.aead import credential_aad, dek_aad, hkdf_sha256, seal, udk_aad, unseal

USER = "a1b2c3d4e5f6a7b8c9d0e1f2"
CONFIG = "123e4567-e89b-42d3-a456-426614174000"


def test_seal_unseal_round_trip() -> None:
    key = os.urandom(32)
    nonce, ct = seal(key, b"hello", b"aad")
    assert len(nonce) == 12 and len(ct) == 5 + 16
    assert unseal(key, nonce, ct, b"aad") == b"hello"


@pytest.mark.parametrize("change", ["key", "nonce", "ct", "aad"])
def test_any_change_fails_with_a_clean_error(change: str) -> None:
    key = os.urandom(32)
    nonce, ct = seal(key, b"sk-secret-value", b"aad")
    args = {"key": key, "nonce": nonce, "ciphertext": ct, "aad": b"aad"}
    if change == "key":
        args["key"] = os.urandom(32)
    elif change == "nonce":
        args["nonce"] = bytes([nonce[0] ^ 1]) + nonce[1:]
    elif change == "ct":
        args["ciphertext"] = ct[:-1] + bytes([ct[-1] ^ 1])
    else:
        args["aad"] = b"aaD"
    with pytest.raises(DecryptError) as info:
        unseal(**args)
    text = str(info.value)
    assert key.hex() not in text and "sk-secret" not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_wrong_key_sizes_refused() -> None:
    with pytest.raises(ValueError):
        seal(b"short", b"x", b"")
    with pytest.raises(ValueError):
        unseal(os.urandom(16), os.urandom(12), os.urandom(32), b"")


def test_nonces_are_fresh_every_time() -> None:
    key = os.urandom(32)
    sealed = [seal(key, b"same bundle", b"aad") for _ in range(1000)]
    assert len({n for n, _ in sealed}) == 1000
    assert len({c for _, c in sealed}) == 1000


def test_aad_strings_are_exactly_the_documented_ones() -> None:
    b = Binding(USER, CONFIG, "openai", "https://api.openai.com")
    assert udk_aad(3, USER) == f"rolecall/v1|e2e|udk|rc1.udk.3|u={USER}".encode()
    assert credential_aad("e2e", "rc1.e2e.3", b) == (
        f"rolecall/v1|e2e|credential|rc1.e2e.3|u={USER}|c={CONFIG}|p=openai|o=https://api.openai.com"
    ).encode()
    assert credential_aad("srv", "rc1.srv", b) == (
        f"rolecall/v1|srv|credential|rc1.srv|u={USER}|c={CONFIG}|p=openai|o=https://api.openai.com"
    ).encode()
    assert dek_aad("2026-11", b) == (
        f"rolecall/v1|srv|credential|rc1.srv.2026-11|u={USER}|c={CONFIG}|p=openai|o=https://api.openai.com|dek"
    ).encode()


@pytest.mark.parametrize(
    ("mode", "header"),
    [("e2e", "rc1.srv"), ("srv", "rc1.e2e.1"), ("e2e", "rc1.e2e.01"), ("srv", "rc1.srv.k1"), ("udk", "rc1.udk.1"), ("e2e", "rc1.e2e.")],
)
def test_credential_aad_refuses_mismatched_headers(mode: str, header: str) -> None:
    with pytest.raises(ContextError):
        credential_aad(mode, header, Binding(USER, CONFIG, "openai", "https://api.openai.com"))


@pytest.mark.parametrize(
    "origin",
    [
        "https://api.openai.com",
        "http://localhost:11434",
        "https://xn--bcher-kva.example",
        "http://[fd00::1]:8080",
        "http://192.168.1.20:8000",
        "https://a.b:65535",
    ],
)
def test_canonical_origins_accepted(origin: str) -> None:
    Binding(USER, CONFIG, "custom", origin)


@pytest.mark.parametrize(
    "origin",
    [
        "https://API.openai.com",  # not lower case
        "https://api.openai.com/",  # path
        "https://api.openai.com/v1",
        "https://user@api.openai.com",  # userinfo
        "https://api.openai.com:0",
        "https://api.openai.com:65536",
        "https://api.openai.com:0443",
        "ftp://api.openai.com",
        "https://bücher.example",  # must be IDNA-encoded by the server
        "https://a|b.example",
        "api.openai.com",
        "",
    ],
)
def test_non_canonical_origins_refused(origin: str) -> None:
    with pytest.raises(ContextError) as info:
        Binding(USER, CONFIG, "custom", origin)
    assert origin not in str(info.value) or origin == ""


@pytest.mark.parametrize(
    "field,value",
    [
        ("user_id", "ABC"),
        ("user_id", "a|b"),
        ("user_id", ""),
        ("user_id", "-leading-dash"),
        ("config_id", "123E4567-E89B-42D3-A456-426614174000"),
        ("config_id", "x" * 65),
        ("provider_id", "Open AI"),
        ("provider_id", "a" * 33),
        ("provider_id", "p|x"),
        ("user_id", 42),
    ],
)
def test_binding_fields_have_strict_charsets(field: str, value: object) -> None:
    fields = {"user_id": USER, "config_id": CONFIG, "provider_id": "openai", "dest_origin": "https://api.openai.com"}
    fields[field] = value  # type: ignore[assignment]
    with pytest.raises(ContextError):
        Binding(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("gen", [0, -1, True, 1.0, "1", 10**9])
def test_udk_generation_must_be_a_small_positive_int(gen: object) -> None:
    with pytest.raises(ContextError):
        udk_aad(gen, USER)  # type: ignore[arg-type]


def test_hkdf_matches_rfc5869_case_1() -> None:
    # RFC 5869 Appendix A.1.
    okm = hkdf_sha256(bytes([0x0B] * 22), salt=bytes(range(13)), info=bytes(range(0xF0, 0xFA)), length=42)
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
