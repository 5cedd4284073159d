"""The key vault: each account's end-to-end key record, and sealing of stored credentials.

End-to-end (E2E): the browser derives a KEK from the 12-word phrase and wraps a random user data
key (UDK); the server stores only the salt and the wrapped UDK, and E2E credential envelopes it
cannot open, validated structurally. Server-Accessible: the server seals a credential bundle
under the key ring (``services.keyring``). See docs/security.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from rolecall.crypto import CryptoError, EnvelopeError, KeyRing, b64url_decode, parse_e2e, parse_udk, srv
from rolecall.services.errors import Conflict, Invalid
from rolecall.services.keyring import BoundConfig, binding_of
from rolecall.storage import direct
from rolecall.storage.db import Sessions, rowcount
from rolecall.storage.tables import ProviderConfig, VaultKey

KDF_SALT_BYTES = 32
NOT_ACTIVE = (
    "Set up end-to-end encryption first: Settings → API Keys → End-to-End Encryption. "
    "Provider keys can be saved once its status shows Active."
)


@dataclass(frozen=True)
class VaultRecord:
    kdf_salt: str
    udk_gen: int
    wrapped_udk: str


async def get_record(db: Sessions, account_id: str) -> VaultRecord | None:
    async with db() as s:
        row = await s.get(VaultKey, account_id)
    return VaultRecord(row.kdf_salt, row.udk_gen, row.wrapped_udk) if row else None


_SET_UP = direct.Query(select(VaultKey.account_id).where(VaultKey.account_id == bindparam("account")))


async def require_set_up(db: Sessions, account_id: str) -> None:
    """Conflict unless the account has set up encryption (a Test before saving needs it too)."""
    if await direct.first(db, _SET_UP, {"account": account_id}) is None:
        raise Conflict(NOT_ACTIVE, field="encryption")


async def require_active(s: AsyncSession, account_id: str) -> VaultRecord:
    """Inside a transaction: the account's key record, or Conflict if encryption is not set up."""
    row = await s.get(VaultKey, account_id)
    if row is None:
        raise Conflict(NOT_ACTIVE, field="encryption")
    return VaultRecord(row.kdf_salt, row.udk_gen, row.wrapped_udk)


def check_record(kdf_salt: str, udk_gen: int, wrapped_udk: str) -> VaultRecord:
    try:
        salt = b64url_decode(kdf_salt)
    except (EnvelopeError, ValueError):
        salt = b""
    if len(salt) != KDF_SALT_BYTES:
        raise Invalid(f"kdf_salt must be {KDF_SALT_BYTES} random bytes in base64url.", field="kdf_salt")
    try:
        envelope = parse_udk(wrapped_udk)
    except EnvelopeError as exc:
        raise Invalid(f"wrapped_udk is not a key envelope: {exc}", field="wrapped_udk") from None
    if envelope.gen != udk_gen:
        raise Invalid("wrapped_udk was made for another key generation.", field="udk_gen")
    return VaultRecord(kdf_salt, udk_gen, wrapped_udk)


def check_e2e_envelope(text: str, gen: int, field: str = "credential") -> str:
    """Structural check of a browser-sealed credential (the server cannot open it)."""
    try:
        envelope = parse_e2e(text)
    except EnvelopeError as exc:
        raise Invalid(f"The encrypted key is malformed: {exc}", field=field) from None
    if envelope.gen != gen:
        raise Invalid("The key was encrypted under an old recovery phrase. Unlock again and retry.", field=field)
    return text


async def set_up(db: Sessions, account_id: str, kdf_salt: str, udk_gen: int, wrapped_udk: str) -> VaultRecord:
    record = check_record(kdf_salt, udk_gen, wrapped_udk)
    if record.udk_gen != 1:
        raise Invalid("A new key record starts at generation 1.", field="udk_gen")
    async with db.begin() as s:
        if await s.get(VaultKey, account_id) is not None:
            raise Conflict("Encryption is already set up for this account.", field="encryption")
        s.add(VaultKey(account_id=account_id, kdf_salt=kdf_salt, udk_gen=1, wrapped_udk=wrapped_udk))
    return record


async def change_phrase(
    db: Sessions, account_id: str, previous_gen: int, record: VaultRecord, envelopes: dict[str, str]
) -> VaultRecord:
    """Swap in a new key record and every E2E credential re-sealed under it, all or nothing."""
    record = check_record(record.kdf_salt, record.udk_gen, record.wrapped_udk)
    if record.udk_gen != previous_gen + 1:
        raise Invalid("The new key generation must follow the current one.", field="udk_gen")
    for config_id, text in envelopes.items():
        check_e2e_envelope(text, record.udk_gen, field=f"credentials.{config_id}")
    async with db.begin() as s:
        row = await s.get(VaultKey, account_id, with_for_update=True)
        if row is None:
            raise Conflict(NOT_ACTIVE, field="encryption")
        if row.udk_gen != previous_gen:
            raise Conflict("The recovery phrase was changed elsewhere meanwhile. Reload and try again.", field="udk_gen")
        configs = list(await s.scalars(select(ProviderConfig).where(
            ProviderConfig.account_id == account_id, ProviderConfig.privacy_mode == "e2e")))
        if {c.id for c in configs} != set(envelopes):
            raise Conflict("Every end-to-end provider key must be re-encrypted together. Reload and try again.", field="credentials")
        for config in configs:
            config.credential_ct = envelopes[config.id]
        row.kdf_salt, row.udk_gen, row.wrapped_udk = record.kdf_salt, record.udk_gen, record.wrapped_udk
    return record


async def reset(db: Sessions, account_id: str) -> int:
    """Lost phrase and no unlocked device: forget the key record and every E2E config."""
    async with db.begin() as s:
        result = await s.execute(delete(ProviderConfig).where(
            ProviderConfig.account_id == account_id, ProviderConfig.privacy_mode == "e2e"))
        await s.execute(delete(VaultKey).where(VaultKey.account_id == account_id))
    return rowcount(result)


def seal_server_credential(ring: KeyRing, bundle: dict[str, Any], row: ProviderConfig) -> None:
    """Seal ``bundle`` for a Server-Accessible row (its id, owner, provider and origin set)."""
    row.credential_ct = srv.seal_bundle(ring, bundle, binding_of(row))
    row.key_id = srv.kid_of(row.credential_ct)


class SealedConfig(BoundConfig, Protocol):
    @property
    def credential_ct(self) -> str | None: ...


def open_server_credential(ring: KeyRing, config: SealedConfig) -> dict[str, Any]:
    try:
        return srv.open_bundle(ring, config.credential_ct or "", binding_of(config))
    except CryptoError:
        raise Invalid("The stored key cannot be decrypted any more. Edit the config and enter the key again.",
                      field="api_key") from None
