"""Server-Accessible mode: envelope encryption under the key ring
(docs/security.md, "Server-Accessible mode and the key ring").

Per record: a fresh 32-byte DEK encrypts the bundle (AAD header ``rc1.srv``); the DEK is
wrapped by the primary KEK (AAD header ``rc1.srv.<kid>`` + ``|dek``, bound to the same record).
Stored text: ``rc1.srv.<kid>.<nonce2||wrapped DEK>.<nonce>.<ct||tag>``.

Why the DEK layer with a local KEK: rotation re-wraps 60 bytes per row without touching (or
re-deriving nonces for) the content, and a KMS or Vault transit backend can later replace the
local KEK behind the same two calls. :func:`rewrap` is that rotation step;
:func:`reencrypt` draws a fresh DEK too, for a suspected master-key compromise.

The content AAD carries no kid, so re-wrapping keeps the content ciphertext byte-for-byte; the DEK
wrap AAD does carry the kid and the record binding, so a wrapped DEK cannot be relabelled to
another key id or transplanted to another record.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .aead import KEY_BYTES, NONCE_BYTES, Binding, RandBytes, credential_aad, dek_aad, seal, unseal
from .envelope import SrvEnvelope, decode_bundle, encode_bundle, parse_srv
from .errors import DecryptError
from .keyring import KeyRing

CONTENT_HEADER = "rc1.srv"


def seal_bundle(
    ring: KeyRing, bundle: Mapping[str, Any], binding: Binding, *, randbytes: RandBytes = os.urandom
) -> str:
    """Encrypt a credential bundle with a fresh DEK wrapped under the ring's primary key."""
    dek = randbytes(KEY_BYTES)
    nonce, ct = seal(dek, encode_bundle(bundle), credential_aad("srv", CONTENT_HEADER, binding), randbytes=randbytes)
    return str(_wrap(ring, dek, binding, nonce, ct, randbytes))


def open_bundle(ring: KeyRing, envelope: str, binding: Binding) -> dict[str, Any]:
    """Decrypt a server-accessible bundle.

    Raises :class:`EnvelopeError` (malformed), :class:`UnknownKeyError` (kid not in the ring; the
    message names it) or :class:`DecryptError` (wrong key material, or the record was swapped).
    """
    env = parse_srv(envelope)
    dek = _unwrap_dek(ring, env, binding)
    aad = credential_aad("srv", CONTENT_HEADER, binding)
    return decode_bundle(unseal(dek, env.nonce, env.ciphertext, aad))


def rewrap(envelope: str, ring: KeyRing, binding: Binding, *, randbytes: RandBytes = os.urandom) -> str:
    """Re-wrap the DEK under the ring's primary key; the content nonce and ciphertext are kept.

    Idempotent: an envelope already under the primary comes back unchanged, so an interrupted
    ``rolecall keys rotate`` can simply run again. The binding is needed because the DEK wrap is
    bound to its record; a row swapped into another record fails here instead of being laundered.
    """
    env = parse_srv(envelope)
    if env.kid == ring.primary:
        return envelope
    dek = _unwrap_dek(ring, env, binding)
    return str(_wrap(ring, dek, binding, env.nonce, env.ciphertext, randbytes))


def reencrypt(envelope: str, ring: KeyRing, binding: Binding, *, randbytes: RandBytes = os.urandom) -> str:
    """Open and seal again with a fresh DEK and nonces (``rotate --reencrypt``)."""
    return seal_bundle(ring, open_bundle(ring, envelope, binding), binding, randbytes=randbytes)


def check_wrap(ring: KeyRing, envelope: str, binding: Binding) -> None:
    """Prove the ring's key for this envelope unwraps its DEK, without opening the content.

    The start-up check: a ring with different material under a stored kid fails here, at once.
    """
    _unwrap_dek(ring, parse_srv(envelope), binding)


def kid_of(envelope: str) -> str:
    """The key id a server envelope is wrapped under (for the indexed ``key_id`` column)."""
    return parse_srv(envelope).kid


def _wrap(ring: KeyRing, dek: bytes, binding: Binding, nonce: bytes, ct: bytes, randbytes: RandBytes) -> SrvEnvelope:
    kid = ring.primary
    wrap_nonce, wrapped = seal(ring.kek(kid), dek, dek_aad(kid, binding), randbytes=randbytes)
    return SrvEnvelope(kid, wrap_nonce + wrapped, nonce, ct)


def _unwrap_dek(ring: KeyRing, env: SrvEnvelope, binding: Binding) -> bytes:
    kek = ring.kek(env.kid)  # UnknownKeyError names the missing kid
    wrap_nonce, wrapped = env.wrapped_dek[:NONCE_BYTES], env.wrapped_dek[NONCE_BYTES:]
    try:
        return unseal(kek, wrap_nonce, wrapped, dek_aad(env.kid, binding))
    except DecryptError:
        raise DecryptError(
            f"Key {env.kid!r} of the ring does not open this record's data key: the ring holds "
            "different key material under that id, or the record belongs to another "
            "account, config, provider or destination."
        ) from None
