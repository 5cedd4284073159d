"""The usage log over HTTP (paged JSON, CSV, the Usage page and its chart) and the Token Balance section."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from bs4 import BeautifulSoup

from rolecall.config import PremiereModel, PremiereSettings, PremiereUpstream
from rolecall.services import token_balance, usage
from rolecall.services.usage import Attempt
from tests.helpers import make_client, sign_up

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def settings(make_settings):  # type: ignore[no-untyped-def]
    return make_settings(premiere=PremiereSettings(
        upstreams=[PremiereUpstream(id="house", provider="openrouter", api_key_env="HOUSE_KEY")],
        models=[PremiereModel(id="house-llama", upstream="house")], starting_grant=5000, refill_tokens=5000))


async def account_id(client: httpx.AsyncClient) -> str:
    return str((await client.get("/api/me")).json()["id"])


async def seed(app, owner: str) -> None:  # type: ignore[no-untyped-def]
    res = app.state.res
    for n in range(3):
        usage.record(res, Attempt(owner, "cfg-or", "OpenRouter fallback", "openrouter", "openai/gpt-4o", "ok",
                                  input_tokens=100 * (n + 1), output_tokens=50, latency_ms=800, ttft_ms=120,
                                  slot_position=1, at=NOW - timedelta(days=n)))
    usage.record(res, Attempt(owner, "premiere", "Premiere Theater", "openrouter", "house-llama", "error",
                              error_kind="unavailable", reason="HTTP 503", slot_position=2, at=NOW))
    usage.record(res, Attempt(owner, "cfg-an", "Anthropic personal", "anthropic", "claude-sonnet-4-5", "skipped",
                              reason="End-to-end encrypted keys can't be used by background jobs", slot_position=0, at=NOW))
    await res.usage.flush()


async def test_paged_json_with_filters(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    await seed(app, await account_id(alice))
    first = (await alice.get("/api/usage", params={"limit": 2})).json()
    assert len(first["rows"]) == 2 and first["next_cursor"]
    rest = (await alice.get("/api/usage", params={"limit": 10, "cursor": first["next_cursor"]})).json()
    assert len(rest["rows"]) == 3 and rest["next_cursor"] is None
    errors = (await alice.get("/api/usage", params={"outcome": "error"})).json()["rows"]
    assert [(r["config_label"], r["error_kind"], r["reason"]) for r in errors] == [("Premiere Theater", "unavailable", "HTTP 503")]
    one_config = (await alice.get("/api/usage", params={"section": "cfg-or"})).json()["rows"]
    assert {r["model"] for r in one_config} == {"openai/gpt-4o"} and len(one_config) == 3
    today = NOW.date().isoformat()
    assert len((await alice.get("/api/usage", params={"since": today, "until": today})).json()["rows"]) == 3
    assert (await alice.get("/api/usage", params={"outcome": "nope"})).status_code == 400


async def test_csv_export(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    await seed(app, await account_id(alice))
    response = await alice.get("/api/usage.csv", params={"section": "cfg-or"})
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="rolecall-usage-')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 3 and {r["config_label"] for r in rows} == {"OpenRouter fallback"}
    assert rows[0]["cost_usd"] and float(rows[0]["cost_usd"]) > 0  # gpt-4o list price is shipped


async def test_other_accounts_rows_are_never_visible(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    await seed(app, await account_id(alice))
    row_id = (await alice.get("/api/usage")).json()["rows"][0]["id"]
    assert (await alice.get(f"/api/usage/{row_id}")).status_code == 200
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        assert (await bob.get(f"/api/usage/{row_id}")).status_code == 404
        assert (await bob.get("/api/usage")).json()["rows"] == []
        assert len(list(csv.reader(io.StringIO((await bob.get("/api/usage.csv")).text)))) == 1  # the header only
        page = (await bob.get("/usage")).text
        assert "OpenRouter fallback" not in page and "No attempts match" in page


async def test_usage_page_shows_rows_a_chart_and_filters(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    await seed(app, await account_id(alice))
    page = BeautifulSoup((await alice.get("/usage")).text, "html.parser")
    rows = page.find(attrs={"data-testid": "usage-rows"}).find("tbody").find_all("tr")
    assert len(rows) == 5
    assert {r["data-outcome"] for r in rows} == {"ok", "error", "skipped"}
    chart = page.find(attrs={"data-testid": "usage-chart"}).find("svg")
    bars = chart.find_all("rect")
    assert bars and all(b.find("title") for b in bars)
    assert "OpenRouter fallback: 250 tokens on" in chart.text
    assert page.find("select", attrs={"name": "section"}).find("option", value="premiere")
    assert page.find("a", attrs={"data-testid": "usage-csv"})["href"] == "/api/usage.csv"
    filtered = BeautifulSoup((await alice.get("/usage", params={"outcome": "skipped"})).text, "html.parser")
    assert len(filtered.find(attrs={"data-testid": "usage-rows"}).find("tbody").find_all("tr")) == 1
    assert filtered.find("a", attrs={"data-testid": "usage-csv"})["href"] == "/api/usage.csv?outcome=skipped"


async def test_token_balance_section_and_api(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    owner = await account_id(alice)
    res = app.state.res
    await token_balance.current(res.db, res.settings.premiere, owner)
    await token_balance.debit(res.db, owner, 1200, model_id="house-llama")
    data = (await alice.get("/api/token-balance")).json()
    assert (data["balance"], data["used_today"], data["refill_every"]) == (3800, 1200, "day")
    assert [(d["tokens"], d["model_id"]) for d in data["recent"]] == [(1200, "house-llama")]
    page = BeautifulSoup((await alice.get("/settings?tab=api-keys")).text, "html.parser")
    assert page.find(attrs={"data-testid": "balance-amount"}).text == "3,800 tokens"
    assert "topped up to 5,000 tokens" in page.find(attrs={"data-testid": "balance-next-refill"}).text
    assert "house-llama" in page.find(attrs={"data-testid": "balance-recent"}).text
    await token_balance.debit(res.db, owner, 3800)
    empty = BeautifulSoup((await alice.get("/settings?tab=api-keys")).text, "html.parser")
    assert "Your Premiere Theater balance is empty; it refills on" in empty.find(attrs={"data-testid": "balance-empty-notice"}).text


async def test_the_page_shows_fifty_attempts_then_links_to_older_ones(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    owner, res = await account_id(alice), app.state.res
    for n in range(60):
        usage.record(res, Attempt(owner, "cfg-or", "OpenRouter fallback", "openrouter", f"model-{n:02d}", "ok",
                                  at=NOW - timedelta(minutes=n)))
    await res.usage.flush()
    first = BeautifulSoup((await alice.get("/usage", params={"outcome": "ok"})).text, "html.parser")
    assert len(first.find(attrs={"data-testid": "usage-rows"}).find("tbody").find_all("tr")) == 50
    older = first.find("a", string="Older attempts")["href"]
    assert older.startswith("/usage?outcome=ok&cursor=")
    second = BeautifulSoup((await alice.get(older)).text, "html.parser")
    models = [code.text for code in second.find(attrs={"data-testid": "usage-rows"}).find_all("code")]
    assert models == [f"model-{n:02d}" for n in range(50, 60)] and not second.find("a", string="Older attempts")


async def test_each_row_names_its_scene_and_preset(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    from tests.scene_helpers import post, scene_with

    owner, res = await account_id(alice), app.state.res
    scene = await scene_with(alice)
    preset = (await post(alice, "/api/presets", {"name": "Guide chain"})).json()
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        bobs = await scene_with(bob)  # another account's scene: its title is never shown here
    for scene_id, preset_id, model in ((scene["id"], preset["id"], "named"), ("gone-scene", "gone-preset", "deleted"),
                                       (bobs["id"], None, "foreign"), (None, None, "none")):
        usage.record(res, Attempt(owner, "cfg-or", "OpenRouter fallback", "openrouter", model, "ok",
                                  scene_id=scene_id, preset_id=preset_id, at=NOW))
    await res.usage.flush()
    page = BeautifulSoup((await alice.get("/usage")).text, "html.parser")
    cells = {row.find("code").text: [td.get_text(" ", strip=True) for td in row.find_all("td")[1:3]]
             for row in page.find(attrs={"data-testid": "usage-rows"}).find("tbody").find_all("tr")}
    assert cells == {"named": [scene["title"], "Guide chain"], "deleted": ["a deleted scene", "a deleted preset"],
                     "foreign": ["a deleted scene", "–"], "none": ["–", "–"]}
    assert page.find("a", string=scene["title"])["href"] == f"/scenes/{scene['id']}"
    config = page.find("code", string="named").find_parent("tr").find_all("td")[3]
    assert config.get_text(" ", strip=True) == "OpenRouter fallback OpenRouter"  # the provider's name, not its id


async def test_premiere_rows_do_not_name_the_operators_upstream(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    await seed(app, await account_id(alice))
    page = BeautifulSoup((await alice.get("/usage", params={"section": "premiere"})).text, "html.parser")
    (row,) = page.find(attrs={"data-testid": "usage-rows"}).find("tbody").find_all("tr")
    assert row.find_all("td")[3].get_text(" ", strip=True) == "Premiere Theater"
