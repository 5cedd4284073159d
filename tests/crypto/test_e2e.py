"""End-to-End reference side: vectors, bindings, wrong phrase, rotation
(docs/security.md, "End-to-end key hierarchy")."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from mnemonic import Mnemonic

from rolecall.crypto import (
    Binding,
    ContextError,
    DecryptError,
    EnvelopeError,
    WrongPhraseError,
    b64url_decode,
    e2e,
)

ToBinding = Callable[[dict[str, str]], Binding]
ERRORS = {"decrypt": DecryptError, "envelope": EnvelopeError, "wrong_phrase": WrongPhraseError}


def unlocked(v: dict[str, Any]) -> bytes:
    kek = e2e.kek_from_phrase(v["phrase"], b64url_decode(v["kdf_salt"]))
    return e2e.unwrap_udk(kek, v["wrapped_udk"], v["user_id"])


def test_derivation_chain_reproduces_the_vectors(e2e_vectors: dict[str, Any]) -> None:
    v = e2e_vectors
    assert Mnemonic("english").to_mnemonic(bytes.fromhex(v["entropy_hex"])) == v["phrase"]
    assert e2e.seed_from_phrase(v["phrase"]).hex() == v["seed_hex"]
    assert Mnemonic.to_seed(v["phrase"]).hex() == v["seed_hex"]  # the standard BIP39 seed
    assert e2e.kek_from_phrase(v["phrase"], b64url_decode(v["kdf_salt"])).hex() == v["kek_hex"]
    # This KEK was computed independently of our code, from the same seed and salt 0x00..0x1f.
    assert v["kek_hex"] == "4e4b91e47dd3a3bfca7edbc8e2503530ab8392ab86723db819047324f7704b37"
    assert unlocked(v).hex() == v["udk_hex"]


def test_python_opens_every_vector_credential(e2e_vectors: dict[str, Any], binding_from: ToBinding) -> None:
    udk = unlocked(e2e_vectors)
    for case in e2e_vectors["credentials"]:
        assert e2e.open_bundle(udk, case["envelope"], binding_from(case["context"]), gen=case["gen"]) == case["bundle"]


def test_every_tampered_vector_fails_the_expected_way(e2e_vectors: dict[str, Any], binding_from: ToBinding) -> None:
    udk = unlocked(e2e_vectors)
    for case in e2e_vectors["tampered"]:
        with pytest.raises(ERRORS[case["expect"]]):
            e2e.open_bundle(udk, case["envelope"], binding_from(case["context"]))


def test_every_tampered_wrapped_udk_fails_the_expected_way(e2e_vectors: dict[str, Any]) -> None:
    kek = bytes.fromhex(e2e_vectors["kek_hex"])
    for case in e2e_vectors["tampered_udk"]:
        with pytest.raises(ERRORS[case["expect"]]):
            e2e.unwrap_udk(kek, case["envelope"], case["user_id"])


def test_wrong_phrase_is_its_own_error(e2e_vectors: dict[str, Any]) -> None:
    v = e2e_vectors
    assert Mnemonic("english").check(v["wrong_phrase"])  # a valid phrase, just not this account's
    kek = e2e.kek_from_phrase(v["wrong_phrase"], b64url_decode(v["kdf_salt"]))
    assert kek.hex() == v["wrong_phrase_kek_hex"]
    with pytest.raises(WrongPhraseError, match="doesn't match your account"):
        e2e.unwrap_udk(kek, v["wrapped_udk"], v["user_id"])


def test_same_phrase_other_salt_does_not_unlock(e2e_vectors: dict[str, Any]) -> None:
    kek = e2e.kek_from_phrase(e2e_vectors["phrase"], os.urandom(32))
    with pytest.raises(WrongPhraseError):
        e2e.unwrap_udk(kek, e2e_vectors["wrapped_udk"], e2e_vectors["user_id"])


def test_fresh_round_trip_and_every_swap(binding: Binding) -> None:
    phrase = Mnemonic("english").generate(128)
    salt = e2e.new_kdf_salt()
    kek = e2e.kek_from_phrase(phrase, salt)
    udk = e2e.new_udk()
    wrapped = e2e.wrap_udk(kek, udk, 1, binding.user_id)
    assert e2e.unwrap_udk(e2e.kek_from_phrase("  " + phrase.upper().replace(" ", "   ") + "\n", salt), wrapped, binding.user_id) == udk

    bundle = {"api_key": "sk-canary-" + os.urandom(8).hex(), "headers": {"X-Org": "o"}}
    env = e2e.seal_bundle(udk, bundle, 1, binding)
    assert e2e.open_bundle(udk, env, binding) == bundle
    assert bundle["api_key"] not in env
    fields = binding.__dataclass_fields__
    swaps = {
        "user_id": "0d61c2b8a9e4f7350c1e2d3a",
        "config_id": "c0ffee00-1234-4abc-8def-0123456789ab",
        "provider_id": "openrouter",
        "dest_origin": "https://openrouter.ai",
    }
    assert set(swaps) == set(fields)
    for field, value in swaps.items():
        other = Binding(**{**{f: getattr(binding, f) for f in fields}, field: value})
        with pytest.raises(DecryptError) as info:
            e2e.open_bundle(udk, env, other)
        assert bundle["api_key"] not in str(info.value)
    with pytest.raises(DecryptError):
        e2e.open_bundle(e2e.new_udk(), env, binding)


def test_generation_pin(binding: Binding) -> None:
    udk = e2e.new_udk()
    env = e2e.seal_bundle(udk, {"api_key": "k"}, 2, binding)
    assert env.startswith("rc1.e2e.2.")
    assert e2e.open_bundle(udk, env, binding, gen=2) == {"api_key": "k"}
    with pytest.raises(DecryptError, match="generation 2, not 3"):
        e2e.open_bundle(udk, env, binding, gen=3)


def test_rotation_rekeys_everything(binding: Binding) -> None:
    # Phrase change: new phrase, new salt, new KEK, new UDK (gen + 1), every bundle re-sealed.
    m = Mnemonic("english")
    old_phrase, new_phrase = m.generate(128), m.generate(128)
    old_salt, new_salt = e2e.new_kdf_salt(), e2e.new_kdf_salt()
    old_udk, new_udk = e2e.new_udk(), e2e.new_udk()
    old_wrapped = e2e.wrap_udk(e2e.kek_from_phrase(old_phrase, old_salt), old_udk, 1, binding.user_id)
    envs = [e2e.seal_bundle(old_udk, {"api_key": f"key-{i}"}, 1, binding) for i in range(3)]

    new_wrapped = e2e.wrap_udk(e2e.kek_from_phrase(new_phrase, new_salt), new_udk, 2, binding.user_id)
    new_envs = [e2e.seal_bundle(new_udk, e2e.open_bundle(old_udk, x, binding, gen=1), 2, binding) for x in envs]

    with pytest.raises(WrongPhraseError):
        e2e.unwrap_udk(e2e.kek_from_phrase(old_phrase, new_salt), new_wrapped, binding.user_id)
    assert e2e.unwrap_udk(e2e.kek_from_phrase(new_phrase, new_salt), new_wrapped, binding.user_id) == new_udk
    assert [e2e.open_bundle(new_udk, x, binding, gen=2)["api_key"] for x in new_envs] == ["key-0", "key-1", "key-2"]
    with pytest.raises(DecryptError):
        e2e.open_bundle(old_udk, new_envs[0], binding)
    assert old_wrapped != new_wrapped


@pytest.mark.parametrize(
    "phrase",
    ["", "abandon " * 11, "abandon " * 13, "abandon " * 11 + "ab0ut", "abandon " * 11 + "abandonabandon"],
)
def test_kek_needs_a_twelve_word_phrase(phrase: str) -> None:
    with pytest.raises(ContextError):
        e2e.kek_from_phrase(phrase, os.urandom(32))


@pytest.mark.parametrize("salt", [b"", os.urandom(16), os.urandom(33)])
def test_kdf_salt_must_be_32_bytes(salt: bytes) -> None:
    with pytest.raises(ContextError):
        e2e.kek_from_phrase("abandon " * 11 + "about", salt)


def test_normalize_phrase() -> None:
    assert e2e.normalize_phrase("  Abandon\tABOUT \n zoo ") == "abandon about zoo"
    assert e2e.normalize_phrase("ｚｏｏ") == "zoo"  # fullwidth letters → NFKD → ASCII
