"""Model lists without bounds: a config keeps at most 5,000 models, and the catalog never
builds one giant document (streamed whole, or a light index plus one section per request)."""

from __future__ import annotations

import httpx
import pytest

from rolecall.config import NetworkSettings, PremiereModel, PremiereSettings, PremiereUpstream
from tests.factories import e2e_record
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    premiere = PremiereSettings(upstreams=[PremiereUpstream(id="house", provider="openrouter", api_key_env="HOUSE_KEY")],
                                models=[PremiereModel(id="house-model", upstream="house")])
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]), premiere=premiere)


async def _save_tested(client: httpx.AsyncClient, base_url: str, label: str) -> tuple[dict, dict]:
    headers = await csrf_headers(client)
    body = {"provider_id": "openai", "base_url": base_url, "api_key": VALID_KEY}
    tested = (await client.post("/api/provider-configs/test", json=body, headers=headers)).json()
    saved = await client.post("/api/provider-configs", json={**body, "label": label, "privacy_mode": "srv",
                                                             "test_id": tested["test_id"]}, headers=headers)
    assert saved.status_code == 201, saved.text
    return tested, saved.json()


@pytest.fixture
async def owner(alice: httpx.AsyncClient) -> httpx.AsyncClient:
    record, _ = e2e_record((await alice.get("/api/me")).json()["id"])
    await alice.post("/api/encryption/setup", json=record, headers=await csrf_headers(alice))
    return alice


async def test_a_huge_model_list_is_cut_to_5000_with_a_note(owner: httpx.AsyncClient, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.models = [{"id": f"m-{n:05d}", "object": "model", "owned_by": "x"} for n in range(6000)]
    fake_openai.models.insert(0, {"id": "x" * 300, "object": "model"})  # an id no picker could hold
    fake_openai.models.insert(1, {"id": "long-name", "name": "N" * 5000, "object": "model"})
    tested, saved = await _save_tested(owner, fake_openai.base_url, "huge")
    assert tested["status"] == "valid" and tested["models_count"] == 5000
    assert tested["note"] == ("The provider listed 6,002 models; RoleCall keeps 5,000 of them (at most 5,000 per config, "
                              "with ids of at most 256 characters).")
    assert saved["models_count"] == 5000
    section = (await owner.get(f"/api/catalog/sections/{saved['id']}", params={"limit": 5000})).json()
    assert section["total"] == 5000 and len(section["models"]) == 5000
    assert all(len(m["id"]) <= 256 for m in section["models"])
    assert next(m for m in section["models"] if m["id"] == "long-name")["name"] == "N" * 200
    # A saved config's Test Key keeps the same bound.
    again = (await owner.post(f"/api/provider-configs/{saved['id']}/test", json={}, headers=await csrf_headers(owner))).json()
    assert again["models_count"] == 5000 and again["note"].startswith("The provider listed 6,002 models")


async def test_a_short_list_has_no_note(owner: httpx.AsyncClient, fake_openai) -> None:  # type: ignore[no-untyped-def]
    tested, _ = await _save_tested(owner, fake_openai.base_url, "short")
    assert tested["note"] == "" and tested["models_count"] == 4  # the fake's list, less its embedding model


async def test_catalog_index_and_one_section_at_a_time(owner: httpx.AsyncClient, fake_openai) -> None:  # type: ignore[no-untyped-def]
    fake_openai.models = [{"id": f"alpha-{n}", "object": "model"} for n in range(30)] + \
                         [{"id": f"beta-{n}", "object": "model"} for n in range(20)]
    _, saved = await _save_tested(owner, fake_openai.base_url, "Mine")
    config_id = saved["id"]
    await owner.post("/api/catalog/stars", json={"section": config_id, "model_id": "beta-7"}, headers=await csrf_headers(owner))

    index = (await owner.get("/api/catalog/sections", params={"q": "beta"})).json()
    assert [s["id"] for s in index["sections"]] == ["premiere", config_id]
    mine = index["sections"][1]
    assert mine["label"] == "Mine" and mine["total"] == 50 and mine["matches"] == 20 and "models" not in mine
    assert [m["id"] for m in index["starred"]] == ["beta-7"]

    first = (await owner.get(f"/api/catalog/sections/{config_id}", params={"q": "beta", "limit": 8})).json()
    assert first["matches"] == 20 and first["offset"] == 0 and first["limit"] == 8
    assert first["models"][0]["id"] == "beta-7" and len(first["models"]) == 8  # starred first
    rest = (await owner.get(f"/api/catalog/sections/{config_id}", params={"q": "beta", "offset": 8, "limit": 100})).json()
    assert len(rest["models"]) == 12
    assert {m["id"] for m in first["models"] + rest["models"]} == {f"beta-{n}" for n in range(20)}
    premiere = (await owner.get("/api/catalog/sections/premiere")).json()
    assert [m["id"] for m in premiere["models"]] == ["house-model"]
    assert (await owner.get("/api/catalog/sections/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_the_whole_catalog_is_streamed_with_the_same_fields(owner: httpx.AsyncClient, fake_openai) -> None:  # type: ignore[no-untyped-def]
    _, saved = await _save_tested(owner, fake_openai.base_url, "Mine")
    response = await owner.get("/api/catalog")
    assert response.status_code == 200 and "content-length" not in response.headers  # sent in chunks
    data = response.json()
    assert set(data) == {"query", "starred", "sections"}
    section = data["sections"][1]
    assert section["id"] == saved["id"] and section["total"] == saved["models_count"] == len(section["models"]) > 0
    assert {"label", "provider_name", "privacy_mode", "status", "fetched_at", "stale", "error"} <= set(section)
