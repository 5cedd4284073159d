"""Personal data is scoped to its account: another account's object answers 404, never 403."""

from __future__ import annotations

import httpx

from tests.helpers import csrf_headers, make_client, sign_up
from tests.scene_helpers import character, patch, post, scene_with


async def test_another_accounts_scene_is_not_found(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    scene = await scene_with(alice, name="Alice's secret gardener")
    scene_id = scene["id"]
    message_id = scene["messages"][0]["id"]

    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        headers = await csrf_headers(bob)
        assert (await bob.get(f"/api/scenes/{scene_id}")).status_code == 404
        assert (await bob.get(f"/scenes/{scene_id}")).status_code == 404
        assert (await patch(bob, f"/api/scenes/{scene_id}", {"title": "mine now"})).status_code == 404
        assert (await bob.delete(f"/api/scenes/{scene_id}", headers=headers)).status_code == 404
        assert (await bob.get("/api/scenes")).json() == {"scenes": []}
        page = await bob.get("/scenes")
        assert "secret gardener" not in page.text
        # Messages of alice's scene: every route answers 404, before any stream starts.
        for path in (f"/api/scenes/{scene_id}/messages", f"/api/scenes/{scene_id}/messages/{message_id}/regenerate",
                     f"/api/scenes/{scene_id}/messages/{message_id}/continue"):
            response = await post(bob, path, {"text": "hello"})
            assert response.status_code == 404 and response.json()["code"] == "not_found", path
        assert (await patch(bob, f"/api/scenes/{scene_id}/messages/{message_id}", {"text": "edited"})).status_code == 404
        assert (await bob.delete(f"/api/scenes/{scene_id}/messages/{message_id}", headers=headers)).status_code == 404
        # Bob's own scene cannot reach alice's message either.
        own = await scene_with(bob, name="Bob's bard")
        assert (await patch(bob, f"/api/scenes/{own['id']}/messages/{message_id}", {"text": "x"})).status_code == 404

    # Bob's attempts changed nothing.
    after = (await alice.get(f"/api/scenes/{scene_id}")).json()
    assert after["title"] == "Alice's secret gardener" and after["messages"][0]["text"] == scene["messages"][0]["text"]


async def test_another_accounts_character_is_not_found(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    mine = await character(alice, "Corvin")
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        headers = await csrf_headers(bob)
        assert (await bob.get(f"/api/characters/{mine['id']}")).status_code == 404
        assert (await patch(bob, f"/api/characters/{mine['id']}", {"name": "Stolen"})).status_code == 404
        assert (await bob.delete(f"/api/characters/{mine['id']}", headers=headers)).status_code == 404
        assert (await bob.get("/api/characters")).json() == {"characters": []}
        # Nor can bob cast alice's character in his own scene.
        cast = await post(bob, "/api/scenes", {"character_ids": [mine["id"]]})
        assert cast.status_code == 404
    assert (await alice.get(f"/api/characters/{mine['id']}")).json()["name"] == "Corvin"


async def test_another_accounts_config_cannot_be_chosen(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    scene = await scene_with(alice)
    response = await patch(alice, f"/api/scenes/{scene['id']}", {"model": {"section": "not-a-config", "model_id": "x"}})
    assert response.status_code == 404


async def test_own_scene_round_trip(alice: httpx.AsyncClient) -> None:
    headers = await csrf_headers(alice)
    cast = await character(alice, "Lighthouse Keeper")
    created = (await post(alice, "/api/scenes", {"title": "  Lighthouse  ", "description": "Storm",
                                                  "character_ids": [cast["id"]]})).json()
    assert created["title"] == "Lighthouse" and created["characters"][0]["initials"] == "LK"
    listed = (await alice.get("/api/scenes")).json()["scenes"]
    assert [s["id"] for s in listed] == [created["id"]]
    assert listed[0]["last_message_preview"] == "Storm's coming. You'd best come inside."
    assert (await alice.delete(f"/api/scenes/{created['id']}", headers=headers)).status_code == 204
    assert (await alice.get(f"/api/scenes/{created['id']}")).status_code == 404


async def test_scene_needs_a_title_when_one_is_sent(alice: httpx.AsyncClient) -> None:
    cast = await character(alice)
    response = await post(alice, "/api/scenes", {"title": "   ", "character_ids": [cast["id"]]})
    assert response.status_code == 400 and response.json()["error"] == "Give the scene a title."
    named = await post(alice, "/api/scenes", {"character_ids": [cast["id"]]})
    assert named.json()["title"] == "Mira"


async def test_scenes_need_a_login(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/scenes")).status_code == 401
    assert (await client.get("/api/characters")).status_code == 401
    page = await client.get("/scenes")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/scenes"
