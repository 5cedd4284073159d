"""Pure cryptography for the key vault: no I/O, no logging, no settings, nothing of rolecall but the
leaf ``rolecall.redact``.

Design: docs/security.md, "End-to-end key hierarchy" to "Server-Accessible mode and the key ring"
(choices with their reasons in docs/decisions.md). Suite ``rc1`` = AES-256-GCM (96-bit random
nonce, 128-bit tag), HKDF-SHA256, BIP39 seed; envelopes are versioned text parsed strictly; every
ciphertext is bound by AAD to its account, config, provider and destination origin.

- ``aead``     AES-256-GCM seal/unseal, HKDF, the exact AAD strings, :class:`Binding`
- ``envelope`` ``rc1.e2e`` / ``rc1.udk`` / ``rc1.srv`` formats and the strict parser
- ``e2e``      reference of the browser side (phrase → seed → KEK → UDK → bundles); ``vault.js``
               is tested against it through ``tests/vectors/``
- ``keyring``  the server key ring (kid → KEK, primary) and key-file lines
- ``srv``      server-accessible bundles: seal/open with a per-record DEK, rewrap, kid_of
- ``secret``   :class:`Secret` (masked, unpicklable) and :func:`masked_hint`

Typical server use::

    from rolecall.crypto import Binding, KeyRing, srv
    ring = KeyRing.parse(settings.encryption_keys)
    b = Binding(user_id, config_id, provider_id, dest_origin)
    text = srv.seal_bundle(ring, {"api_key": key}, b)
    bundle = srv.open_bundle(ring, text, b)
"""

from __future__ import annotations

from . import e2e, srv
from .aead import Binding
from .envelope import (
    E2EEnvelope,
    SrvEnvelope,
    UdkEnvelope,
    b64url_decode,
    b64url_encode,
    parse_e2e,
    parse_envelope,
    parse_srv,
    parse_udk,
)
from .errors import (
    ContextError,
    CryptoError,
    DecryptError,
    EnvelopeError,
    KeyRingError,
    UnknownKeyError,
    WrongPhraseError,
)
from .keyring import KeyRing, generate_key_file_text
from .secret import Secret, masked_hint

__all__ = [
    "Binding",
    "ContextError",
    "CryptoError",
    "DecryptError",
    "E2EEnvelope",
    "EnvelopeError",
    "KeyRing",
    "KeyRingError",
    "Secret",
    "SrvEnvelope",
    "UdkEnvelope",
    "UnknownKeyError",
    "WrongPhraseError",
    "b64url_decode",
    "b64url_encode",
    "e2e",
    "generate_key_file_text",
    "masked_hint",
    "parse_e2e",
    "parse_envelope",
    "parse_srv",
    "parse_udk",
    "srv",
]
