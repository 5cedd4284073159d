"""Helpers for tests that talk to the app the way a browser or API client would."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

PASSWORD = "correct horse battery"


def make_client(app, client_ip: str = "127.0.0.1", base_url: str = "http://testserver") -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url=base_url, follow_redirects=False)


async def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """What a page's JavaScript sends: the token from the CSRF cookie, as a header."""
    token = (await client.get("/api/csrf")).json()["csrf_token"]
    return {"X-CSRF-Token": token}


async def sign_up(client: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/signup", json={"name": name, "password": password}, headers=await csrf_headers(client))


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (that value), failing after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)
