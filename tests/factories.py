"""Real rows for tests, made through the same code paths the app uses."""

from __future__ import annotations

import uuid
from typing import Any

from rolecall.crypto import Binding, KeyRing, e2e
from rolecall.providers import get
from rolecall.services import vault
from rolecall.services.stored_config import ConfigOptions
from rolecall.storage.tables import ProviderConfig

PHRASE = "legal winner thank year wave sausage worth useful legal winner thank yellow"


def e2e_record(account_id: str, phrase: str = PHRASE, gen: int = 1) -> tuple[dict[str, Any], bytes]:
    """What the browser uploads at set-up, and the UDK it keeps (made by the Python reference)."""
    salt = e2e.new_kdf_salt()
    udk = e2e.new_udk()
    wrapped = e2e.wrap_udk(e2e.kek_from_phrase(phrase, salt), udk, gen, account_id)
    from rolecall.crypto import b64url_encode

    return {"kdf_salt": b64url_encode(salt), "udk_gen": gen, "wrapped_udk": wrapped}, udk


async def add_provider_config(
    db: Any, account_id: str, *, mode: str, ring: KeyRing | None = None, udk: bytes | None = None, gen: int = 1,
    api_key: str = "sk-test-0000000000000000", provider_id: str = "openai", origin: str = "https://api.openai.com",
    label: str | None = None,
) -> ProviderConfig:
    row = ProviderConfig(
        id=str(uuid.uuid4()), account_id=account_id, provider_id=provider_id, label=label or f"cfg-{uuid.uuid4().hex[:6]}",
        privacy_mode=mode, base_url=origin + "/v1", dest_origin=origin,
        options=_plain_options(provider_id, origin + "/v1"), status="untested", status_detail="",
    )
    if mode == "srv":
        assert ring is not None
        vault.seal_server_credential(ring, {"api_key": api_key}, row)
    else:
        assert udk is not None
        row.credential_ct = e2e.seal_bundle(udk, {"api_key": api_key}, gen, Binding(account_id, row.id, provider_id, origin))
    async with db.begin() as s:
        s.add(row)
    return row


def _plain_options(provider_id: str, base_url: str) -> dict[str, Any]:
    """Stored options of a config with no fields, headers, body params or pinned model."""
    custom = get(provider_id).default_endpoint.url != base_url
    return ConfigOptions(custom_base=custom, endpoint_type="default", values={}, header_names=(), body={},
                         model=None).to_stored()
