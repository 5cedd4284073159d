"""The model catalog: sections per config, search across them, stars, background refresh."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from rolecall.config import NetworkSettings, PremiereModel, PremiereSettings, PremiereUpstream
from rolecall.storage.tables import ProviderConfig, utcnow
from tests.factories import e2e_record
from tests.fakes.fixtures import _anthropic_server, _openai_server, fake_anthropic, fake_openai  # noqa: F401
from tests.fakes.server import VALID_KEY
from tests.helpers import csrf_headers, make_client, sign_up


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    premiere = PremiereSettings(upstreams=[PremiereUpstream(id="house", provider="anthropic")],
                                models=[PremiereModel(id="claude-sonnet-4-5", upstream="house")])
    return make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]), premiere=premiere)


async def post(client: httpx.AsyncClient, path: str, body: dict) -> httpx.Response:
    return await client.post(path, json=body, headers=await csrf_headers(client))


async def _tested_config(client: httpx.AsyncClient, label: str, provider_id: str, base_url: str) -> str:
    body = {"provider_id": provider_id, "base_url": base_url, "api_key": VALID_KEY}
    test_id = (await post(client, "/api/provider-configs/test", body)).json()["test_id"]
    saved = await post(client, "/api/provider-configs", {**body, "label": label, "privacy_mode": "srv", "test_id": test_id})
    assert saved.status_code == 201, saved.json()
    return saved.json()["id"]


@pytest.fixture
async def two_configs(alice, fake_openai, fake_anthropic):  # type: ignore[no-untyped-def]
    account_id = (await alice.get("/api/me")).json()["id"]
    record, _ = e2e_record(account_id)
    await post(alice, "/api/encryption/setup", record)
    router = await _tested_config(alice, "OpenRouter fallback", "openrouter", fake_openai.base_url)
    anthropic = await _tested_config(alice, "Anthropic personal", "anthropic", fake_anthropic.base_url)
    return alice, router, anthropic


async def test_sections_per_config_with_merged_metadata(two_configs) -> None:  # type: ignore[no-untyped-def]
    client, router, anthropic = two_configs
    data = (await client.get("/api/catalog")).json()
    assert [s["label"] for s in data["sections"]] == ["Premiere Theater", "OpenRouter fallback", "Anthropic personal"]
    premiere, openrouter, claude = data["sections"]
    assert [m["id"] for m in premiere["models"]] == ["claude-sonnet-4-5"]
    llama = next(m for m in openrouter["models"] if m["id"] == "meta-llama/llama-3.3-70b-instruct")
    assert llama["name"] == "Meta: Llama 3.3 70B Instruct" and llama["context_label"] == "128K"
    assert {"vision", "tools", "json"} <= set(llama["capabilities"])
    assert llama["sources"]["context_window"] == "provider"
    r1 = next(m for m in openrouter["models"] if m["id"] == "deepseek/deepseek-r1:free")
    assert r1["free"] is True and r1["speed"] == "Deep"
    haiku = next(m for m in claude["models"] if m["id"].startswith("claude-haiku-4-5"))
    assert haiku["speed"] == "Instant" and haiku["context_label"] == "200K"


async def test_search_is_case_insensitive_partial_and_across_providers(two_configs) -> None:  # type: ignore[no-untyped-def]
    client, _, _ = two_configs
    data = (await client.get("/api/catalog", params={"q": "SONNET"})).json()
    hits = [(s["label"], m["id"]) for s in data["sections"] for m in s["models"]]
    assert ("Premiere Theater", "claude-sonnet-4-5") in hits
    assert ("Anthropic personal", "claude-sonnet-4-5-20250929") in hits
    assert all("sonnet" in model_id.lower() for _, model_id in hits)
    partial = (await client.get("/api/catalog", params={"q": "llam 70"})).json()
    assert [m["id"] for s in partial["sections"] for m in s["models"]] == ["meta-llama/llama-3.3-70b-instruct"]
    assert [m for s in (await client.get("/api/catalog", params={"q": "no-such-model"})).json()["sections"] for m in s["models"]] == []


async def test_stars_persist_and_come_first(app, two_configs) -> None:  # type: ignore[no-untyped-def]
    client, router, anthropic = two_configs
    assert (await post(client, "/api/catalog/stars", {"section": anthropic, "model_id": "claude-3-haiku-20240307"})).status_code == 204
    data = (await client.get("/api/catalog")).json()
    assert [m["id"] for m in data["starred"]] == ["claude-3-haiku-20240307"]
    claude = data["sections"][2]["models"]
    assert claude[0]["id"] == "claude-3-haiku-20240307" and claude[0]["starred"] is True
    assert [m["starred"] for m in claude[1:]] == [False] * (len(claude) - 1)
    await post(client, "/api/catalog/stars", {"section": anthropic, "model_id": "claude-3-haiku-20240307", "starred": False})
    assert (await client.get("/api/catalog")).json()["starred"] == []
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        refused = await post(bob, "/api/catalog/stars", {"section": anthropic, "model_id": "x"})
        assert refused.status_code == 404


async def _age(app, config_id: str) -> None:  # type: ignore[no-untyped-def]
    async with app.state.res.db.begin() as s:
        row = await s.get(ProviderConfig, config_id)
        row.models_fetched_at = utcnow() - timedelta(days=3)


async def test_stale_list_is_served_then_refreshed_in_the_background(app, two_configs, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, router, _ = two_configs
    await _age(app, router)
    fake_openai.models.append({"id": "brand-new-model", "object": "model", "context_length": 32768})
    first = (await client.get("/api/catalog")).json()["sections"][1]
    assert first["stale"] is True and "brand-new-model" not in [m["id"] for m in first["models"]]  # served at once
    await app.state.res.queue.drain()
    fresh = (await client.get("/api/catalog")).json()["sections"][1]
    assert fresh["stale"] is False and "brand-new-model" in [m["id"] for m in fresh["models"]]


async def test_failed_refresh_keeps_the_old_list_and_says_why(app, two_configs, fake_openai) -> None:  # type: ignore[no-untyped-def]
    client, router, _ = two_configs
    before = [m["id"] for m in (await client.get("/api/catalog")).json()["sections"][1]["models"]]
    await _age(app, router)
    fake_openai.fail_next(503, times=10)
    await client.get("/api/catalog")
    await app.state.res.queue.drain()
    after = (await client.get("/api/catalog")).json()["sections"][1]
    assert [m["id"] for m in after["models"]] == before
    assert "down or unreachable" in after["error"]


async def test_compact_view_carries_the_same_models_in_arrays(app, two_configs) -> None:  # type: ignore[no-untyped-def]
    client, router, anthropic = two_configs
    await post(client, "/api/catalog/stars", {"section": anthropic, "model_id": "claude-3-haiku-20240307"})
    full = (await client.get("/api/catalog")).json()
    compact = (await client.get("/api/catalog", params={"view": "compact"})).json()
    columns = compact["columns"]
    assert [s["id"] for s in compact["sections"]] == [s["id"] for s in full["sections"]]
    for whole, small in zip(full["sections"], compact["sections"], strict=True):
        assert small["total"] == whole["total"] == len(small["rows"])
        by_id = {m["id"]: m for m in whole["models"]}
        for row in small["rows"]:
            model = dict(zip(columns, row, strict=True))
            expected = by_id[model["id"]]
            for name in ("name", "context_window", "context_label", "capabilities", "speed", "free"):
                assert model[name] == expected[name], (model["id"], name)
            curated = small["curated"][model["curated"]] if model["curated"] is not None else [None, None, None]
            assert curated == [expected["details"]["curated_id"], expected["details"]["curated_source"],
                               expected["details"]["curated_as_of"]]
    assert compact["sections"][2]["starred"] == ["claude-3-haiku-20240307"]
    assert len((await client.get("/api/catalog", params={"view": "compact"})).content) * 2 < len(
        (await client.get("/api/catalog")).content)  # a fifth at 10,000 models (bench/bench_catalog.py)


async def test_collapsed_sections_are_left_out_and_fetched_alone(app, two_configs) -> None:  # type: ignore[no-untyped-def]
    client, router, anthropic = two_configs
    data = (await client.get("/api/catalog", params={"view": "compact", "skip": f"{router},{anthropic}"})).json()
    premiere, left_out, _ = data["sections"]
    assert premiere["rows"] is not None and left_out["rows"] is None and left_out["total"] > 0
    one = (await client.get(f"/api/catalog/sections/{router}", params={"view": "compact"})).json()
    assert one["section"]["id"] == router and len(one["section"]["rows"]) == left_out["total"]
    # A starred model's section comes whole even when collapsed: the Starred group needs its row.
    await post(client, "/api/catalog/stars", {"section": anthropic, "model_id": "claude-3-haiku-20240307"})
    data = (await client.get("/api/catalog", params={"view": "compact", "skip": anthropic})).json()
    assert data["sections"][2]["rows"] is not None
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        assert (await bob.get(f"/api/catalog/sections/{router}", params={"view": "compact"})).status_code == 404


async def test_catalog_is_gzipped_and_says_the_pinned_model(app, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    account_id = (await alice.get("/api/me")).json()["id"]
    record, _ = e2e_record(account_id)
    await post(alice, "/api/encryption/setup", record)
    body = {"provider_id": "openrouter", "base_url": fake_openai.base_url, "api_key": VALID_KEY,
            "model": "deepseek/deepseek-r1:free"}
    test_id = (await post(alice, "/api/provider-configs/test", body)).json()["test_id"]
    saved = await post(alice, "/api/provider-configs", {**body, "label": "Pinned", "privacy_mode": "srv", "test_id": test_id})
    assert saved.status_code == 201, saved.json()
    response = await alice.get("/api/catalog", params={"view": "compact"}, headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) * 2 < len(response.content)
    assert response.json()["sections"][1]["pinned_model"] == "deepseek/deepseek-r1:free"
    # Pages are never compressed: they carry the CSRF token next to reflected input (BREACH).
    page = await alice.get("/settings?tab=api-keys", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and "content-encoding" not in page.headers
    assert (await alice.get("/api/catalog")).json()["sections"][1]["pinned_model"] == "deepseek/deepseek-r1:free"


async def test_first_screenful_then_the_rest(two_configs) -> None:  # type: ignore[no-untyped-def]
    client, router, anthropic = two_configs
    first = (await client.get("/api/catalog", params={"view": "compact", "first": 1})).json()
    assert [s["rows"] is not None for s in first["sections"]] == [True, True, False]  # Premiere always comes
    rest = (await client.get("/api/catalog", params={"view": "compact", "skip": f"premiere,{router}"})).json()
    assert rest["sections"][2]["rows"] is not None and rest["sections"][1]["rows"] is None


async def test_the_first_request_stops_at_a_screenful(alice, fake_openai, fake_anthropic) -> None:  # type: ignore[no-untyped-def]
    record, _ = e2e_record((await alice.get("/api/me")).json()["id"])
    await post(alice, "/api/encryption/setup", record)
    fake_openai.models = [{"id": f"vendor/model-{n}", "object": "model", "owned_by": "x"} for n in range(80)]
    await _tested_config(alice, "Big list", "openrouter", fake_openai.base_url)
    await _tested_config(alice, "Anthropic personal", "anthropic", fake_anthropic.base_url)
    first = (await alice.get("/api/catalog", params={"view": "compact", "first": 3})).json()
    # 80 models fill more than a screen: the second section waits for the page's second request.
    assert [s["rows"] is not None for s in first["sections"]] == [True, True, False]
    assert len(first["sections"][1]["rows"]) == 80 and first["sections"][2]["total"] > 0


async def test_only_the_sections_asked_for(two_configs) -> None:  # type: ignore[no-untyped-def]
    client, router, anthropic = two_configs
    await post(client, "/api/catalog/stars", {"section": router, "model_id": "deepseek/deepseek-r1:free"})
    data = (await client.get("/api/catalog", params={"view": "compact", "only": anthropic})).json()
    # The page's second request: a starred section it already has is not sent again, nor Premiere.
    assert [s["rows"] is not None for s in data["sections"]] == [False, False, True]
    assert data["sections"][1]["total"] > 0 and data["sections"][1]["starred"] == ["deepseek/deepseek-r1:free"]
    both = (await client.get("/api/catalog", params={"view": "compact", "only": f"premiere,{router},{anthropic}"})).json()
    assert all(s["rows"] is not None for s in both["sections"])


async def test_a_restart_merges_the_first_screen_of_signed_in_accounts(two_configs, settings) -> None:  # type: ignore[no-untyped-def]
    """The Cast page's first request after a start finds its lists merged already (no merge on
    the page's critical path), and sends what it sent before the restart."""
    from asgi_lifespan import LifespanManager

    from rolecall.app import create_app
    from rolecall.services import catalog

    client, router, _ = two_configs
    first = "/api/catalog?view=compact&first=3"
    before = (await client.get(first)).json()
    catalog._MERGED.clear()  # what a fresh process has
    restarted = create_app(settings)
    async with LifespanManager(restarted), make_client(restarted) as again:
        assert any(key[0] == router for key in catalog._MERGED)
        again.cookies.update(client.cookies)
        assert (await again.get(first)).json() == before
