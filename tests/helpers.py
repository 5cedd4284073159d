"""Helpers for tests that talk to the app the way a browser or API client would."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import uvicorn

from rolecall.app import SERVER_LIMITS, create_app
from rolecall.config import Settings

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


@contextlib.contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The app under a real uvicorn on a loopback port, with the protocol `rolecall serve` runs (a
    client can really hang up, a stream really streams): its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(settings), lifespan="on", log_config=None, loop="asyncio",
                            timeout_graceful_shutdown=2, **SERVER_LIMITS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the app did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
