"""Personal data is scoped to its account: another account's object answers 404, never 403."""

from __future__ import annotations

import httpx

from tests.helpers import csrf_headers, make_client, sign_up


async def test_another_accounts_scene_is_not_found(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    created = await alice.post("/api/scenes", json={"title": "Alice's secret garden"}, headers=await csrf_headers(alice))
    assert created.status_code == 201
    scene_id = created.json()["id"]

    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        assert (await bob.get(f"/api/scenes/{scene_id}")).status_code == 404
        assert (await bob.get(f"/scenes/{scene_id}")).status_code == 404
        assert (await bob.delete(f"/api/scenes/{scene_id}", headers=await csrf_headers(bob))).status_code == 404
        assert (await bob.get("/api/scenes")).json() == []
        page = await bob.get("/scenes")
        assert "Alice's secret garden" not in page.text

    # Bob's attempts changed nothing.
    assert (await alice.get(f"/api/scenes/{scene_id}")).json()["title"] == "Alice's secret garden"


async def test_own_scene_round_trip(alice: httpx.AsyncClient) -> None:
    headers = await csrf_headers(alice)
    created = (await alice.post("/api/scenes", json={"title": "  Lighthouse  ", "description": "Storm"}, headers=headers)).json()
    assert created["title"] == "Lighthouse"
    assert [s["id"] for s in (await alice.get("/api/scenes")).json()] == [created["id"]]
    assert (await alice.delete(f"/api/scenes/{created['id']}", headers=headers)).status_code == 204
    assert (await alice.get(f"/api/scenes/{created['id']}")).status_code == 404


async def test_scene_needs_a_title(alice: httpx.AsyncClient) -> None:
    response = await alice.post("/api/scenes", json={"title": "   "}, headers=await csrf_headers(alice))
    assert response.status_code == 400 and response.json()["error"] == "Give the scene a title."


async def test_scenes_need_a_login(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/scenes")).status_code == 401
    page = await client.get("/scenes")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/scenes"
