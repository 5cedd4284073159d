"""The outbound transport (rolecall.net.transport) against a real keep-alive HTTP/1.1 server on loopback.

Covers: a request's head and body go out in one write; a connection read to the end is reused; a response closed early (Stop) closes its
connection and the next request opens a new one; the cap on open connections makes a request
wait, and a pool timeout ends the wait with httpx's PoolTimeout.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from rolecall.net import NetworkPolicy, make_client

LOOPBACK = NetworkPolicy(allow_private=("127.0.0.0/8",))
BODY = b"data: tok\n\n" * 200


class KeepAliveServer:
    """Answers every request on a connection with a 200 and a chunked body (slowly for /v1/slow);
    counts connections."""

    def __init__(self) -> None:
        self.opened = 0
        self.closed = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
                for start in range(0, len(BODY), 110):
                    piece = BODY[start:start + 110]
                    writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    await writer.drain()
                    if b"/slow" in head:  # a provider still generating: the rest comes later
                        await asyncio.sleep(0.2)
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.closed += 1
            writer.close()

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()


@pytest.fixture
async def keepalive() -> AsyncIterator[KeepAliveServer]:
    server = KeepAliveServer()
    await server.start()
    yield server
    await server.stop()


async def test_a_connection_read_to_the_end_is_reused(keepalive: KeepAliveServer) -> None:
    async with make_client(LOOPBACK) as client:
        for _ in range(3):
            response = await client.get(f"http://127.0.0.1:{keepalive.port}/v1/chat")
            assert response.content == BODY
    assert keepalive.opened == 1


async def test_a_stream_closed_early_closes_its_connection(keepalive: KeepAliveServer) -> None:
    async with make_client(LOOPBACK) as client:
        async with client.stream("GET", f"http://127.0.0.1:{keepalive.port}/v1/slow") as response:
            async for _ in response.aiter_bytes():
                break  # Stop after the first piece
        for _ in range(20):  # the server notices the close
            if keepalive.closed:
                break
            await asyncio.sleep(0.02)
        assert keepalive.closed == 1
        assert (await client.get(f"http://127.0.0.1:{keepalive.port}/v1/chat")).content == BODY
    assert keepalive.opened == 2


async def test_the_connection_cap_makes_a_request_wait_until_the_pool_timeout(keepalive: KeepAliveServer) -> None:
    async with make_client(LOOPBACK, max_connections=1, connect_timeout=0.2) as client:
        url = f"http://127.0.0.1:{keepalive.port}/v1/chat"
        async with client.stream("GET", f"http://127.0.0.1:{keepalive.port}/v1/slow"):
            with pytest.raises(httpx.PoolTimeout):
                await client.get(url)
        assert (await client.get(url)).content == BODY  # the slot is free again
    assert keepalive.opened == 2  # the first stream was closed unread, so its connection was too



async def test_idle_connections_past_their_keepalive_are_closed(keepalive: KeepAliveServer) -> None:
    other = KeepAliveServer()
    await other.start()
    try:
        async with make_client(LOOPBACK, keepalive_expiry=0.05) as client:
            assert (await client.get(f"http://127.0.0.1:{keepalive.port}/v1/chat")).content == BODY
            await asyncio.sleep(0.1)
            assert (await client.get(f"http://127.0.0.1:{other.port}/v1/chat")).content == BODY
            for _ in range(20):
                if keepalive.closed:
                    break
                await asyncio.sleep(0.02)
            assert keepalive.closed == 1
    finally:
        await other.stop()


class _RecordedSocket(socket.socket):
    """A socket that records what is sent on it (asyncio's transport sends through these methods)."""

    writes: list[bytes]

    def send(self, data: Any, flags: int = 0) -> int:
        sent = super().send(data, flags)
        self.writes.append(bytes(data[:sent]))
        return sent

    def sendmsg(self, buffers: Any, *args: Any) -> int:
        sent = super().sendmsg(buffers, *args)
        self.writes.append(b"".join(bytes(b) for b in buffers)[:sent])
        return sent


class WriteRecorder:
    """The connector's socket factory: sockets that record every write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def __call__(self, addr_info: tuple[Any, ...]) -> socket.socket:
        family, kind, proto, _, _ = addr_info
        sock = _RecordedSocket(family, kind, proto)
        sock.writes = self.writes
        return sock


async def test_a_request_head_and_its_body_go_out_in_one_write(keepalive: KeepAliveServer) -> None:
    recorder = WriteRecorder()
    async with make_client(LOOPBACK, socket_factory=recorder) as client:
        for n in range(2):  # the second request on the kept connection too
            body = {"model": "m", "n": n}
            assert (await client.post(f"http://127.0.0.1:{keepalive.port}/v1/chat", json=body)).content == BODY
    assert keepalive.opened == 1
    assert len(recorder.writes) == 2
    for n, sent in enumerate(recorder.writes):
        assert sent.startswith(b"POST /v1/chat HTTP/1.1\r\n") and sent.endswith(b'{"model":"m","n":%d}' % n)


async def test_a_resolver_that_never_answers_is_a_connect_timeout(keepalive: KeepAliveServer, monkeypatch) -> None:
    from rolecall.net import guard

    monkeypatch.setattr(guard, "DEFAULT_RESOLVE_TIMEOUT", 0.05)

    async def stuck(host: str, port: int) -> list[str]:
        await asyncio.sleep(5)
        return ["127.0.0.1"]

    async with make_client(LOOPBACK, resolver=stuck) as client:
        with pytest.raises(httpx.ConnectTimeout, match=r"resolving slow\.rolecall\.test timed out"):
            await client.get(f"http://slow.rolecall.test:{keepalive.port}/v1/chat")
    assert keepalive.opened == 0


async def test_a_name_without_answers_is_a_connect_error(keepalive: KeepAliveServer, fake_dns) -> None:
    async with make_client(LOOPBACK, resolver=fake_dns({"empty.rolecall.test": []})) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://empty.rolecall.test:{keepalive.port}/v1/chat")
        with pytest.raises(httpx.ConnectError):  # the resolver's own failure (no such name)
            await client.get(f"http://missing.rolecall.test:{keepalive.port}/v1/chat")
    assert keepalive.opened == 0
