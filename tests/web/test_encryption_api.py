"""The key-vault API: set-up, phrase change (atomic), reset, and the word list."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
from sqlalchemy import select

from rolecall.crypto import Binding, e2e
from rolecall.storage.tables import ProviderConfig, VaultKey
from tests.factories import add_provider_config, e2e_record
from tests.helpers import csrf_headers, make_client, sign_up


async def _me(client: httpx.AsyncClient) -> str:
    return (await client.get("/api/me")).json()["id"]


async def test_set_up_once(alice: httpx.AsyncClient) -> None:
    assert (await alice.get("/api/encryption")).json()["status"] == "not_set_up"
    record, _ = e2e_record(await _me(alice))
    headers = await csrf_headers(alice)
    created = await alice.post("/api/encryption/setup", json=record, headers=headers)
    assert created.status_code == 201
    assert created.json() == {"status": "active", "account_id": await _me(alice), **record}
    again = await alice.post("/api/encryption/setup", json=record, headers=headers)
    assert again.status_code == 409 and again.json()["error"] == "Encryption is already set up for this account."


async def test_set_up_validates_the_record(alice: httpx.AsyncClient) -> None:
    record, _ = e2e_record(await _me(alice))
    headers = await csrf_headers(alice)
    cases = [
        ({**record, "kdf_salt": "short"}, "kdf_salt"),
        ({**record, "kdf_salt": record["kdf_salt"] + "="}, "kdf_salt"),
        ({**record, "wrapped_udk": "sk-plaintext-key-0000000000000"}, "wrapped_udk"),
        ({**record, "wrapped_udk": record["wrapped_udk"][:-4]}, "wrapped_udk"),
        ({**record, "udk_gen": 2}, "udk_gen"),
    ]
    for body, field in cases:
        response = await alice.post("/api/encryption/setup", json=body, headers=headers)
        assert response.status_code == 400, body
        assert response.json()["field"] == field
    assert (await alice.get("/api/encryption")).json()["status"] == "not_set_up"


async def test_records_are_per_account(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    record, _ = e2e_record(await _me(alice))
    await alice.post("/api/encryption/setup", json=record, headers=await csrf_headers(alice))
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        body = (await bob.get("/api/encryption")).json()
        assert body["status"] == "not_set_up" and body["wrapped_udk"] is None


async def _active_with_configs(app, client):  # type: ignore[no-untyped-def]
    account_id = await _me(client)
    record, udk = e2e_record(account_id)
    await client.post("/api/encryption/setup", json=record, headers=await csrf_headers(client))
    db, ring = app.state.res.db, app.state.res.keyring
    e2e_rows = [await add_provider_config(db, account_id, mode="e2e", udk=udk) for _ in range(2)]
    srv_row = await add_provider_config(db, account_id, mode="srv", ring=ring)
    return account_id, record, udk, e2e_rows, srv_row


def _rotated(account_id: str, udk: bytes, rows: list[ProviderConfig], new_phrase: str) -> tuple[dict, bytes]:
    new_record, new_udk = e2e_record(account_id, new_phrase, gen=2)
    envelopes = {}
    for row in rows:
        binding = Binding(account_id, row.id, row.provider_id, row.dest_origin)
        bundle = e2e.open_bundle(udk, row.credential_ct, binding)
        envelopes[row.id] = e2e.seal_bundle(new_udk, bundle, 2, binding)
    return {**new_record, "previous_gen": 1, "credentials": envelopes}, new_udk


NEW_PHRASE = "letter advice cage absurd amount doctor acoustic avoid letter advice cage above"


async def test_change_phrase_re_encrypts_everything_at_once(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    account_id, _, udk, rows, srv_row = await _active_with_configs(app, alice)
    body, new_udk = _rotated(account_id, udk, rows, NEW_PHRASE)
    response = await alice.post("/api/encryption/change-phrase", json=body, headers=await csrf_headers(alice))
    assert response.status_code == 200 and response.json()["udk_gen"] == 2
    async with app.state.res.db() as s:
        stored = {r.id: r for r in await s.scalars(select(ProviderConfig))}
    for row in rows:
        binding = Binding(account_id, row.id, row.provider_id, row.dest_origin)
        assert e2e.open_bundle(new_udk, stored[row.id].credential_ct, binding)["api_key"].startswith("sk-test-")
    assert stored[srv_row.id].credential_ct == srv_row.credential_ct  # server-accessible keys untouched


async def test_change_phrase_failure_leaves_the_old_state(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    account_id, record, udk, rows, _ = await _active_with_configs(app, alice)
    headers = await csrf_headers(alice)
    body, _ = _rotated(account_id, udk, rows, NEW_PHRASE)
    partial = {**body, "credentials": dict(list(body["credentials"].items())[:1])}
    stale = {**body, "previous_gen": 5, "udk_gen": 6}
    bad_envelope = {**body, "credentials": {**body["credentials"], rows[0].id: "rc1.e2e.2.AAAA.BBBB"}}
    old_gen_envelope = {**body, "credentials": {**body["credentials"], rows[0].id: rows[0].credential_ct}}
    for attempt, status in ((partial, 409), (stale, 400), (bad_envelope, 400), (old_gen_envelope, 400)):
        response = await alice.post("/api/encryption/change-phrase", json=attempt, headers=headers)
        assert response.status_code == status, response.json()
    async with app.state.res.db() as s:
        key = await s.get(VaultKey, account_id)
        assert (key.udk_gen, key.wrapped_udk) == (1, record["wrapped_udk"])
        for row in rows:
            assert (await s.get(ProviderConfig, row.id)).credential_ct == row.credential_ct


async def test_reset_forgets_e2e_configs_only(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    _, _, _, rows, srv_row = await _active_with_configs(app, alice)
    headers = await csrf_headers(alice)
    refused = await alice.post("/api/encryption/reset", json={"confirm": "yes"}, headers=headers)
    assert refused.status_code == 400
    assert (await alice.post("/api/encryption/reset", json={"confirm": "RESET"}, headers=headers)).status_code == 204
    assert (await alice.get("/api/encryption")).json()["status"] == "not_set_up"
    async with app.state.res.db() as s:
        assert [r.id for r in await s.scalars(select(ProviderConfig))] == [srv_row.id]


async def test_credentials_listing_is_opaque_and_own(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    _, _, _, rows, _ = await _active_with_configs(app, alice)
    listed = (await alice.get("/api/encryption/credentials")).json()
    assert sorted(c["config_id"] for c in listed) == sorted(r.id for r in rows)
    assert all(c["credential"].startswith("rc1.e2e.1.") for c in listed)
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        assert (await bob.get("/api/encryption/credentials")).json() == []


async def test_word_list_comes_from_the_mnemonic_package(client: httpx.AsyncClient) -> None:
    response = await client.get("/assets/bip39-english.txt")
    assert response.status_code == 200
    words = response.text.split()
    assert len(words) == 2048 and words[0] == "abandon" and words[-1] == "zoo"
    js = (Path(__file__).resolve().parents[2] / "rolecall/web/static/js/bip39.js").read_text()
    pinned = re.search(r'ENGLISH_SHA256 = "([0-9a-f]{64})"', js).group(1)
    assert hashlib.sha256(response.content).hexdigest() == pinned


async def test_database_refuses_a_plaintext_credential(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    import pytest
    from sqlalchemy.exc import IntegrityError

    row = await add_provider_config(app.state.res.db, await _me(alice), mode="srv", ring=app.state.res.keyring)
    with pytest.raises(IntegrityError):
        async with app.state.res.db.begin() as s:
            (await s.get(ProviderConfig, row.id)).credential_ct = "sk-live-plaintext-key-123456"
