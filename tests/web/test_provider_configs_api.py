"""BYOK provider configs over the JSON API, against the fake providers over real sockets."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest
from sqlalchemy import text

from rolecall.config import NetworkSettings
from rolecall.crypto import Binding, e2e
from rolecall.providers.guide_texts import GUIDE_TEXTS
from tests.factories import e2e_record
from tests.fakes.fixtures import _azure_server, _openai_server, fake_azure, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers, make_client, sign_up

CANARY = "sk-canary-7c1d33f4c95d0a1b2c3d4e5f6a7b8c9d"


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    # The fakes listen on loopback, which the default network policy refuses.
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]))


@pytest.fixture
async def owner(alice: httpx.AsyncClient):  # type: ignore[no-untyped-def]
    """alice with end-to-end encryption Active; returns (client, account id, udk)."""
    account_id = (await alice.get("/api/me")).json()["id"]
    record, udk = e2e_record(account_id)
    assert (await alice.post("/api/encryption/setup", json=record, headers=await csrf_headers(alice))).status_code == 201
    return alice, account_id, udk


def custom_openai(fake, **extra):  # type: ignore[no-untyped-def]
    return {"provider_id": "openai", "base_url": fake.base_url, **extra}


async def post(client: httpx.AsyncClient, path: str, body: dict) -> httpx.Response:
    return await client.post(path, json=body, headers=await csrf_headers(client))


async def test_keys_cannot_be_saved_before_encryption_is_active(alice: httpx.AsyncClient, fake_openai) -> None:  # type: ignore[no-untyped-def]
    for mode in ("srv", "e2e"):
        body = custom_openai(fake_openai, label=f"x-{mode}", privacy_mode=mode, api_key=VALID_KEY, id=str(uuid.uuid4()))
        response = await post(alice, "/api/provider-configs", body)
        assert response.status_code == 409, response.json()
        assert response.json()["field"] == "encryption"
        assert "Set up end-to-end encryption first" in response.json()["error"]
    assert (await post(alice, "/api/provider-configs/test", custom_openai(fake_openai, api_key=VALID_KEY))).status_code == 409
    assert (await alice.get("/api/provider-configs")).json() == []


async def test_server_accessible_test_then_save_keeps_valid(owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    tested = await post(client, "/api/provider-configs/test", custom_openai(fake_openai, api_key=VALID_KEY))
    assert tested.status_code == 200
    result = tested.json()
    assert result["status"] == "valid" and result["models_count"] > 0 and result["test_id"]
    assert result["explanation"] == "The key works. The provider returned a model list."
    saved = await post(client, "/api/provider-configs", custom_openai(
        fake_openai, label="OpenAI personal", privacy_mode="srv", api_key=VALID_KEY, test_id=result["test_id"]))
    assert saved.status_code == 201, saved.json()
    config = saved.json()
    assert config["status"] == "valid" and config["key_hint"] == "…mnop" and config["credential"] is None
    assert config["models_count"] == result["models_count"] and config["last_tested_at"]


async def test_save_without_test_is_untested(owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    saved = await post(client, "/api/provider-configs", custom_openai(fake_openai, label="untested", privacy_mode="srv", api_key=VALID_KEY))
    assert saved.json()["status"] == "untested" and saved.json()["last_tested_at"] is None


async def test_a_test_id_does_not_vouch_for_another_key(owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    test_id = (await post(client, "/api/provider-configs/test", custom_openai(fake_openai, api_key=VALID_KEY))).json()["test_id"]
    saved = await post(client, "/api/provider-configs", custom_openai(
        fake_openai, label="swapped", privacy_mode="srv", api_key="sk-some-other-key-00000000000", test_id=test_id))
    assert saved.json()["status"] == "untested"


async def test_end_to_end_config_is_stored_sealed(owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, account_id, udk = owner
    resolved = (await post(client, "/api/provider-configs/resolve", custom_openai(fake_openai))).json()
    config_id = str(uuid.uuid4())
    envelope = e2e.seal_bundle(udk, {"api_key": VALID_KEY, "headers": {"x-proxy-secret": "hunter2hunter2"}}, 1,
                               Binding(account_id, config_id, "openai", resolved["dest_origin"]))
    refused = await post(client, "/api/provider-configs", custom_openai(
        fake_openai, id=config_id, label="e2e", privacy_mode="e2e", api_key=VALID_KEY, credential=envelope))
    assert refused.status_code == 400 and refused.json()["field"] == "api_key"
    saved = await post(client, "/api/provider-configs", custom_openai(
        fake_openai, id=config_id, label="e2e", privacy_mode="e2e", credential=envelope, header_names=["x-proxy-secret"]))
    assert saved.status_code == 201, saved.json()
    config = saved.json()
    assert config["id"] == config_id and config["credential"] == envelope and config["key_hint"] is None
    assert config["header_names"] == ["x-proxy-secret"] and config["status"] == "untested"
    # Test Key: the browser opens the envelope and hands the key over for this one call.
    tested = await post(client, f"/api/provider-configs/{config_id}/test",
                        {"api_key": VALID_KEY, "headers": "x-proxy-secret: hunter2hunter2"})
    assert tested.json()["status"] == "valid"
    assert fake_openai.last.headers["x-proxy-secret"] == "hunter2hunter2"
    listed = (await client.get("/api/provider-configs")).json()
    assert listed[0]["status"] == "valid" and listed[0]["models_count"] > 0


async def test_bad_key_is_invalid_with_the_guides_words(owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    saved = (await post(client, "/api/provider-configs", custom_openai(fake_openai, label="bad", privacy_mode="srv", api_key="sk-wrong-000000000000000000"))).json()
    result = (await post(client, f"/api/provider-configs/{saved['id']}/test", {})).json()
    assert result["status"] == "invalid" and result["http_status"] == 401
    assert result["explanation"] == GUIDE_TEXTS["auth"]
    assert "wrong or has been revoked" in result["explanation"]
    listed = (await client.get("/api/provider-configs")).json()[0]
    assert listed["status"] == "invalid" and "wrong or has been revoked" in listed["status_detail"]


async def test_rate_limit_explains_and_leaves_the_status(owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    saved = (await post(client, "/api/provider-configs", custom_openai(fake_openai, label="limited", privacy_mode="srv", api_key=VALID_KEY))).json()
    fake_openai.fail_next(429, headers={"Retry-After": "7"}, times=5)
    result = (await post(client, f"/api/provider-configs/{saved['id']}/test", {})).json()
    assert result["status"] == "unchecked" and result["retry_after"] == 7
    assert result["explanation"] == GUIDE_TEXTS["rate_limited"]
    assert (await client.get("/api/provider-configs")).json()[0]["status"] == "untested"


async def test_azure_needs_its_fields(owner, fake_azure) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    body = {"provider_id": "azure_openai", "label": "Azure", "privacy_mode": "srv", "api_key": VALID_KEY,
            "values": {"deployment_id": "gpt-4o", "api_version": "2024-10-21"}}
    missing = await post(client, "/api/provider-configs", body)
    assert missing.status_code == 400 and missing.json()["field"] == "values.resource_name"
    body["values"]["resource_name"] = "myres"
    body["base_url"] = fake_azure.url + "/openai"
    saved = await post(client, "/api/provider-configs", body)
    assert saved.status_code == 201, saved.json()
    assert saved.json()["values"]["resource_name"] == "myres"


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"provider_id": "no-such-provider"}, "provider_id", "Unknown provider"),
    ({"label": "  "}, "label", "label"),
    ({"privacy_mode": "plain"}, "privacy_mode", "privacy mode"),
    ({"headers": "x-ok: 1\nAuthorization: Bearer x"}, "headers", "line 2"),
    ({"headers": "x-api-key: abc"}, "headers", ""),
    ({"headers": '{"x-bad": "a\\r\\nInjected: yes"}'}, "headers", ""),
    ({"body": "model: gpt-4"}, "body", "model"),
    ({"body": '{"messages": []}'}, "body", "messages"),
    ({"body": "stream: false"}, "body", "stream"),
    ({"base_url": "https://user:pass@example.com/v1"}, "base_url", ""),
    ({"base_url": "ftp://example.com"}, "base_url", ""),
    ({"api_key": "sk-has space-inside"}, "api_key", ""),
    ({"endpoint_type": "nope"}, "endpoint_type", ""),
])
async def test_validation_names_the_field(owner, fake_openai, change, field, words) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    body = {**custom_openai(fake_openai, label="v", privacy_mode="srv", api_key=VALID_KEY), **change}
    response = await post(client, "/api/provider-configs", body)
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field
    assert words.lower() in response.json()["error"].lower()


async def test_oversized_values_are_refused(owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    for change in ({"label": "x" * 500}, {"headers": "x-a: " + "b" * 9000}, {"api_key": "k" * 40000}, {"model": "m" * 300}):
        response = await post(client, "/api/provider-configs", {**custom_openai(fake_openai, label="o", privacy_mode="srv", api_key=VALID_KEY), **change})
        assert response.status_code == 422, change


async def test_labels_are_unique_per_person(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    body = custom_openai(fake_openai, label="Mine", privacy_mode="srv", api_key=VALID_KEY)
    assert (await post(client, "/api/provider-configs", body)).status_code == 201
    again = await post(client, "/api/provider-configs", body)
    assert again.status_code == 409 and again.json()["field"] == "label"
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        bob_id = (await bob.get("/api/me")).json()["id"]
        record, _ = e2e_record(bob_id)
        await post(bob, "/api/encryption/setup", record)
        assert (await post(bob, "/api/provider-configs", body)).status_code == 201  # same label, other person


async def test_privacy_mode_is_fixed_and_edits_make_untested(owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    test_id = (await post(client, "/api/provider-configs/test", custom_openai(fake_openai, api_key=VALID_KEY))).json()["test_id"]
    config = (await post(client, "/api/provider-configs", custom_openai(fake_openai, label="rotate", privacy_mode="srv", api_key=VALID_KEY, test_id=test_id))).json()
    headers = await csrf_headers(client)
    path = f"/api/provider-configs/{config['id']}"
    refused = await client.patch(path, json={"privacy_mode": "e2e"}, headers=headers)
    assert refused.status_code == 400 and "Delete this config and create it again" in refused.json()["error"]
    renamed = (await client.patch(path, json={"label": "renamed"}, headers=headers)).json()
    assert renamed["status"] == "valid" and renamed["label"] == "renamed"  # a label is not the connection
    fake_openai.keys.add(CANARY)
    rotated = (await client.patch(path, json={"api_key": CANARY}, headers=headers)).json()
    assert rotated["id"] == config["id"] and rotated["status"] == "untested"
    assert rotated["models_count"] == config["models_count"] and rotated["key_hint"] == "…8c9d"
    assert (await post(client, f"{path}/test", {})).json()["status"] == "valid"
    moved = await client.patch(path, json={"base_url": "https://proxy.example.net/v1"}, headers=headers)
    assert moved.status_code == 400 and moved.json()["field"] == "api_key"
    assert "another server" in moved.json()["error"]
    with_key = await client.patch(path, json={"base_url": "https://proxy.example.net/v1", "api_key": CANARY}, headers=headers)
    assert with_key.status_code == 200 and with_key.json()["dest_origin"] == "https://proxy.example.net"


async def test_other_peoples_configs_are_not_found(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    config = (await post(client, "/api/provider-configs", custom_openai(fake_openai, label="private", privacy_mode="srv", api_key=VALID_KEY))).json()
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        headers = await csrf_headers(bob)
        path = f"/api/provider-configs/{config['id']}"
        assert (await bob.patch(path, json={"label": "mine now"}, headers=headers)).status_code == 404
        assert (await bob.post(f"{path}/test", json={}, headers=headers)).status_code == 404
        assert (await bob.delete(path, headers=headers)).status_code == 404
        assert (await bob.get("/api/provider-configs")).json() == []
    assert (await client.get("/api/provider-configs")).json()[0]["label"] == "private"


async def test_delete_removes_the_credential(app, owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    config = (await post(client, "/api/provider-configs", custom_openai(fake_openai, label="gone", privacy_mode="srv", api_key=VALID_KEY))).json()
    assert (await client.delete(f"/api/provider-configs/{config['id']}", headers=await csrf_headers(client))).status_code == 204
    async with app.state.res.db() as s:
        assert (await s.execute(text("SELECT count(*) FROM provider_config"))).scalar() == 0


async def test_csrf_is_required(owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    response = await client.post("/api/provider-configs", json=custom_openai(fake_openai, label="x", privacy_mode="srv", api_key=VALID_KEY))
    assert response.status_code == 403


async def test_canary_key_never_leaks(app, owner, fake_openai, caplog) -> None:  # type: ignore[no-untyped-def]
    client, account_id, udk = owner
    fake_openai.keys.add(CANARY)
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        tested = await post(client, "/api/provider-configs/test", custom_openai(fake_openai, api_key=CANARY))
        seen.append(tested.text)
        saved = await post(client, "/api/provider-configs", custom_openai(
            fake_openai, label="canary", privacy_mode="srv", api_key=CANARY, headers=f"x-proxy-secret: {CANARY}",
            test_id=tested.json()["test_id"]))
        seen.append(saved.text)
        seen.append((await post(client, f"/api/provider-configs/{saved.json()['id']}/test", {})).text)
        seen.append((await client.patch(f"/api/provider-configs/{saved.json()['id']}", json={"api_key": CANARY},
                                        headers=await csrf_headers(client))).text)
        fake_openai.echo_key = True
        bad = await post(client, "/api/provider-configs/test", custom_openai(fake_openai, api_key=CANARY[:-1] + "X"))
        seen.append(bad.text)
        config_id = str(uuid.uuid4())
        origin = (await post(client, "/api/provider-configs/resolve", custom_openai(fake_openai))).json()["dest_origin"]
        envelope = e2e.seal_bundle(udk, {"api_key": CANARY}, 1, Binding(account_id, config_id, "openai", origin))
        seen.append((await post(client, "/api/provider-configs", custom_openai(
            fake_openai, id=config_id, label="canary e2e", privacy_mode="e2e", credential=envelope))).text)
        seen.append((await post(client, f"/api/provider-configs/{config_id}/test", {"api_key": CANARY})).text)
        seen.append((await client.get("/api/provider-configs")).text)
        seen.append((await client.get("/settings?tab=api-keys")).text)
    assert fake_openai.requests, "the fake was really called"
    for body in seen:
        assert CANARY not in body and CANARY[:-1] not in body
    assert CANARY not in caplog.text and CANARY[:-1] not in caplog.text
    async with app.state.res.db() as s:
        for table in ("provider_config", "vault_key", "account", "login_session", "scene"):
            for row in (await s.execute(text(f"SELECT * FROM {table}"))).all():
                assert CANARY not in repr(row) and CANARY[-12:] not in repr(row)


async def test_new_key_keeps_stored_headers_and_new_headers_keep_the_key(owner, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = owner
    config = (await post(client, "/api/provider-configs", custom_openai(
        fake_openai, label="proxied", privacy_mode="srv", api_key=VALID_KEY, headers="x-proxy-secret: s3cr3t-value"))).json()
    path = f"/api/provider-configs/{config['id']}"
    fake_openai.keys.add(CANARY)
    await client.patch(path, json={"api_key": CANARY}, headers=await csrf_headers(client))
    assert (await post(client, f"{path}/test", {})).json()["status"] == "valid"
    assert fake_openai.last.headers["x-proxy-secret"] == "s3cr3t-value"
    await client.patch(path, json={"headers": "x-proxy-secret: rotated-value"}, headers=await csrf_headers(client))
    assert (await post(client, f"{path}/test", {})).json()["status"] == "valid"
    assert fake_openai.last.headers["x-proxy-secret"] == "rotated-value"
    assert fake_openai.last.headers["authorization"] == f"Bearer {CANARY}"
