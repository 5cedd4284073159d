"""AES-256-GCM with associated data, and the exact AAD strings of suite ``rc1``.

Design (docs/security.md, "Envelope formats" and "Associated data (binding)"):

- One AEAD everywhere: AES-256-GCM, 96-bit random nonce, 128-bit tag, output ``ct || tag`` (the
  layout WebCrypto and ``cryptography``'s ``AESGCM`` both use, so no reformatting between them).
- Every ciphertext is bound by associated data to what it belongs to. The AAD strings are::

      rolecall/v1|e2e|udk|rc1.udk.<gen>|u=<user>                                    wrapped UDK
      rolecall/v1|<mode>|credential|<header>|u=<user>|c=<config>|p=<provider>|o=<origin>   credential
      rolecall/v1|srv|credential|rc1.srv.<kid>|u=…|c=…|p=…|o=…|dek                  server DEK wrap

  with ``<header>`` = ``rc1.e2e.<gen>`` (E2E content) or ``rc1.srv`` (server content: no kid, so a
  re-wrap under a new key leaves the content ciphertext untouched).
- Every field has a strict charset that excludes ``|``, so the encoding is unambiguous in Python and
  JavaScript alike. ``dest_origin`` is computed once by the server and used verbatim here.
- Nonces come from ``os.urandom``. Functions that draw randomness take a keyword-only
  ``randbytes`` so the vector generator can make reproducible envelopes; production code never
  passes it (never derive nonces from ids or counters).

The web front end (``web/static/js/vault.js``) builds the same strings; shared vectors in
``tests/vectors/`` keep the two in step.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ContextError, DecryptError

RandBytes = Callable[[int], bytes]

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

AAD_PREFIX = "rolecall/v1"

# Account ids are 24 hex chars, config ids may be browser-made UUIDs: one lowercase charset covers
# both and keeps "|" and case aliases out.
_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_PROVIDER_ID = re.compile(r"[a-z0-9_-]{1,32}")
# scheme://host[:port], lowercase, host IDNA-encoded (a-z0-9.-) or a bracketed IPv6 literal.
_ORIGIN = re.compile(
    r"https?://(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]{2,45}\])(?::(?P<port>[1-9][0-9]{0,4}))?"
)
# Envelope generation numbers and key ids. Generations are canonical decimals so that
# "01" and "1" cannot both name the same UDK.
GEN = re.compile(r"[1-9][0-9]{0,8}")
KID = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True, slots=True)
class Binding:
    """What a credential ciphertext belongs to. Checked on construction; all fields public.

    **Parameters:**

    * **user_id** - account id (lowercase ``[a-z0-9_-]``, ≤ 64).
    * **config_id** - provider config id (same charset; a canonical lowercase UUID fits).
    * **provider_id** - registry id, ``[a-z0-9_-]{1,32}``.
    * **dest_origin** - ``scheme://host[:port]`` as stored on the config by the server.
    """

    user_id: str
    config_id: str
    provider_id: str
    dest_origin: str

    def __post_init__(self) -> None:
        check_id("user_id", self.user_id)
        check_id("config_id", self.config_id)
        _check(_PROVIDER_ID, "provider_id", self.provider_id)
        _check(_ORIGIN, "dest_origin", self.dest_origin)
        port = _ORIGIN.fullmatch(self.dest_origin).group("port")  # type: ignore[union-attr]
        if port is not None and int(port) > 65535:
            raise ContextError("dest_origin has a port outside 1-65535")


def _check(pattern: re.Pattern[str], name: str, value: object) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        # The value itself is left out: these come from our own rows, but a message is no place
        # to reflect input.
        raise ContextError(f"{name} is not in its canonical form")


def check_id(name: str, value: object) -> None:
    _check(_ID, name, value)


def check_gen(gen: object) -> str:
    """Return the canonical decimal text of a UDK generation (1, 2, …)."""
    if not isinstance(gen, int) or isinstance(gen, bool) or not GEN.fullmatch(str(gen)):
        raise ContextError("udk_gen must be a positive integer")
    return str(gen)


def check_kid(kid: object) -> str:
    _check(KID, "key id", kid)
    return kid  # type: ignore[return-value]


def udk_aad(gen: int, user_id: str) -> bytes:
    """AAD of a wrapped user data key: ``rolecall/v1|e2e|udk|rc1.udk.<gen>|u=<user>``."""
    check_id("user_id", user_id)
    return f"{AAD_PREFIX}|e2e|udk|rc1.udk.{check_gen(gen)}|u={user_id}".encode("ascii")


def credential_aad(mode: str, header: str, binding: Binding) -> bytes:
    """AAD of a credential bundle. ``header`` is ``rc1.e2e.<gen>`` or ``rc1.srv``."""
    if mode == "e2e":
        ok = header.startswith("rc1.e2e.") and GEN.fullmatch(header[8:]) is not None
    elif mode == "srv":
        ok = header == "rc1.srv"
    else:
        raise ContextError("mode must be 'e2e' or 'srv'")
    if not ok:
        raise ContextError("header does not match the mode")
    return _credential_aad(mode, header, binding).encode("ascii")


def dek_aad(kid: str, binding: Binding) -> bytes:
    """AAD of a server DEK wrapped under key ``kid``: the content AAD with ``rc1.srv.<kid>`` + ``|dek``."""
    return (_credential_aad("srv", f"rc1.srv.{check_kid(kid)}", binding) + "|dek").encode("ascii")


def _credential_aad(mode: str, header: str, b: Binding) -> str:
    if not isinstance(b, Binding):
        raise ContextError("binding must be a Binding")
    return (
        f"{AAD_PREFIX}|{mode}|credential|{header}"
        f"|u={b.user_id}|c={b.config_id}|p={b.provider_id}|o={b.dest_origin}"
    )


def seal(key: bytes, plaintext: bytes, aad: bytes, *, randbytes: RandBytes = os.urandom) -> tuple[bytes, bytes]:
    """Encrypt with a fresh random nonce. Returns ``(nonce, ct || tag)``."""
    _check_key(key)
    nonce = randbytes(NONCE_BYTES)
    if len(nonce) != NONCE_BYTES:
        raise ValueError("randbytes returned the wrong length")
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """Decrypt and verify; raises :class:`DecryptError` on any authentication failure."""
    _check_key(key)
    if len(nonce) != NONCE_BYTES or len(ciphertext) < TAG_BYTES:
        raise DecryptError("ciphertext or nonce has the wrong size")
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        # `from None`: InvalidTag carries nothing useful, and a chained traceback is one more
        # place a caller's locals could be rendered.
        raise DecryptError(
            "Could not decrypt: wrong key, or the data belongs to another account, config, "
            "provider or destination."
        ) from None


def hkdf_sha256(ikm: bytes, *, salt: bytes, info: bytes, length: int = KEY_BYTES) -> bytes:
    """HKDF-SHA256 (RFC 5869). An empty salt means the RFC default (zeros), as in WebCrypto."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info).derive(ikm)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise ValueError("AES-256-GCM needs a 32-byte key")
