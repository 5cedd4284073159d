"""Versioned envelope text formats of suite ``rc1`` and their strict parser
(docs/security.md, "Envelope formats").

::

    E2E credential : rc1.e2e.<udk_gen>.<nonce>.<ct||tag>
    E2E wrapped UDK: rc1.udk.<udk_gen>.<nonce>.<ct||tag>            (ct = 32-byte key + 16-byte tag)
    Server cred    : rc1.srv.<kid>.<wrapped_dek>.<nonce>.<ct||tag>  (wrapped_dek = nonce || AESGCM(KEK, DEK))

ASCII, dot-separated, base64url without padding. ``rc1`` names the whole suite (AES-256-GCM,
96-bit nonce, 128-bit tag, HKDF-SHA256, BIP39 seed); a future suite is ``rc2``. Readers accept an
explicit list of versions (today: one), writers write the newest.

The parser refuses, before any decryption is tried: a wrong part count, an unknown version or
mode, a generation that is not a canonical decimal, a key id outside ``[A-Za-z0-9_-]{1,32}``,
anything but the base64url alphabet, padding, non-canonical trailing bits, a nonce that is not 12
bytes, a ciphertext shorter than 17 bytes or longer than the cap, and any text longer than the cap
allows (checked first, so a 10 MB string costs one ``len``). No default mode, no legacy fallback.

The header (``rc1.e2e.<gen>``, ``rc1.udk.<gen>``, ``rc1.srv.<kid>``) is part of the AAD, so an edited
header that still parses fails to decrypt (see ``aead.py``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .aead import GEN, KEY_BYTES, KID, NONCE_BYTES, TAG_BYTES
from .errors import CryptoError, EnvelopeError

VERSIONS = ("rc1",)
WRITE_VERSION = "rc1"

MIN_CIPHERTEXT_BYTES = 1 + TAG_BYTES
# Room for a Vertex service-account JSON (≈2.4 KB) many times over; bounded so a stored blob can
# never be used to make the server (or a browser) chew on megabytes.
MAX_CIPHERTEXT_BYTES = 24 * 1024
MAX_PLAINTEXT_BYTES = MAX_CIPHERTEXT_BYTES - TAG_BYTES
WRAPPED_KEY_BYTES = KEY_BYTES + TAG_BYTES  # a wrapped 256-bit key: 48 bytes
WRAPPED_DEK_BYTES = NONCE_BYTES + WRAPPED_KEY_BYTES  # nonce || AESGCM(KEK, DEK): 60 bytes
MAX_ENVELOPE_CHARS = 256 + (MAX_CIPHERTEXT_BYTES * 4 + 2) // 3

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of :func:`b64url_encode`: alphabet only, no padding, canonical bits."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise EnvelopeError("envelope part is not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Non-zero trailing bits decode to the same bytes as the canonical text; refusing them keeps
    # one ciphertext = one spelling.
    if b64url_encode(data) != text:
        raise EnvelopeError("envelope part is not canonical base64url")
    return data


def _text(header: str, *parts: bytes) -> str:
    """An envelope's text: the header, then each binary part in canonical base64url, dot-separated."""
    return ".".join([header, *map(b64url_encode, parts)])


@dataclass(frozen=True, slots=True)
class E2EEnvelope:
    """``rc1.e2e.<gen>.<nonce>.<ct>``: a credential bundle sealed in the browser under UDK ``gen``."""

    gen: int
    nonce: bytes
    ciphertext: bytes

    def __post_init__(self) -> None:
        _check_gen(self.gen)
        _check_nonce(self.nonce)
        _check_ciphertext(self.ciphertext)

    @property
    def header(self) -> str:
        return f"{WRITE_VERSION}.e2e.{self.gen}"

    def __str__(self) -> str:
        return _text(self.header, self.nonce, self.ciphertext)


@dataclass(frozen=True, slots=True)
class UdkEnvelope:
    """``rc1.udk.<gen>.<nonce>.<ct>``: the user data key wrapped by the phrase-derived KEK."""

    gen: int
    nonce: bytes
    ciphertext: bytes

    def __post_init__(self) -> None:
        _check_gen(self.gen)
        _check_nonce(self.nonce)
        if len(self.ciphertext) != WRAPPED_KEY_BYTES:
            raise EnvelopeError("wrapped key must be 48 bytes")

    @property
    def header(self) -> str:
        return f"{WRITE_VERSION}.udk.{self.gen}"

    def __str__(self) -> str:
        return _text(self.header, self.nonce, self.ciphertext)


@dataclass(frozen=True, slots=True)
class SrvEnvelope:
    """``rc1.srv.<kid>.<wrapped_dek>.<nonce>.<ct>``: a bundle sealed by the server."""

    kid: str
    wrapped_dek: bytes
    nonce: bytes
    ciphertext: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.kid, str) or not KID.fullmatch(self.kid):
            raise EnvelopeError("key id must match [A-Za-z0-9_-]{1,32}")
        if len(self.wrapped_dek) != WRAPPED_DEK_BYTES:
            raise EnvelopeError("wrapped data key must be 60 bytes")
        _check_nonce(self.nonce)
        _check_ciphertext(self.ciphertext)

    @property
    def header(self) -> str:
        """Header of the DEK wrap (``rc1.srv.<kid>``); the content AAD uses plain ``rc1.srv``."""
        return f"{WRITE_VERSION}.srv.{self.kid}"

    def __str__(self) -> str:
        return _text(self.header, self.wrapped_dek, self.nonce, self.ciphertext)


Envelope = E2EEnvelope | UdkEnvelope | SrvEnvelope

_PARTS = {"e2e": 5, "udk": 5, "srv": 6}
_E = TypeVar("_E", E2EEnvelope, UdkEnvelope, SrvEnvelope)


def parse_envelope(text: str) -> Envelope:
    """Parse any ``rc1`` envelope; raises :class:`EnvelopeError` on anything off-format."""
    if not isinstance(text, str):
        raise EnvelopeError("envelope must be text")
    if len(text) > MAX_ENVELOPE_CHARS:
        raise EnvelopeError("envelope is too long")
    if not text.isascii():
        raise EnvelopeError("envelope must be ASCII")
    parts = text.split(".")
    if len(parts) < 3:
        raise EnvelopeError("not an envelope: expected rc1.<mode>.…")
    version, mode = parts[0], parts[1]
    if version not in VERSIONS:
        raise EnvelopeError("unsupported envelope version")
    if mode not in _PARTS:
        raise EnvelopeError("unknown envelope mode")
    if len(parts) != _PARTS[mode]:
        raise EnvelopeError(f"an {mode} envelope has {_PARTS[mode]} parts, this one has {len(parts)}")
    if mode == "srv":
        kid, wrapped, nonce, ct = parts[2:]
        if not KID.fullmatch(kid):
            raise EnvelopeError("key id must match [A-Za-z0-9_-]{1,32}")
        return SrvEnvelope(kid, b64url_decode(wrapped), b64url_decode(nonce), b64url_decode(ct))
    gen_text, nonce, ct = parts[2:]
    if not GEN.fullmatch(gen_text):
        raise EnvelopeError("generation must be a positive decimal without leading zeros")
    cls = E2EEnvelope if mode == "e2e" else UdkEnvelope
    return cls(int(gen_text), b64url_decode(nonce), b64url_decode(ct))


def parse_e2e(text: str) -> E2EEnvelope:
    """Parse an E2E credential envelope; what the server stores for an E2E config."""
    return _expect(parse_envelope(text), E2EEnvelope, "e2e")


def parse_udk(text: str) -> UdkEnvelope:
    """Parse a wrapped-UDK envelope; what the server stores in the account's key record."""
    return _expect(parse_envelope(text), UdkEnvelope, "udk")


def parse_srv(text: str) -> SrvEnvelope:
    """Parse a server-accessible credential envelope."""
    return _expect(parse_envelope(text), SrvEnvelope, "srv")


def _expect(env: Envelope, cls: type[_E], mode: str) -> _E:
    if not isinstance(env, cls):
        raise EnvelopeError(f"expected an rc1.{mode} envelope")
    return env


def _check_gen(gen: object) -> None:
    if not isinstance(gen, int) or isinstance(gen, bool) or not GEN.fullmatch(str(gen)):
        raise EnvelopeError("generation must be a positive integer")


def _check_nonce(nonce: bytes) -> None:
    if len(nonce) != NONCE_BYTES:
        raise EnvelopeError("nonce must be 12 bytes")


def _check_ciphertext(ct: bytes) -> None:
    if not MIN_CIPHERTEXT_BYTES <= len(ct) <= MAX_CIPHERTEXT_BYTES:
        raise EnvelopeError(
            f"ciphertext must be {MIN_CIPHERTEXT_BYTES}-{MAX_CIPHERTEXT_BYTES} bytes"
        )


def encode_bundle(bundle: Mapping[str, Any]) -> bytes:
    """A credential bundle's plaintext: compact UTF-8 JSON, the bytes ``JSON.stringify`` makes.

    Raises ``ValueError`` (without the content) if it is not a JSON object of plain values or is
    larger than the ciphertext cap allows.
    """
    if not isinstance(bundle, Mapping):
        raise ValueError("a credential bundle must be a JSON object")
    try:
        text = json.dumps(dict(bundle), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise ValueError("a credential bundle must hold only plain JSON values") from None
    data = text.encode("utf-8")
    if len(data) > MAX_PLAINTEXT_BYTES:
        raise ValueError(f"a credential bundle must be at most {MAX_PLAINTEXT_BYTES} bytes")
    return data


def decode_bundle(data: bytes) -> dict[str, Any]:
    """Inverse of :func:`encode_bundle`; only ever called on authenticated plaintext."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CryptoError("decrypted bundle is not UTF-8 JSON") from None
    if not isinstance(value, dict):
        raise CryptoError("decrypted bundle is not a JSON object")
    return value
