"""Save refuses what Test refuses: private addresses and plain http:// (issue 10, items 8 and 9)."""

from __future__ import annotations

import httpx
import pytest

from rolecall.config import NetworkSettings
from tests.factories import e2e_record
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers


@pytest.fixture
async def owner(alice: httpx.AsyncClient) -> httpx.AsyncClient:
    account_id = (await alice.get("/api/me")).json()["id"]
    record, _ = e2e_record(account_id)
    answer = await alice.post("/api/encryption/setup", json=record, headers=await csrf_headers(alice))
    assert answer.status_code == 201
    return alice


async def post(client: httpx.AsyncClient, path: str, body: dict) -> httpx.Response:
    return await client.post(path, json=body, headers=await csrf_headers(client))


def config(base_url: str, label: str = "local") -> dict:
    return {"provider_id": "custom_openai", "base_url": base_url, "label": label, "privacy_mode": "srv",
            "api_key": VALID_KEY}


@pytest.mark.parametrize("base_url", ["http://localhost:11434", "http://127.0.0.1:11434/v1", "https://192.168.1.20/v1",
                                      "http://[::1]:8080"])
async def test_private_base_urls_are_refused_at_save_with_the_tunnel_advice(owner, base_url: str) -> None:
    saved = await post(owner, "/api/provider-configs", config(base_url))
    assert saved.status_code == 400, saved.text
    body = saved.json()
    assert body["field"] == "base_url"
    assert "Destination not allowed" in body["error"] and "Cloudflare Tunnel" in body["error"]
    assert (await owner.get("/api/provider-configs")).json() == []


async def test_the_form_learns_it_as_the_person_types(owner) -> None:
    answer = await post(owner, "/api/provider-configs/resolve",
                        {"provider_id": "custom_openai", "base_url": "http://localhost:11434"})
    assert answer.status_code == 400 and answer.json()["field"] == "base_url"
    assert "public HTTPS URL" in answer.json()["error"]
    fine = await post(owner, "/api/provider-configs/resolve", {"provider_id": "custom_openai", "base_url": "https://8.8.8.8/v1"})
    assert fine.status_code == 200 and fine.json()["dest_origin"] == "https://8.8.8.8"


async def test_plain_http_to_a_public_address_is_refused_naming_https(owner) -> None:
    saved = await post(owner, "/api/provider-configs", config("http://8.8.8.8/v1"))
    assert saved.status_code == 400 and saved.json()["field"] == "base_url"
    assert "unencrypted" in saved.json()["error"] and "https://" in saved.json()["error"]
    assert (await post(owner, "/api/provider-configs", config("https://8.8.8.8/v1"))).status_code == 201


async def test_an_edit_cannot_move_a_config_to_a_private_address(owner) -> None:
    created = (await post(owner, "/api/provider-configs", config("https://8.8.8.8/v1"))).json()
    moved = await owner.patch(f"/api/provider-configs/{created['id']}", json={"base_url": "http://10.0.0.7:8000",
                              "api_key": VALID_KEY}, headers=await csrf_headers(owner))
    assert moved.status_code == 400 and moved.json()["field"] == "base_url"


class TestAllowListed:
    @pytest.fixture
    def settings(self, make_settings):  # type: ignore[no-untyped-def]
        return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"], allow_hosts=["ollama.lan"]))

    async def test_operator_allow_list_permits_private_and_plain_http(self, owner) -> None:
        for n, base_url in enumerate(["http://localhost:11434", "http://127.0.0.1:11434/v1", "http://ollama.lan:11434"]):
            saved = await post(owner, "/api/provider-configs", config(base_url, f"local {n}"))
            assert saved.status_code == 201, saved.text
        refused = await post(owner, "/api/provider-configs", config("http://8.8.8.8/v1", "public"))
        assert refused.status_code == 400 and "unencrypted" in refused.json()["error"]


async def test_test_says_the_same_as_save(owner) -> None:
    body = {"provider_id": "custom_openai", "base_url": "http://8.8.8.8/v1", "api_key": VALID_KEY}
    tested = await post(owner, "/api/provider-configs/test", body)
    assert tested.status_code == 200
    result = tested.json()
    assert result["status"] == "invalid" and result["kind"] == "blocked"
    assert "unencrypted" in result["explanation"] and "https://" in result["explanation"]
