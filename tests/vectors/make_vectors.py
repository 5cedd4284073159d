"""Generate the permanent rc1 test vectors: ``python tests/vectors/make_vectors.py``.

Writes ``rc1_e2e.json`` and ``rc1_srv.json`` beside this file. Randomness comes from a labelled
SHAKE-256 stream passed through the crypto functions' ``randbytes`` parameter, so a run always
produces the same bytes; production code never passes ``randbytes``. ``tests/crypto`` checks that
the committed files equal what this script builds (byte-for-byte) and Playwright checks that
``vault.js`` reads them. Never edit the JSON by hand, and never regenerate it to make a failing
test pass: a changed byte means the wire format changed (docs/security.md,
"Shared test vectors"; Bitwarden's permanent-vector practice).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from rolecall.crypto import Binding, KeyRing, e2e, srv
from rolecall.crypto.aead import credential_aad, dek_aad, udk_aad
from rolecall.crypto.envelope import b64url_decode, b64url_encode

HERE = Path(__file__).resolve().parent
PHRASE = "legal winner thank year wave sausage worth useful legal winner thank yellow"
WRONG_PHRASE = "letter advice cage absurd amount doctor acoustic avoid letter advice cage above"
USER = "5f2a9c0e1b7d43a8e6c4f210"
OTHER_USER = "0d61c2b8a9e4f7350c1e2d3a"
CONFIG = "7d4f0a52-3c1e-4b8a-9f60-2e5d8c71a3b4"
OTHER_CONFIG = "c0ffee00-1234-4abc-8def-0123456789ab"


class Stream:
    """Deterministic stand-in for os.urandom: SHAKE-256(label/counter)."""

    def __init__(self, label: str) -> None:
        self.label, self.count = label, 0

    def __call__(self, n: int) -> bytes:
        self.count += 1
        return hashlib.shake_256(f"rolecall vectors/{self.label}/{self.count}".encode()).digest(n)


def ctx_json(b: Binding) -> dict[str, str]:
    return {"user_id": b.user_id, "config_id": b.config_id, "provider_id": b.provider_id, "dest_origin": b.dest_origin}


def with_ctx(b: Binding, **change: str) -> dict[str, str]:
    return {**ctx_json(b), **change}


def edit(envelope: str, index: int, value: str) -> str:
    parts = envelope.split(".")
    parts[index] = value
    return ".".join(parts)


def flip(part: str, byte: int) -> str:
    raw = bytearray(b64url_decode(part))
    raw[byte] ^= 0x01
    return b64url_encode(bytes(raw))


def non_canonical(part: str) -> str:
    """Same bytes, but with a non-zero unused trailing bit in the last character."""
    assert len(part) % 4 in (2, 3), "need a part whose length leaves unused bits"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return part[:-1] + alphabet[alphabet.index(part[-1]) | 1]


def build_e2e() -> dict[str, Any]:
    rand = Stream("e2e")
    kdf_salt = bytes(range(32))  # a fixed salt, so the KEK value can be cross-checked by hand
    seed = e2e.seed_from_phrase(PHRASE)
    kek = e2e.kek_from_phrase(PHRASE, kdf_salt)
    udk = e2e.new_udk(randbytes=rand)
    wrapped = e2e.wrap_udk(kek, udk, 1, USER, randbytes=rand)

    cases = [
        (Binding(USER, CONFIG, "openai", "https://api.openai.com"), {"api_key": "sk-rolecall-vector-0001-abcdefghijklmnop"}),
        (
            Binding(USER, "9b2e4c61-0a7f-4d3e-b8c5-61f0e2a9d4c7", "vertex", "https://europe-west4-aiplatform.googleapis.com"),
            {
                "api_key": "",
                "headers": {"X-Team": "räksmörgås ✓"},
                "service_account": {"type": "service_account", "client_email": "bot@example.iam.gserviceaccount.com"},
            },
        ),
        (Binding(USER, "3e8a1f7c-55b2-4c09-a6d4-98e7f0b1c2d3", "custom", "http://[fd00::1]:11434"), {"api_key": "short"}),
    ]
    credentials = []
    for binding, bundle in cases:
        envelope = e2e.seal_bundle(udk, bundle, 1, binding, randbytes=rand)
        aad = credential_aad("e2e", "rc1.e2e.1", binding).decode()
        credentials.append({"context": ctx_json(binding), "gen": 1, "bundle": bundle, "aad": aad, "envelope": envelope})

    b0, env = cases[0][0], credentials[0]["envelope"]
    nonce, ct = env.split(".")[3:]
    decrypt = [
        ("copied into another config", env, with_ctx(b0, config_id=OTHER_CONFIG)),
        ("copied into another account", env, with_ctx(b0, user_id=OTHER_USER)),
        ("config moved to another provider", env, with_ctx(b0, provider_id="openrouter")),
        ("config base URL moved to another origin", env, with_ctx(b0, dest_origin="https://attacker.example")),
        ("origin changed only in port", env, with_ctx(b0, dest_origin="https://api.openai.com:8443")),
        ("generation in header edited 1 -> 2", edit(env, 2, "2"), ctx_json(b0)),
        ("one bit flipped in the nonce", edit(env, 3, flip(nonce, 0)), ctx_json(b0)),
        ("one bit flipped in the ciphertext", edit(env, 4, flip(ct, 0)), ctx_json(b0)),
        ("one bit flipped in the tag", edit(env, 4, flip(ct, -1)), ctx_json(b0)),
        ("tag truncated by one byte", edit(env, 4, b64url_encode(b64url_decode(ct)[:-1])), ctx_json(b0)),
    ]
    structural = [
        ("version rc1 -> rc2", edit(env, 0, "rc2")),
        ("version in upper case", edit(env, 0, "RC1")),
        ("mode e2e -> srv", edit(env, 1, "srv")),
        ("mode e2e -> udk", edit(env, 1, "udk")),
        ("mode unknown", edit(env, 1, "xyz")),
        ("prefix stripped", ".".join(env.split(".")[2:])),
        ("sixth part added", env + ".AAAA"),
        ("ciphertext part missing", ".".join(env.split(".")[:4])),
        ("empty ciphertext part", edit(env, 4, "")),
        ("generation with a leading zero", edit(env, 2, "01")),
        ("generation zero", edit(env, 2, "0")),
        ("generation not a number", edit(env, 2, "one")),
        ("padding added", env + "=="),
        ("standard-base64 characters", edit(env, 4, "+" + ct[1:-1] + "/")),
        ("non-canonical trailing bits", edit(env, 4, non_canonical(ct))),
        ("nonce of 11 bytes", edit(env, 3, b64url_encode(b64url_decode(nonce)[:11]))),
        ("nonce of 13 bytes", edit(env, 3, b64url_encode(b64url_decode(nonce) + b"\0"))),
        ("ciphertext of 16 bytes (tag only)", edit(env, 4, b64url_encode(b64url_decode(ct)[:16]))),
        ("trailing newline", env + "\n"),
        ("leading space", " " + env),
        ("non-ASCII character", edit(env, 3, nonce[:-1] + "é")),
        ("empty string", ""),
        ("just the header", "rc1.e2e.1"),
    ]
    tampered = [{"why": w, "envelope": e, "context": c, "expect": "decrypt"} for w, e, c in decrypt]
    tampered += [{"why": w, "envelope": e, "context": ctx_json(b0), "expect": "envelope"} for w, e in structural]

    udk_nonce, udk_ct = wrapped.split(".")[3:]
    tampered_udk = [
        {"why": "wrapped UDK of this account, other user id", "envelope": wrapped, "user_id": OTHER_USER, "expect": "wrong_phrase"},
        {"why": "generation edited 1 -> 2", "envelope": edit(wrapped, 2, "2"), "user_id": USER, "expect": "wrong_phrase"},
        {"why": "bit flipped in the wrapped key", "envelope": edit(wrapped, 4, flip(udk_ct, 3)), "user_id": USER, "expect": "wrong_phrase"},
        {"why": "wrapped key truncated", "envelope": edit(wrapped, 4, b64url_encode(b64url_decode(udk_ct)[:47])), "user_id": USER, "expect": "envelope"},
        {"why": "credential envelope given as a UDK", "envelope": env, "user_id": USER, "expect": "envelope"},
        {"why": "nonce bit flipped", "envelope": edit(wrapped, 3, flip(udk_nonce, 11)), "user_id": USER, "expect": "wrong_phrase"},
    ]
    return {
        "about": "rc1 End-to-End vectors. Generated by tests/vectors/make_vectors.py; never edit by hand.",
        "phrase": PHRASE,
        "entropy_hex": "7f" * 16,
        "seed_hex": seed.hex(),
        "kdf_salt": b64url_encode(kdf_salt),
        "kek_hex": kek.hex(),
        "user_id": USER,
        "udk_gen": 1,
        "udk_hex": udk.hex(),
        "udk_aad": udk_aad(1, USER).decode(),
        "wrapped_udk": wrapped,
        "wrong_phrase": WRONG_PHRASE,
        "wrong_phrase_kek_hex": e2e.kek_from_phrase(WRONG_PHRASE, kdf_salt).hex(),
        "credentials": credentials,
        "tampered": tampered,
        "tampered_udk": tampered_udk,
    }


def build_srv() -> dict[str, Any]:
    rand = Stream("srv")
    old_line = f"2026-01:{b64url_encode(rand(32))}"
    new_line = f"2026-11:{b64url_encode(rand(32))}"
    ring_before, ring_after = KeyRing.parse(old_line), KeyRing.parse(f"{new_line}\n{old_line}\n")
    binding = Binding(USER, CONFIG, "anthropic", "https://api.anthropic.com")
    bundle = {"api_key": "sk-ant-rolecall-vector-0002-abcdefghijklmnop"}
    envelope = srv.seal_bundle(ring_before, bundle, binding, randbytes=rand)
    rewrapped = srv.rewrap(envelope, ring_after, binding, randbytes=rand)
    other = srv.seal_bundle(ring_before, {"api_key": "sk-ant-another-record-0003"}, binding, randbytes=rand)
    spliced = ".".join(envelope.split(".")[:4] + other.split(".")[4:])
    wrapped_dek = envelope.split(".")[3]
    tampered = [
        ("copied into another config", envelope, with_ctx(binding, config_id=OTHER_CONFIG), "decrypt"),
        ("copied into another account", envelope, with_ctx(binding, user_id=OTHER_USER), "decrypt"),
        ("config moved to another provider", envelope, with_ctx(binding, provider_id="openai"), "decrypt"),
        ("config base URL moved to another origin", envelope, with_ctx(binding, dest_origin="https://attacker.example"), "decrypt"),
        ("kid relabelled to the other ring key", edit(envelope, 2, "2026-11"), ctx_json(binding), "decrypt"),
        ("kid not in the ring", edit(envelope, 2, "2025-07"), ctx_json(binding), "unknown_key"),
        ("bit flipped in the wrapped DEK", edit(envelope, 3, flip(wrapped_dek, 20)), ctx_json(binding), "decrypt"),
        ("content of another envelope under its own DEK spliced in", spliced, ctx_json(binding), "decrypt"),
        ("version rc1 -> rc2", edit(envelope, 0, "rc2"), ctx_json(binding), "envelope"),
        ("mode srv -> e2e", edit(envelope, 1, "e2e"), ctx_json(binding), "envelope"),
        ("kid with a slash", edit(envelope, 2, "2026/11"), ctx_json(binding), "envelope"),
        ("kid longer than 32 characters", edit(envelope, 2, "k" * 33), ctx_json(binding), "envelope"),
        ("wrapped DEK of 59 bytes", edit(envelope, 3, b64url_encode(b64url_decode(wrapped_dek)[:59])), ctx_json(binding), "envelope"),
        ("fifth part missing", ".".join(envelope.split(".")[:5]), ctx_json(binding), "envelope"),
        ("seventh part added", envelope + ".AAAA", ctx_json(binding), "envelope"),
        ("padding added", envelope + "=", ctx_json(binding), "envelope"),
    ]
    return {
        "about": "rc1 Server-Accessible vectors. Generated by tests/vectors/make_vectors.py; never edit by hand.",
        "ring_before": old_line,
        "ring_after": f"{new_line}\n{old_line}\n",
        "kek_hex": {kid: ring_after.kek(kid).hex() for kid in ring_after.kids},
        "context": ctx_json(binding),
        "bundle": bundle,
        "content_aad": credential_aad("srv", "rc1.srv", binding).decode(),
        "dek_aad": {kid: dek_aad(kid, binding).decode() for kid in ring_after.kids},
        "envelope": envelope,
        "rewrapped": rewrapped,
        "tampered": [{"why": w, "envelope": e, "context": c, "expect": x} for w, e, c, x in tampered],
    }


def render(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


FILES = {"rc1_e2e.json": build_e2e, "rc1_srv.json": build_srv}

if __name__ == "__main__":
    for name, build in FILES.items():
        (HERE / name).write_text(render(build()), encoding="utf-8")
        print("wrote", HERE / name)
