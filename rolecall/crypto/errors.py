"""The crypto package's exceptions.

Messages are fixed sentences plus non-secret identifiers (a part count, a key id). They never
contain key material, plaintext, or the envelope text itself: a malformed upload is refused
without echoing the blob (docs/security.md, "Plaintext keys in the server").

    CryptoError
    ├── EnvelopeError     structure is wrong: refused before any decryption is tried
    ├── ContextError      a binding field (user, config, provider, origin) is not canonical
    ├── KeyRingError      the configured server key ring is unusable
    └── DecryptError      the AEAD tag did not verify: wrong key, or bound to something else
        ├── WrongPhraseError   the wrapped UDK did not open with this phrase's KEK
        └── UnknownKeyError    a server envelope names a key id that is not in the ring
"""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error raised by ``rolecall.crypto``."""


class EnvelopeError(CryptoError, ValueError):
    """The envelope text is malformed (parts, version, mode, ids, base64url, sizes)."""


class ContextError(CryptoError, ValueError):
    """A value that goes into associated data is not in its strict, canonical form."""


class KeyRingError(CryptoError, ValueError):
    """The server key ring configuration is missing, malformed or weak."""


class DecryptError(CryptoError):
    """Authentication failed: wrong key, edited header, or a blob bound to another record."""


class WrongPhraseError(DecryptError):
    """The recovery phrase does not unlock this account's wrapped user data key."""

    def __init__(self) -> None:
        super().__init__("This phrase doesn't match your account.")


class UnknownKeyError(DecryptError):
    """The envelope was wrapped under a key id that the ring no longer (or never) had."""

    def __init__(self, kid: str) -> None:
        self.kid = kid
        super().__init__(
            f"No key with id {kid!r} in the server key ring: restore that key to the ring "
            "(it was retired too early) or re-enter the provider key."
        )
