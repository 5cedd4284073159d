"""The scene page's preset choice: the scene JSON names its preset, a PUT picks another, others get 404."""

from __future__ import annotations

import httpx

from tests.helpers import csrf_headers, make_client, sign_up
from tests.scene_helpers import post, scene_with


async def preset(client: httpx.AsyncClient, name: str) -> dict:  # type: ignore[type-arg]
    made = await post(client, "/api/presets", {"name": name})
    assert made.status_code == 201, made.text
    return made.json()


async def test_the_scene_names_its_preset_and_a_put_picks_another(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    scene = await scene_with(alice)
    assert scene["preset"] is None  # no presets yet
    default, noir = await preset(alice, "Everyday"), await preset(alice, "Noir")
    shown = (await alice.get(f"/api/scenes/{scene['id']}")).json()["preset"]
    assert shown == {"id": default["id"], "name": "Everyday", "chosen": False}
    put = await alice.put(f"/api/scenes/{scene['id']}/preset", json={"preset_id": noir["id"]},
                          headers=await csrf_headers(alice))
    assert put.status_code == 200 and put.json()["preset"] == {"id": noir["id"], "name": "Noir", "chosen": True}
    assert (await alice.get(f"/api/scenes/{scene['id']}")).json()["preset"]["name"] == "Noir"
    back = await alice.put(f"/api/scenes/{scene['id']}/preset", json={"preset_id": None}, headers=await csrf_headers(alice))
    assert back.json()["preset"] == {"id": default["id"], "name": "Everyday", "chosen": False}
    schema = (await alice.get("/api/openapi.json")).json()
    assert "/api/scenes/{scene_id}/preset" in schema["paths"]


async def test_other_accounts_scenes_and_presets_answer_404(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    scene = await scene_with(alice)
    mine = await preset(alice, "Mine")
    async with make_client(app) as bob:
        await sign_up(bob, "bob")
        headers = await csrf_headers(bob)
        assert (await bob.put(f"/api/scenes/{scene['id']}/preset", json={"preset_id": None}, headers=headers)).status_code == 404
        own = await scene_with(bob)
        stolen = await bob.put(f"/api/scenes/{own['id']}/preset", json={"preset_id": mine["id"]}, headers=headers)
        assert stolen.status_code == 404
