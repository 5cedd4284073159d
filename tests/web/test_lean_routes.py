"""The lean routes (`rolecall.web.lean`): a scene turn and /v1/chat/completions are served by plain
Starlette routes placed ahead of their FastAPI twins. Whatever a client sends, the lean route
answers as the twin would (same status, same body), and the OpenAPI document still describes it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from starlette.routing import Match

from rolecall.web.routes import LEAN
from tests.helpers import csrf_headers, make_client, sign_up


@contextmanager
def twins_only(app: Any) -> Iterator[None]:
    """The app with its lean routes taken out: the FastAPI twins serve."""
    routes = app.router.routes
    assert routes[:len(LEAN)] == list(LEAN), "the lean routes come first"
    del routes[:len(LEAN)]
    try:
        yield
    finally:
        routes[:0] = LEAN


async def _both(app: Any, send: Any) -> tuple[tuple[int, Any], tuple[int, Any]]:
    lean = await send()
    with twins_only(app):
        twin = await send()

    def seen(response: httpx.Response) -> tuple[int, Any]:
        kind = response.headers.get("content-type", "")
        return response.status_code, response.json() if kind.startswith("application/json") else kind
    return seen(lean), seen(twin)


async def test_a_scene_turn_answers_bad_requests_as_its_fastapi_twin(app: Any, alice: httpx.AsyncClient) -> None:
    headers = await csrf_headers(alice)
    character = await alice.post("/api/characters", json={"name": "Mira", "first_message": "Hi."}, headers=headers)
    scene = (await alice.post("/api/scenes", json={"character_ids": [character.json()["id"]]}, headers=headers)).json()
    url = f"/api/scenes/{scene['id']}/messages"
    json_type = {**headers, "content-type": "application/json"}
    cases = {
        "no CSRF token": lambda: alice.post(url, json={"text": "Hi"}),
        "no body": lambda: alice.post(url, headers=headers),
        "not JSON": lambda: alice.post(url, content=b'{"text": ', headers=json_type),
        "not UTF-8": lambda: alice.post(url, content=b'{"text": "\xff"}', headers=json_type),
        "not a JSON type": lambda: alice.post(url, content=b'{"text": "Hi"}', headers={**headers, "content-type": "text/plain"}),
        "a wrong type": lambda: alice.post(url, json={"text": 5}, headers=headers),
        "a nested wrong type": lambda: alice.post(url, json={"image": {"media_type": "image/png"}}, headers=headers),
        "a bad key": lambda: alice.post(url, json={"text": "Hi", "key": {"api_key": 7}}, headers=headers),
        "another scene": lambda: alice.post("/api/scenes/nope/messages", json={"text": "Hi"}, headers=headers),
        "a turn with no model": lambda: alice.post(url, json={"text": "Hi"}, headers=headers),
    }
    for name, send in cases.items():
        lean, twin = await _both(app, send)
        assert lean == twin, name
        assert lean[0] != 500, name

    async with make_client(app) as stranger:
        lean, twin = await _both(app, lambda: stranger.post(url, json={"text": "Hi"}, headers=headers))
    assert lean == twin and lean[0] in (401, 403)


async def test_v1_answers_bad_requests_as_its_fastapi_twin(app: Any, alice: httpx.AsyncClient) -> None:
    made = await alice.post("/api/access-tokens", json={"name": "cli", "scopes": ["chat"]},
                            headers=await csrf_headers(alice))
    bearer = {"authorization": f"Bearer {made.json()['token']}"}
    url = "/v1/chat/completions"
    body = {"model": "nope/gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}
    cases = {
        "no token": lambda: alice.post(url, json=body),
        "a wrong token": lambda: alice.post(url, json=body, headers={"authorization": "Bearer rc_pat_nope"}),
        "not JSON": lambda: alice.post(url, content=b"{", headers=bearer),
        "no messages": lambda: alice.post(url, json={"model": "nope/gpt-4o"}, headers=bearer),
        "an unknown model": lambda: alice.post(url, json=body, headers=bearer),
    }
    for name, send in cases.items():
        lean, twin = await _both(app, send)
        assert lean == twin, name
        assert lean[0] in (400, 401, 404, 422), name


async def test_each_lean_route_is_documented_and_serves_first(app: Any, client: httpx.AsyncClient) -> None:
    await sign_up(client, "bob")
    paths = (await client.get("/api/openapi.json")).json()["paths"]
    for route in LEAN:
        for method in route.methods or ():
            if method == "HEAD":
                continue
            assert method.lower() in paths[route.path], (method, route.path)
            scope = {"type": "http", "method": method, "path": route.path.replace("{scene_id}", "abc")}
            serving = next(r for r in app.router.routes if r.matches(scope)[0] == Match.FULL)
            assert serving is route
