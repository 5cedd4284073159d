"""End-to-end mode, reference implementation of what the browser does (docs/security.md,
"End-to-end key hierarchy").

The running server never calls these with real secrets: in E2E mode the phrase, seed, KEK and UDK
exist only in the browser (``web/static/js/vault.js``). This module is the executable
specification that ``vault.js`` is tested against (shared vectors in ``tests/vectors/``),
and what a recovery tool could use. ::

    12 words ──PBKDF2-HMAC-SHA512("mnemonic", 2048 it., 64 B)──▶ BIP39 seed
    seed ──HKDF-SHA256(salt = kdf_salt[32 B, per account], info "rolecall/v1/e2e/kek")──▶ KEK
    KEK ──AES-256-GCM, aad "rolecall/v1|e2e|udk|rc1.udk.<gen>|u=<user>"──▶ wrapped UDK (rc1.udk…)
    UDK ──AES-256-GCM, credential aad──▶ credential bundle (rc1.e2e…)

Why this shape: 128 bits of CSPRNG entropy need no slow KDF; the standard BIP39 seed means
any BIP39 tool reproduces it; the UDK layer lets phrase rotation and "remember this device" touch
one key; the wrapped UDK is the only verifier (a phrase is right iff it unwraps), so the server
holds no hash of anything phrase-derived.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from .aead import KEY_BYTES, Binding, RandBytes, check_gen, credential_aad, hkdf_sha256, seal, udk_aad, unseal
from .envelope import E2EEnvelope, UdkEnvelope, decode_bundle, encode_bundle, parse_e2e, parse_udk
from .errors import ContextError, DecryptError, WrongPhraseError

KEK_INFO = b"rolecall/v1/e2e/kek"
KDF_SALT_BYTES = 32
PHRASE_WORDS = 12
BIP39_ITERATIONS = 2048

# After normalisation a RoleCall phrase is 12 lowercase a-z words (the English list's alphabet).
_PHRASE = re.compile(r"[a-z]{3,8}(?: [a-z]{3,8}){11}")


def normalize_phrase(text: str) -> str:
    """NFKD, lower case, trimmed, single spaces: what a person typed → what we derive from."""
    return " ".join(unicodedata.normalize("NFKD", text).lower().split())


def seed_from_phrase(phrase: str, passphrase: str = "") -> bytes:
    """The standard BIP39 seed (64 bytes). RoleCall always uses the empty passphrase."""
    password = unicodedata.normalize("NFKD", phrase).encode("utf-8")
    salt = ("mnemonic" + unicodedata.normalize("NFKD", passphrase)).encode("utf-8")
    return hashlib.pbkdf2_hmac("sha512", password, salt, BIP39_ITERATIONS, 64)


def kek_from_seed(seed: bytes, kdf_salt: bytes) -> bytes:
    """KEK = HKDF-SHA256(seed, salt = the account's 32-byte kdf_salt, info "rolecall/v1/e2e/kek")."""
    if len(seed) != 64:
        raise ValueError("a BIP39 seed is 64 bytes")
    if len(kdf_salt) != KDF_SALT_BYTES:
        raise ContextError("kdf_salt must be 32 bytes")
    return hkdf_sha256(seed, salt=kdf_salt, info=KEK_INFO)


def kek_from_phrase(phrase: str, kdf_salt: bytes) -> bytes:
    """Normalise a 12-word phrase and derive the KEK. Word-list and checksum checks happen
    earlier, in the UI (``bip39.js``); here only the shape is enforced so that nothing else is
    ever fed into the derivation."""
    words = normalize_phrase(phrase)
    if not _PHRASE.fullmatch(words):
        raise ContextError("a recovery phrase is 12 words of letters a-z")
    return kek_from_seed(seed_from_phrase(words), kdf_salt)


def new_kdf_salt(*, randbytes: RandBytes = os.urandom) -> bytes:
    return randbytes(KDF_SALT_BYTES)


def new_udk(*, randbytes: RandBytes = os.urandom) -> bytes:
    return randbytes(KEY_BYTES)


def wrap_udk(kek: bytes, udk: bytes, gen: int, user_id: str, *, randbytes: RandBytes = os.urandom) -> str:
    """Wrap the user data key under the KEK → ``rc1.udk.<gen>.<nonce>.<ct>``."""
    if len(udk) != KEY_BYTES:
        raise ValueError("a UDK is 32 bytes")
    nonce, ct = seal(kek, udk, udk_aad(gen, user_id), randbytes=randbytes)
    return str(UdkEnvelope(gen, nonce, ct))


def unwrap_udk(kek: bytes, envelope: str, user_id: str) -> bytes:
    """Unwrap the UDK; a failed tag means the phrase is wrong (:class:`WrongPhraseError`).

    A record copied from another account fails the same way, which is the right answer for it too.
    """
    env = parse_udk(envelope)
    try:
        return unseal(kek, env.nonce, env.ciphertext, udk_aad(env.gen, user_id))
    except DecryptError:
        raise WrongPhraseError() from None


def seal_bundle(
    udk: bytes,
    bundle: Mapping[str, Any],
    gen: int,
    binding: Binding,
    *,
    randbytes: RandBytes = os.urandom,
) -> str:
    """Encrypt a credential bundle under UDK generation ``gen`` → ``rc1.e2e.<gen>.<nonce>.<ct>``."""
    header = f"rc1.e2e.{check_gen(gen)}"
    nonce, ct = seal(udk, encode_bundle(bundle), credential_aad("e2e", header, binding), randbytes=randbytes)
    return str(E2EEnvelope(gen, nonce, ct))


def open_bundle(udk: bytes, envelope: str, binding: Binding, *, gen: int | None = None) -> dict[str, Any]:
    """Decrypt a credential bundle. The generation is read from the (authenticated) header; pass
    ``gen`` to also insist that it is the generation of the key in hand."""
    env = parse_e2e(envelope)
    if gen is not None and env.gen != gen:
        raise DecryptError(
            f"This key was sealed under encryption generation {env.gen}, not {gen}: re-enter it."
        )
    return decode_bundle(unseal(udk, env.nonce, env.ciphertext, credential_aad("e2e", env.header, binding)))
