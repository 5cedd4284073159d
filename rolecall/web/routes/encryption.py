"""End-to-end encryption: the account's key record, phrase change, reset, and the BIP39 word list.

The phrase never reaches these routes: the browser sends only the salt, the wrapped user data key
and, on a phrase change, the credentials it re-encrypted itself.
"""

from __future__ import annotations

from pathlib import Path

import mnemonic
from fastapi import APIRouter, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from rolecall.services import provider_configs, vault
from rolecall.services.errors import Invalid
from rolecall.web.deps import CurrentAccount, ResourcesDep

api = APIRouter(prefix="/api/encryption", tags=["encryption"])
assets = APIRouter(include_in_schema=False)
WORDLIST = Path(mnemonic.__file__).resolve().parent / "wordlist" / "english.txt"


class KeyRecordIn(BaseModel):
    kdf_salt: str = Field(max_length=64)
    udk_gen: int = Field(ge=1, le=1_000_000)
    wrapped_udk: str = Field(max_length=200)


class PhraseChangeIn(KeyRecordIn):
    previous_gen: int = Field(ge=1)
    credentials: dict[str, str] = Field(default_factory=dict, max_length=1000)


class ResetIn(BaseModel):
    confirm: str


class EncryptionOut(BaseModel):
    status: str = Field(description="'active' or 'not_set_up'")
    account_id: str
    kdf_salt: str | None = None
    udk_gen: int | None = None
    wrapped_udk: str | None = None


class E2ECredentialOut(BaseModel):
    config_id: str
    provider_id: str
    dest_origin: str
    credential: str


def _out(account_id: str, record: vault.VaultRecord | None) -> EncryptionOut:
    if record is None:
        return EncryptionOut(status="not_set_up", account_id=account_id)
    return EncryptionOut(status="active", account_id=account_id, kdf_salt=record.kdf_salt,
                         udk_gen=record.udk_gen, wrapped_udk=record.wrapped_udk)


@api.get("", response_model=EncryptionOut, summary="Your encryption status and key record")
async def get_encryption(res: ResourcesDep, account: CurrentAccount) -> EncryptionOut:
    return _out(account.id, await vault.get_record(res.db, account.id))


@api.post("/setup", status_code=201, response_model=EncryptionOut, summary="Store the key record made in the browser")
async def setup(res: ResourcesDep, account: CurrentAccount, body: KeyRecordIn) -> EncryptionOut:
    record = await vault.set_up(res.db, account.id, body.kdf_salt, body.udk_gen, body.wrapped_udk)
    return _out(account.id, record)


@api.get("/credentials", response_model=list[E2ECredentialOut], summary="Your end-to-end encrypted keys, for re-encryption")
async def e2e_credentials(res: ResourcesDep, account: CurrentAccount) -> list[E2ECredentialOut]:
    return [E2ECredentialOut(**c) for c in await provider_configs.e2e_credentials(res.db, account.id)]


@api.post("/change-phrase", response_model=EncryptionOut, summary="Replace the key record and every E2E key at once")
async def change_phrase(res: ResourcesDep, account: CurrentAccount, body: PhraseChangeIn) -> EncryptionOut:
    record = vault.VaultRecord(body.kdf_salt, body.udk_gen, body.wrapped_udk)
    return _out(account.id, await vault.change_phrase(res.db, account.id, body.previous_gen, record, body.credentials))


@api.post("/reset", status_code=204, summary="Forget the key record and delete every end-to-end provider config")
async def reset(res: ResourcesDep, account: CurrentAccount, body: ResetIn) -> Response:
    if body.confirm != "RESET":
        raise Invalid('Type RESET to confirm: every end-to-end provider config will be deleted.', field="confirm")
    await vault.reset(res.db, account.id)
    return Response(status_code=204)


@assets.get("/assets/bip39-english.txt")
async def wordlist() -> FileResponse:
    """The BIP39 English word list, straight from the `mnemonic` package (never typed by hand)."""
    return FileResponse(WORDLIST, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "public, max-age=86400"})
