"""`GuardedClient.open`: the providers' hot calls, below httpx's request and response objects.

The same guard, caps and headers as the client's `request()`, against real local servers.
"""

from __future__ import annotations

import httpx
import pytest

from rolecall.net import BlockedAddress, NetworkPolicy, ResponseTooLarge, make_client

LOOPBACK = NetworkPolicy(allow_private=("127.0.0.0/8",))
MiB = 1024 * 1024


async def test_open_reads_the_answer_with_the_clients_headers_under_the_calls_own(server) -> None:
    async with make_client(LOOPBACK) as client:
        reply = await client.open("GET", httpx.URL(f"http://127.0.0.1:{server.port}/hello"),
                                  headers={"accept": "application/json", "Authorization": "Bearer sk-1"})
        body = await reply.aread()
    assert (reply.status_code, reply.is_success, body, reply.content) == (200, True, b"hello", b"hello")
    assert reply.headers["content-type"] == "text/plain"
    (path, sent), = server.requests
    sent = {name.lower(): value for name, value in sent.items()}
    assert path == "/hello"
    assert sent["accept"] == "application/json"  # the call's own, not the client's */*
    assert sent["authorization"] == "Bearer sk-1"
    assert sent["user-agent"].startswith("python-httpx/")  # as `request()` sends it
    assert "gzip" in sent["accept-encoding"]


async def test_open_streams_chunks_as_they_come(server) -> None:
    async with make_client(LOOPBACK) as client:
        reply = await client.open("GET", httpx.URL(f"http://127.0.0.1:{server.port}/stream"), headers={})
        try:
            text = b"".join([chunk async for chunk in reply.aiter_bytes()])
        finally:
            await reply.aclose()
    assert text == b"".join(f"data: {i}\n\n".encode() for i in range(5))


async def test_open_follows_no_redirect(server) -> None:
    async with make_client(LOOPBACK) as client:
        reply = await client.open("GET", httpx.URL(f"http://127.0.0.1:{server.port}/redirect"), headers={})
        await reply.aread()
    assert reply.status_code == 302 and not reply.is_success
    assert reply.headers["location"].startswith("http://169.254.169.254/")
    assert len(server.requests) == 1


async def test_open_caps_the_wire_and_the_decoded_body(server) -> None:
    async with make_client(LOOPBACK, max_response_bytes=MiB) as client:
        big = await client.open("GET", httpx.URL(f"http://127.0.0.1:{server.port}/big"), headers={})
        with pytest.raises(ResponseTooLarge):
            await big.aread()
        bomb = await client.open("GET", httpx.URL(f"http://127.0.0.1:{server.port}/gzip-bomb"), headers={})
        with pytest.raises(ResponseTooLarge):  # ~8 KiB on the wire, 8 MiB decoded
            await bomb.aread()
        hello = await client.open("GET", httpx.URL(f"http://127.0.0.1:{server.port}/hello"), headers={})
        assert await hello.aread() == b"hello"  # the slots the refused answers held were given back


async def test_open_meets_the_guard_before_connecting(server, recorder) -> None:
    async with make_client(LOOPBACK, socket_factory=recorder) as client:
        with pytest.raises(BlockedAddress):
            await client.open("GET", httpx.URL("http://169.254.169.254/latest/meta-data/"), headers={})
    assert recorder.calls == []
