"""Presets over HTTP and the Presets page: the guide's chain, reorder, broken slots, isolation."""

from __future__ import annotations

import httpx
import pytest
from bs4 import BeautifulSoup

from rolecall.config import PremiereModel, PremiereSettings, PremiereUpstream
from tests.factories import add_provider_config, e2e_record
from tests.helpers import csrf_headers, make_client, sign_up


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(premiere=PremiereSettings(
        upstreams=[PremiereUpstream(id="house", provider="openrouter", api_key_env="HOUSE_KEY")],
        models=[PremiereModel(id="house-llama", upstream="house", name="House Llama")]))


@pytest.fixture
async def configs(app, alice):  # type: ignore[no-untyped-def]
    res = app.state.res
    account_id = (await alice.get("/api/me")).json()["id"]
    _, udk = e2e_record(account_id)
    anthropic = await add_provider_config(res.db, account_id, mode="e2e", udk=udk, provider_id="anthropic",
                                          origin="https://api.anthropic.com", label="Anthropic personal")
    router = await add_provider_config(res.db, account_id, mode="srv", ring=res.keyring, provider_id="openrouter",
                                       origin="https://openrouter.ai", label="OpenRouter fallback (group-safe)")
    return anthropic.id, router.id


GUIDE_CHAIN = [("anthropic", "claude-sonnet-4-5"), ("router", "anthropic/claude-sonnet-4.5"), ("premiere", "house-llama")]


def chain_body(configs: tuple[str, str]) -> list[dict[str, str]]:
    ids = {"anthropic": configs[0], "router": configs[1], "premiere": "premiere"}
    return [{"section": ids[s], "model_id": m} for s, m in GUIDE_CHAIN]


async def test_create_edit_reorder_and_delete_over_http(alice: httpx.AsyncClient, configs) -> None:  # type: ignore[no-untyped-def]
    headers = await csrf_headers(alice)
    created = await alice.post("/api/presets", headers=headers, json={
        "name": "Claude first", "settings": {"temperature": 0.8, "top_k": 40, "stop": ["\nUser:"]},
        "system_prompt": "You are {{char}}.", "slots": chain_body(configs)})
    assert created.status_code == 201, created.text
    preset = created.json()
    assert preset["settings"] == {"temperature": 0.8, "top_k": 40, "stop": ["\nUser:"]} and preset["is_default"]
    assert [(s["label"], s["privacy_mode"], s["model_id"]) for s in preset["slots"]] == [
        ("Anthropic personal", "e2e", "claude-sonnet-4-5"),
        ("OpenRouter fallback (group-safe)", "srv", "anthropic/claude-sonnet-4.5"),
        ("Premiere Theater", None, "house-llama")]
    reordered = list(reversed(chain_body(configs)))[:2]  # Premiere first, OpenRouter second, Anthropic removed
    patched = await alice.patch(f"/api/presets/{preset['id']}", headers=headers, json={"slots": reordered, "name": "Hosted first"})
    assert patched.status_code == 200
    assert [s["section"] for s in patched.json()["slots"]] == ["premiere", configs[1]]
    chain = (await alice.get(f"/api/presets/{preset['id']}/chain")).json()
    assert [c["position"] for c in chain] == [0, 1]
    bad = await alice.patch(f"/api/presets/{preset['id']}", headers=headers, json={"settings": {"temperature": 7}})
    assert bad.status_code == 400 and bad.json()["field"] == "settings.temperature"
    assert (await alice.delete(f"/api/presets/{preset['id']}", headers=headers)).status_code == 204
    assert (await alice.get("/api/presets")).json()["presets"] == []


async def test_each_slot_names_the_settings_its_provider_has_no_field_for(alice: httpx.AsyncClient, configs) -> None:  # type: ignore[no-untyped-def]
    created = await alice.post("/api/presets", headers=await csrf_headers(alice), json={
        "name": "Samplers", "settings": {"temperature": 0.7, "top_k": 40, "min_p": 0.05, "presence_penalty": 0.3},
        "slots": chain_body(configs)})
    assert created.status_code == 201, created.text
    # Anthropic takes top-k but no min-p or penalties; OpenRouter (and the Premiere upstream, an
    # OpenRouter one here) take them all.
    assert [s["unsupported"] for s in created.json()["slots"]] == [["min_p", "presence_penalty"], [], []]
    listed = (await alice.get("/api/presets")).json()["presets"][0]
    assert listed["slots"][0]["unsupported"] == ["min_p", "presence_penalty"]


async def test_a_deleted_config_shows_as_a_broken_slot(alice: httpx.AsyncClient, configs) -> None:  # type: ignore[no-untyped-def]
    headers = await csrf_headers(alice)
    preset = (await alice.post("/api/presets", headers=headers, json={"name": "Chain", "slots": chain_body(configs)})).json()
    assert (await alice.delete(f"/api/provider-configs/{configs[1]}", headers=headers)).status_code == 204
    slots = (await alice.get(f"/api/presets/{preset['id']}")).json()["slots"]
    assert [s["broken"] for s in slots] == [False, True, False]
    assert slots[1]["label"] == "OpenRouter fallback (group-safe)" and "deleted" in slots[1]["reason"]


async def test_other_accounts_presets_answer_404(app, alice: httpx.AsyncClient, configs) -> None:  # type: ignore[no-untyped-def]
    headers = await csrf_headers(alice)
    preset = (await alice.post("/api/presets", headers=headers, json={"name": "Mine", "slots": chain_body(configs)})).json()
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        bob_headers = await csrf_headers(bob)
        assert (await bob.get(f"/api/presets/{preset['id']}")).status_code == 404
        assert (await bob.get(f"/api/presets/{preset['id']}/chain")).status_code == 404
        assert (await bob.patch(f"/api/presets/{preset['id']}", headers=bob_headers, json={"name": "x"})).status_code == 404
        assert (await bob.delete(f"/api/presets/{preset['id']}", headers=bob_headers)).status_code == 404
        stolen = await bob.post("/api/presets", headers=bob_headers, json={"name": "x", "slots": chain_body(configs)[:1]})
        assert stolen.status_code == 404
        assert (await bob.get("/api/presets")).json()["presets"] == []


async def test_presets_and_usage_are_linked_from_settings(alice: httpx.AsyncClient) -> None:
    page = BeautifulSoup((await alice.get("/settings")).text, "html.parser")
    tabs = {a.text: a["href"] for a in page.find("nav", class_="tabs").find_all("a")}
    assert tabs["Presets"] == "/presets" and tabs["Usage"] == "/usage"
    presets_page = BeautifulSoup((await alice.get("/presets")).text, "html.parser")
    assert presets_page.find(id="api-options-title").text == "API Options"
    assert presets_page.find("nav", class_="tabs").find("a", attrs={"aria-current": "page"}).text == "Presets"
    assert (await alice.get("/settings?tab=usage")).headers["location"] == "/usage"


async def test_a_scene_picks_its_preset(app, alice: httpx.AsyncClient, configs) -> None:  # type: ignore[no-untyped-def]
    from rolecall.storage.tables import Scene

    headers = await csrf_headers(alice)
    default = (await alice.post("/api/presets", headers=headers, json={"name": "Default"})).json()
    short = (await alice.post("/api/presets", headers=headers, json={"name": "Short", "settings": {"max_tokens": 150}})).json()
    async with app.state.res.db.begin() as s:
        s.add(Scene(id="c" * 24, account_id=(await alice.get("/api/me")).json()["id"], title="Harbor"))
    assert (await alice.get(f"/api/scene-presets/{'c' * 24}")).json() == {"preset_id": default["id"], "chosen": False}
    assert (await alice.put(f"/api/scene-presets/{'c' * 24}", headers=headers, json={"preset_id": short["id"]})).status_code == 204
    assert (await alice.get(f"/api/scene-presets/{'c' * 24}")).json() == {"preset_id": short["id"], "chosen": True}
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        assert (await bob.get(f"/api/scene-presets/{'c' * 24}")).status_code == 404
        put = await bob.put(f"/api/scene-presets/{'c' * 24}", headers=await csrf_headers(bob), json={"preset_id": None})
        assert put.status_code == 404
