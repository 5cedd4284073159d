"""The app shell: every page renders for a signed-in person, with honest empty states."""

from __future__ import annotations

import httpx
from bs4 import BeautifulSoup

from tests.helpers import csrf_headers


def soup(response: httpx.Response) -> BeautifulSoup:
    assert response.status_code == 200, response.status_code
    return BeautifulSoup(response.text, "html.parser")


async def test_front_page_invites_sign_up(client: httpx.AsyncClient) -> None:
    page = soup(await client.get("/"))
    assert page.find("a", href="/signup") and page.find("a", href="/login")


async def test_signed_in_front_page_goes_to_scenes(alice: httpx.AsyncClient) -> None:
    response = await alice.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/scenes"


async def test_navigation_links_to_settings_cast_and_scenes(alice: httpx.AsyncClient) -> None:
    nav = soup(await alice.get("/scenes")).find("nav", id="main-nav")
    assert [a["href"] for a in nav.find_all("a")] == ["/scenes", "/models", "/settings"]
    assert nav.find("form", action="/logout")


async def test_api_keys_tab_has_its_sections(alice: httpx.AsyncClient) -> None:
    page = soup(await alice.get("/settings?tab=api-keys"))
    assert page.find("nav", class_="tabs").find("a", attrs={"aria-current": "page"}).text == "API Keys"
    assert page.find(id="encryption-title").text == "End-to-End Encryption"
    assert page.find(id="balance-title").text == "Token Balance"
    assert page.find(id="byok-title").text == "BYOK Providers"
    byok = page.find(id="byok")
    assert "Set up encryption first" in byok.text
    assert "Add Provider" not in byok.find("h3").text  # no button until encryption is Active


async def test_settings_tabs(alice: httpx.AsyncClient) -> None:
    page = soup(await alice.get("/settings"))
    tabs = page.find("nav", class_="tabs")
    assert [a.text for a in tabs.find_all("a")] == ["Account", "API Keys", "Access Tokens", "Cast", "Presets", "Usage"]
    assert "alice" in page.find("dl").text
    cast = await alice.get("/settings?tab=cast")
    assert cast.status_code == 303 and cast.headers["location"] == "/models"


async def test_cast_page_shell(alice: httpx.AsyncClient) -> None:
    page = soup(await alice.get("/models"))
    assert page.find("input", id="model-search")
    assert page.find("script", src=lambda src: src and src.startswith("/static/js/models.js"))
    empty = page.find("template", id="no-providers")
    assert "No providers connected" in empty.decode_contents()
    assert 'href="/settings?tab=api-keys"' in empty.decode_contents()


async def test_scenes_empty_state_then_a_scene(alice: httpx.AsyncClient) -> None:
    assert "No scenes yet" in soup(await alice.get("/scenes")).text
    token = (await csrf_headers(alice))["X-CSRF-Token"]
    created = await alice.post("/scenes", data={"title": "The lighthouse", "csrf_token": token})
    assert created.status_code == 303
    scene_page = soup(await alice.get(created.headers["location"]))
    assert scene_page.find("h1").text == "The lighthouse"
    listing = soup(await alice.get("/scenes"))
    assert "The lighthouse" in listing.text and "No scenes yet" not in listing.text


async def test_scene_form_error_is_shown(alice: httpx.AsyncClient) -> None:
    token = (await csrf_headers(alice))["X-CSRF-Token"]
    response = await alice.post("/scenes", data={"title": "  ", "csrf_token": token})
    assert response.status_code == 400
    assert "Give the scene a title." in response.text


async def test_pages_need_a_login(client: httpx.AsyncClient) -> None:
    for path in ("/settings", "/settings?tab=api-keys", "/models", "/scenes"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"ok": True}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ok": True, "checks": {"database": "ok", "cache": "ok"}}


async def test_openapi_documents_the_json_api(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/openapi.json")).json()
    for path in ("/api/auth/signup", "/api/auth/login", "/api/auth/logout", "/api/me", "/api/scenes", "/api/scenes/{scene_id}", "/healthz", "/readyz",
                 "/api/characters", "/api/characters/{character_id}", "/api/scenes/{scene_id}/messages",
                 "/api/scenes/{scene_id}/messages/{message_id}", "/api/scenes/{scene_id}/messages/{message_id}/regenerate",
                 "/api/scenes/{scene_id}/messages/{message_id}/continue"):
        assert path in schema["paths"], path
    docs = soup(await client.get("/api/docs"))
    assert docs.find(id=schema["paths"]["/api/me"]["get"]["operationId"])


async def test_security_headers_and_no_third_party_assets(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    page = soup(response)
    for tag, attr in (("script", "src"), ("link", "href"), ("img", "src")):
        for element in page.find_all(tag):
            assert element[attr].startswith("/"), element


async def test_static_assets_are_served(client: httpx.AsyncClient) -> None:
    for path in ("/static/css/app.css", "/static/js/app.js", "/static/img/logo.svg"):
        assert (await client.get(path)).status_code == 200, path


async def test_unknown_page_is_a_friendly_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404 and "Nothing is here." in response.text
