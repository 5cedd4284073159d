"""Server-Accessible envelopes: round trip, swaps, rotation, retirement (docs/security.md,
"Server-Accessible mode and the key ring")."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

import pytest

from rolecall.crypto import (
    Binding,
    DecryptError,
    EnvelopeError,
    KeyRing,
    UnknownKeyError,
    generate_key_file_text,
    srv,
)

ERRORS = {"decrypt": DecryptError, "envelope": EnvelopeError, "unknown_key": UnknownKeyError}
ToBinding = Callable[[dict[str, str]], Binding]


def ring_of(kid: str) -> KeyRing:
    return KeyRing.parse(generate_key_file_text(kid))


def test_round_trip_and_no_plaintext_in_the_envelope(binding: Binding) -> None:
    ring = ring_of("k1")
    canary = "sk-canary-" + os.urandom(8).hex()
    env = srv.seal_bundle(ring, {"api_key": canary}, binding)
    assert env.startswith("rc1.srv.k1.") and srv.kid_of(env) == "k1"
    assert canary not in env and base64.b64encode(canary.encode()).decode()[:16] not in env
    assert srv.open_bundle(ring, env, binding) == {"api_key": canary}
    assert len({srv.seal_bundle(ring, {"api_key": canary}, binding) for _ in range(200)}) == 200


@pytest.mark.parametrize("field", ["user_id", "config_id", "provider_id", "dest_origin"])
def test_swapped_records_do_not_decrypt(binding: Binding, field: str) -> None:
    old_line = generate_key_file_text("k1")
    ring = KeyRing.parse(old_line)
    env = srv.seal_bundle(ring, {"api_key": "sk-x"}, binding)
    other = {"user_id": "ffff0000ffff0000ffff0000", "config_id": "c0ffee", "provider_id": "groq", "dest_origin": "https://attacker.example"}
    swapped = Binding(**{**{f: getattr(binding, f) for f in other}, field: other[field]})
    with pytest.raises(DecryptError):
        srv.open_bundle(ring, env, swapped)
    rotated = KeyRing.parse(generate_key_file_text("k2") + old_line)
    with pytest.raises(DecryptError):  # rotation refuses to launder a swapped row
        srv.rewrap(env, rotated, swapped)


def test_rotation_end_to_end(binding: Binding) -> None:
    old_line = generate_key_file_text("2026-01")
    new_line = generate_key_file_text("2026-11")
    before = KeyRing.parse(old_line)
    during = KeyRing.parse(new_line + old_line)  # step 1+2: new key added and made primary
    after = KeyRing.parse(new_line)  # step 4: old key retired

    env = srv.seal_bundle(before, {"api_key": "sk-rotate"}, binding)
    assert srv.open_bundle(during, env, binding) == {"api_key": "sk-rotate"}  # old rows still read

    rewrapped = srv.rewrap(env, during, binding)  # step 3: `rolecall keys rotate`
    assert srv.kid_of(rewrapped) == "2026-11"
    assert rewrapped.split(".")[4:] == env.split(".")[4:]  # content nonce + ciphertext untouched
    assert rewrapped.split(".")[3] != env.split(".")[3]
    assert srv.rewrap(rewrapped, during, binding) == rewrapped  # idempotent, resumable
    assert srv.open_bundle(after, rewrapped, binding) == {"api_key": "sk-rotate"}

    # A row the rotation missed cannot be opened once the key is gone, and the error says which.
    with pytest.raises(UnknownKeyError, match="'2026-01'") as info:
        srv.open_bundle(after, env, binding)
    assert info.value.kid == "2026-01"
    assert after.missing([srv.kid_of(env), srv.kid_of(rewrapped)]) == ["2026-01"]


def test_wrong_key_material_under_the_right_kid(binding: Binding) -> None:
    ring = ring_of("k1")
    impostor = ring_of("k1")
    env = srv.seal_bundle(ring, {"api_key": "sk-x"}, binding)
    with pytest.raises(DecryptError, match="'k1'") as info:
        srv.open_bundle(impostor, env, binding)
    assert not isinstance(info.value, UnknownKeyError)


def test_reencrypt_draws_a_fresh_dek(binding: Binding) -> None:
    ring = ring_of("k1")
    env = srv.seal_bundle(ring, {"api_key": "sk-x"}, binding)
    again = srv.reencrypt(env, ring, binding)
    assert again.split(".")[3:] != env.split(".")[3:]
    assert srv.open_bundle(ring, again, binding) == {"api_key": "sk-x"}


def test_vectors_reproduce_and_every_tampered_vector_fails(srv_vectors: dict[str, Any], binding_from: ToBinding) -> None:
    v = srv_vectors
    before, after = KeyRing.parse(v["ring_before"]), KeyRing.parse(v["ring_after"])
    b = binding_from(v["context"])
    assert {kid: after.kek(kid).hex() for kid in after.kids} == v["kek_hex"]
    assert srv.open_bundle(before, v["envelope"], b) == v["bundle"]
    assert srv.open_bundle(after, v["rewrapped"], b) == v["bundle"]
    assert v["rewrapped"].split(".")[4:] == v["envelope"].split(".")[4:]
    for case in v["tampered"]:
        with pytest.raises(ERRORS[case["expect"]]):
            srv.open_bundle(after, case["envelope"], binding_from(case["context"]))


def test_kid_of_is_strict() -> None:
    with pytest.raises(EnvelopeError):
        srv.kid_of("rc1.e2e.1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAA")
