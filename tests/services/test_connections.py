"""Opening a saved config: the right connection, the right key source, typed failures.

Real database, real key ring, real fake provider over a socket; configs are saved through the
same service the Add Provider form uses (or written as rows where the point is what is stored).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rolecall.config import NetworkSettings
from rolecall.crypto import Secret
from rolecall.providers import protocol_for
from rolecall.resources import open_resources
from rolecall.services import key_checks, provider_configs, vault
from rolecall.services.config_input import ConfigInput
from rolecall.services.connections import HandedKey, KeyUnavailable, ServerKey, open_config, open_view
from rolecall.services.errors import NotFound
from rolecall.services.provider_configs import KeyInput
from rolecall.services.resources import Resources
from rolecall.services.stored_config import StoredConfigCorrupt
from rolecall.storage.tables import Account, ProviderConfig
from tests.factories import add_provider_config, e2e_record
from tests.fakes.server import VALID_KEY

ALICE, BOB = "a" * 24, "b" * 24
PROXY_SECRET = "hunter2hunter2hunter2"


@pytest.fixture
async def res(make_settings) -> AsyncIterator[Resources]:  # type: ignore[no-untyped-def]
    settings = make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]))
    async with open_resources(settings, consume_jobs=False) as opened:
        async with opened.db.begin() as s:
            for account_id, name in ((ALICE, "alice"), (BOB, "bob")):
                s.add(Account(id=account_id, name=name, name_key=name, password_hash="x"))
        yield opened


async def _alice_with_udk(res: Resources) -> bytes:
    record, udk = e2e_record(ALICE)
    await vault.set_up(res.db, ALICE, record["kdf_salt"], record["udk_gen"], record["wrapped_udk"])
    return udk


async def _saved_server_config(res: Resources, fake: Any) -> str:
    await _alice_with_udk(res)
    form = ConfigInput("openai", base_url=fake.base_url, body='{"temperature": 0.5}', model="gpt-4o-mini")
    view = await provider_configs.create(res, ALICE, "Mine", "srv", form,
                                         KeyInput(api_key=VALID_KEY, headers=f"x-proxy-secret: {PROXY_SECRET}"))
    return view.id


async def test_a_server_accessible_config_opens_as_it_was_saved(res: Resources, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await _saved_server_config(res, fake_openai)
    opened = await open_config(res, ALICE, config_id, ServerKey())
    conn = opened.connection
    assert (opened.config_id, opened.account_id, opened.label, opened.privacy_mode) == (config_id, ALICE, "Mine", "srv")
    assert opened.provider.id == "openai" and conn.provider is opened.provider
    assert conn.base_url == fake_openai.base_url and conn.custom_base
    assert dict(conn.headers) == {"x-proxy-secret": PROXY_SECRET}
    assert dict(conn.body) == {"temperature": 0.5} and conn.model == "gpt-4o-mini"
    assert opened.options.header_names == ("x-proxy-secret",) and opened.options.model == "gpt-4o-mini"
    assert isinstance(conn.api_key, Secret) and conn.key() == VALID_KEY
    assert VALID_KEY not in repr(opened) and PROXY_SECRET not in repr(opened)
    # The connection is ready for an adapter: the key and the custom header reach the provider.
    models = await protocol_for(conn.provider.protocol).list_models(conn, res.http)
    assert models and fake_openai.requests[-1].headers["authorization"] == f"Bearer {VALID_KEY}"
    assert fake_openai.requests[-1].headers["x-proxy-secret"] == PROXY_SECRET


async def test_a_stored_config_is_used_as_stored_not_validated_again(res: Resources, fake_openai) -> None:  # type: ignore[no-untyped-def]
    # Validation happens once, at save time; a model pin longer than today's 256-character rule
    # (say, saved under an older rule) opens unchanged instead of failing every call.
    row = await add_provider_config(res.db, ALICE, mode="srv", ring=res.keyring, api_key=VALID_KEY,
                                    origin=fake_openai.url)
    long_model = "m" * 300
    async with res.db.begin() as s:
        stored = await s.get(ProviderConfig, row.id)
        assert stored is not None
        stored.options = {**stored.options, "model": long_model, "values": {"organization": "org with spaces"}}
    conn = (await open_config(res, ALICE, row.id, ServerKey())).connection
    assert conn.model == long_model and dict(conn.values) == {"organization": "org with spaces"}
    assert conn.base_url == fake_openai.url + "/v1"


async def test_an_end_to_end_config_opens_with_the_key_the_browser_hands_over(res: Resources, fake_openai) -> None:  # type: ignore[no-untyped-def]
    udk = await _alice_with_udk(res)
    row = await add_provider_config(res.db, ALICE, mode="e2e", udk=udk, api_key=VALID_KEY, origin=fake_openai.url)
    key = HandedKey.from_form(f"  {VALID_KEY}\n", f"x-proxy-secret: {PROXY_SECRET}")
    assert VALID_KEY not in repr(key) and PROXY_SECRET not in repr(key)
    opened = await open_config(res, ALICE, row.id, key)
    conn = opened.connection
    assert opened.privacy_mode == "e2e" and conn.key() == VALID_KEY  # trimmed, like a key typed into the form
    assert dict(conn.headers) == {"x-proxy-secret": PROXY_SECRET}
    check = await key_checks.run_check(res.http, conn)
    assert check.status == "valid" and fake_openai.requests[-1].headers["x-proxy-secret"] == PROXY_SECRET


async def test_a_background_caller_cannot_open_an_end_to_end_config(res: Resources, fake_openai) -> None:  # type: ignore[no-untyped-def]
    udk = await _alice_with_udk(res)
    row = await add_provider_config(res.db, ALICE, mode="e2e", udk=udk, api_key=VALID_KEY, origin=fake_openai.url)
    with pytest.raises(KeyUnavailable) as caught:
        await open_config(res, ALICE, row.id, ServerKey())
    assert caught.value.message == ("End-to-end encrypted keys can't be used by background jobs; "
                                    "add a Server-Accessible config")
    assert caught.value.status == 409 and "decrypted" not in caught.value.message
    assert fake_openai.requests == []  # nothing went upstream


async def test_a_server_accessible_config_always_uses_the_server_key(res: Resources, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await _saved_server_config(res, fake_openai)
    opened = await open_config(res, ALICE, config_id, HandedKey.from_form("sk-handed-over-000000000000"))
    assert opened.connection.key() == VALID_KEY


@pytest.mark.parametrize("options", [
    {},
    {"custom_base": False, "endpoint_type": "default", "values": {}, "header_names": [], "body": {}},
    {"custom_base": "yes", "endpoint_type": "default", "values": {}, "header_names": [], "body": {}, "model": None},
    {"custom_base": False, "endpoint_type": "default", "values": {"n": 1}, "header_names": [], "body": {}, "model": None},
    {"custom_base": False, "endpoint_type": "default", "values": {}, "header_names": "x", "body": "", "model": None},
    {"custom_base": False, "endpoint_type": "default", "values": {}, "header_names": [], "body": {}, "model": None,
     "extra": 1},
])
async def test_a_stored_config_with_damaged_options_is_a_typed_error(
    res: Resources, options: dict[str, Any]
) -> None:
    row = await add_provider_config(res.db, ALICE, mode="srv", ring=res.keyring)
    async with res.db.begin() as s:
        stored = await s.get(ProviderConfig, row.id)
        assert stored is not None
        stored.options = options
    with pytest.raises(StoredConfigCorrupt, match="stored settings are damaged"):
        await open_config(res, ALICE, row.id, ServerKey())
    with pytest.raises(StoredConfigCorrupt):
        await provider_configs.get_owned(res.db, ALICE, row.id)


async def test_a_damaged_config_is_still_listed_so_it_can_be_deleted(res: Resources) -> None:
    healthy = await add_provider_config(res.db, ALICE, mode="srv", ring=res.keyring, label="healthy")
    damaged = await add_provider_config(res.db, ALICE, mode="srv", ring=res.keyring, label="damaged")
    async with res.db.begin() as s:
        stored = await s.get(ProviderConfig, damaged.id)
        assert stored is not None
        stored.options = {"custom_base": "yes"}
    views = {view.label: view for view in await provider_configs.list_configs(res.db, ALICE)}
    assert views["healthy"].status == "untested" and not views["healthy"].damaged
    assert views["damaged"].status == "invalid" and "stored settings are damaged" in views["damaged"].status_detail
    with pytest.raises(StoredConfigCorrupt):
        open_view(res.keyring, views["damaged"], ServerKey())
    assert open_view(res.keyring, views["healthy"], ServerKey()).config_id == healthy.id
    await provider_configs.delete(res.db, ALICE, damaged.id)
    assert [view.label for view in await provider_configs.list_configs(res.db, ALICE)] == ["healthy"]


async def test_another_accounts_config_is_not_found(res: Resources, fake_openai) -> None:  # type: ignore[no-untyped-def]
    config_id = await _saved_server_config(res, fake_openai)
    for key in (ServerKey(), HandedKey.from_form(VALID_KEY)):
        with pytest.raises(NotFound):
            await open_config(res, BOB, config_id, key)
        with pytest.raises(NotFound):
            await open_config(res, ALICE, str(uuid.uuid4()), key)
    assert fake_openai.requests == []
