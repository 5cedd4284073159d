"""Every state-changing request needs the CSRF token and a same-site origin."""

from __future__ import annotations

import httpx
from fastapi.routing import APIRoute

from tests.helpers import PASSWORD, csrf_headers


async def test_json_post_without_token_is_refused(client: httpx.AsyncClient) -> None:
    await client.get("/api/csrf")  # the cookie alone is not enough
    response = await client.post("/api/auth/signup", json={"name": "mallory", "password": PASSWORD})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf"
    assert (await client.get("/api/me")).status_code == 401


async def test_wrong_token_is_refused(client: httpx.AsyncClient) -> None:
    await client.get("/api/csrf")
    response = await client.post("/api/auth/signup", json={"name": "mallory", "password": PASSWORD}, headers={"X-CSRF-Token": "guess"})
    assert response.status_code == 403


async def test_form_without_token_is_refused(client: httpx.AsyncClient) -> None:
    await client.get("/signup")
    response = await client.post("/signup", data={"name": "mallory", "password": PASSWORD})
    assert response.status_code == 403
    assert "security token" in response.text


async def test_cross_site_request_is_refused_even_with_token(client: httpx.AsyncClient) -> None:
    headers = await csrf_headers(client)
    response = await client.post("/api/auth/signup", json={"name": "mallory", "password": PASSWORD},
                                 headers={**headers, "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    response = await client.post("/api/auth/signup", json={"name": "mallory", "password": PASSWORD},
                                 headers={**headers, "Origin": "https://evil.example"})
    assert response.status_code == 403


async def test_same_origin_request_with_token_passes(client: httpx.AsyncClient) -> None:
    headers = await csrf_headers(client)
    response = await client.post("/api/auth/signup", json={"name": "trent", "password": PASSWORD},
                                 headers={**headers, "Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 201


def all_routes(routes: list) -> list[APIRoute]:
    """Every endpoint, including those of included routers (FastAPI keeps them nested)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(all_routes(route.original_router.routes))
    return found


async def test_every_state_changing_route_refuses_a_request_without_token(app, alice: httpx.AsyncClient) -> None:  # type: ignore[no-untyped-def]
    unsafe = [
        (method, route.path.replace("{scene_id}", "x"))
        for route in all_routes(app.routes)
        for method in route.methods if method not in ("GET", "HEAD", "OPTIONS")
    ]
    assert len(unsafe) >= 8
    for method, path in unsafe:
        response = await alice.request(method, path, json={})
        if path.startswith("/v1/"):
            # The OpenAI-compatible API takes no CSRF token: it reads only a bearer token, never the
            # session cookie, so the signed-in browser's request is refused all the same.
            assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key", path
            continue
        assert response.status_code == 403, (method, path, response.status_code)
    assert (await alice.get("/api/me")).status_code == 200  # logout was refused too
