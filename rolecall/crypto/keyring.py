"""The server's key ring for Server-Accessible mode (docs/security.md,
"Server-Accessible mode and the key ring").

Configuration is one line (env ``ROLECALL_ENCRYPTION_KEYS``) or a key file with the same data::

    2026-11:<base64 of 32 random bytes>,2026-01:<base64 of 32 random bytes>

Entries are separated by commas or newlines; the FIRST entry is the primary (new writes use it);
the others stay decrypt-capable until ``rolecall keys retire`` removes them (once no stored key
uses them). Blank lines and lines
starting with ``#`` are ignored, so a key file can carry a comment. Standard or URL-safe base64,
padding optional.

Refused, with a message that names the key id but never the key: anything that is not exactly 32
bytes, a key made of one repeated byte (all zeros is the classic mistake), the same key under two
ids, duplicate ids, ids outside ``[A-Za-z0-9_-]{1,32}``, an empty ring. Never a plaintext fallback.

Purpose separation: the ring keeps only ``KEK = HKDF-SHA256(configured key, salt = "", info =
"rolecall/v1/srv/credential-kek")``, so the configured secret itself is never an AES key and other
uses of operator secrets take other labels. Tink/Vault ideas (key ids, a primary, re-wrap), not
their code.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Mapping

from .aead import KEY_BYTES, KID, RandBytes, hkdf_sha256
from .errors import KeyRingError, UnknownKeyError

KEK_INFO = b"rolecall/v1/srv/credential-kek"

# 32 bytes = 43 base64 characters + one "=" of padding.
_KEY_TEXT = re.compile(r"(?P<std>[A-Za-z0-9+/]{43})=?|(?P<url>[A-Za-z0-9_-]{43})=?")


class KeyRing:
    """Key id → KEK, plus which id is primary. Immutable; build a new ring to rotate.

    ```python
    ring = KeyRing.parse(settings.encryption_keys)
    envelope = srv.seal_bundle(ring, {"api_key": key}, binding)   # wraps under ring.primary
    ```

    **Parameters:**

    * **keys** - configured keys by id, in order; each exactly 32 bytes, not one repeated byte.
    * **primary** - the id new envelopes are wrapped under; must be one of ``keys``.
    """

    __slots__ = ("_keks", "_primary")

    def __init__(self, keys: Mapping[str, bytes], primary: str) -> None:
        if not keys:
            raise KeyRingError("the key ring is empty: configure at least one encryption key")
        seen: set[bytes] = set()
        keks: dict[str, bytes] = {}
        for kid, key in keys.items():
            if not isinstance(kid, str) or not KID.fullmatch(kid):
                raise KeyRingError("key ids must match [A-Za-z0-9_-]{1,32}")
            _check_key(kid, key)
            if key in seen:
                raise KeyRingError(f"key {kid!r} repeats another key of the ring")
            seen.add(bytes(key))
            keks[kid] = hkdf_sha256(bytes(key), salt=b"", info=KEK_INFO)
        if primary not in keks:
            raise KeyRingError(f"primary key id {primary!r} is not in the ring")
        self._keks = keks
        self._primary = primary

    @classmethod
    def parse(cls, text: str) -> KeyRing:
        """Parse ``"kid:<base64>,kid2:<base64>"`` (or one entry per line); the first is primary."""
        entries = _entries(text)
        keys: dict[str, bytes] = {}
        for number, entry in enumerate(entries, start=1):
            kid, sep, key_text = entry.partition(":")
            kid, key_text = kid.strip(), key_text.strip()
            if not sep or not KID.fullmatch(kid):
                raise KeyRingError(f"key ring entry {number} is not '<id>:<base64 key>' with id [A-Za-z0-9_-]{{1,32}}")
            if kid in keys:
                raise KeyRingError(f"key id {kid!r} appears twice in the key ring")
            keys[kid] = _decode_key(kid, key_text)
        if not keys:
            raise KeyRingError("the key ring is empty: configure at least one encryption key")
        return cls(keys, primary=next(iter(keys)))

    @property
    def primary(self) -> str:
        return self._primary

    @property
    def kids(self) -> tuple[str, ...]:
        """All key ids, primary first (configuration order)."""
        return (self._primary, *(k for k in self._keks if k != self._primary))

    def kek(self, kid: str) -> bytes:
        """The KEK for ``kid``; :class:`UnknownKeyError` (naming the id) if the ring lacks it."""
        try:
            return self._keks[kid]
        except KeyError:
            raise UnknownKeyError(kid) from None

    def missing(self, kids: Iterable[str]) -> list[str]:
        """Ids (e.g. ``SELECT DISTINCT key_id``) that this ring cannot open: the startup check."""
        return sorted({k for k in kids if k not in self._keks})

    def __contains__(self, kid: object) -> bool:
        return kid in self._keks

    def __repr__(self) -> str:
        return f"KeyRing(primary={self._primary!r}, kids={self.kids!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a KeyRing holds key material and cannot be pickled")


def generate_key_file_text(kid: str, *, randbytes: RandBytes = os.urandom) -> str:
    """A new ring entry ``"<kid>:<base64 of 32 random bytes>\\n"``.

    Put it FIRST in the file (or setting) to make it the primary; keep the old entries after it
    until ``rolecall keys rotate`` has re-wrapped every row. The caller writes the file (mode 0600).
    """
    if not isinstance(kid, str) or not KID.fullmatch(kid):
        raise KeyRingError("key ids must match [A-Za-z0-9_-]{1,32}")
    line = f"{kid}:{base64.b64encode(randbytes(KEY_BYTES)).decode('ascii')}\n"
    KeyRing.parse(line)  # proves the line is acceptable before anyone writes it down
    return line


def _entries(text: str) -> list[str]:
    if not isinstance(text, str):
        raise KeyRingError("the key ring must be text")
    lines = [ln.strip() for ln in text.splitlines()]
    body = ",".join(ln for ln in lines if ln and not ln.startswith("#"))
    return [e for e in (p.strip() for p in body.split(",")) if e]


def _decode_key(kid: str, text: str) -> bytes:
    match = _KEY_TEXT.fullmatch(text)
    if match is None:
        raise KeyRingError(f"key {kid!r} must be 32 bytes in base64 (e.g. `openssl rand -base64 32`)")
    try:
        if match.group("std"):
            key = base64.b64decode(match.group("std") + "=", validate=True)
            canonical = base64.b64encode(key).decode("ascii").rstrip("=")
        else:
            key = base64.urlsafe_b64decode(match.group("url") + "=")
            canonical = base64.urlsafe_b64encode(key).decode("ascii").rstrip("=")
    except binascii.Error:
        raise KeyRingError(f"key {kid!r} is not valid base64") from None
    if canonical != (match.group("std") or match.group("url")):
        raise KeyRingError(f"key {kid!r} is not canonical base64")
    _check_key(kid, key)
    return key


def _check_key(kid: str, key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) != KEY_BYTES:
        raise KeyRingError(f"key {kid!r} must be exactly 32 bytes")
    if len(set(key)) == 1:
        raise KeyRingError(f"key {kid!r} is one repeated byte, not a random key")
