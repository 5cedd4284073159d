"""The outbound connection pool: idle HTTP/1.1 connections kept per origin, a cap on open ones.

Why not `httpcore.AsyncConnectionPool`: it re-walks every queued request and every connection on
each request and each response close (`_assign_requests_to_connections`), a cost that grows with
concurrency and showed as a third of the adapter's CPU at 32 streams (docs/decisions.md, "Issue 11:
relay speed"). This pool does O(1) work per request: pop an idle connection of the origin, or open
a new `httpcore.AsyncHTTPConnection`. Every new connection still goes through the `GuardBackend`
it is given (resolve once, check every answer, connect to a checked address, TLS to the name):
connecting is `AsyncHTTPConnection`'s own code, unchanged.

Each connection's stream writes a request's head together with the first piece of its body
(`_OneWrite`): httpcore writes them separately, two sends and two wake-ups of the provider per call.

HTTP/1.1 only (as before: no `h2` in the ALPN list). A connection goes back to its origin's idle
list when its response was read to the end and closed; a response closed early (Stop) closes the
connection, so the provider sees the call end.
"""

from __future__ import annotations

import ssl
import typing
from collections import deque

import anyio
import httpcore

Origin = tuple[bytes, bytes, int]


class PoolTimeout(Exception):
    """No connection slot freed up within the pool timeout."""


class LeanPool:
    """Idle connections per origin (most recent first), at most `max_connections` open at once."""

    def __init__(
        self,
        backend: httpcore.AsyncNetworkBackend,
        *,
        ssl_context: ssl.SSLContext,
        max_connections: int,
        max_keepalive_connections: int,
        keepalive_expiry: float,
    ) -> None:
        self._backend = _OneWriteBackend(backend)
        self._ssl_context = ssl_context
        self._slots = anyio.Semaphore(max_connections)
        self._max_idle = max_keepalive_connections
        self._expiry = keepalive_expiry
        self._idle: dict[Origin, deque[httpcore.AsyncHTTPConnection]] = {}
        self._idle_count = 0
        self._closed = False

    async def request(self, request: httpcore.Request) -> tuple[httpcore.Response, httpcore.AsyncHTTPConnection]:
        """Send `request`; the caller hands the connection back with `release` once the body is closed."""
        timeout = request.extensions.get("timeout", {}).get("pool")
        try:
            with anyio.fail_after(timeout):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise PoolTimeout("no outbound connection became free in time") from exc
        try:
            connection = await self._take(request.url.origin)
            try:
                try:
                    response = await connection.handle_async_request(request)
                except httpcore.ConnectionNotAvailable:
                    # An idle connection the server closed just now: one fresh connection instead.
                    await connection.aclose()
                    connection = self._new(request.url.origin)
                    response = await connection.handle_async_request(request)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await connection.aclose()
                raise
        except BaseException:
            self._slots.release()
            raise
        return response, connection

    async def release(self, connection: httpcore.AsyncHTTPConnection, origin: httpcore.Origin) -> None:
        """After the response body was closed: keep the connection if it can serve another request."""
        try:
            if not self._closed and connection.is_idle() and self._idle_count < self._max_idle:
                self._idle.setdefault(_key(origin), deque()).append(connection)
                self._idle_count += 1
            elif not connection.is_closed():
                await connection.aclose()
        finally:
            self._slots.release()

    async def _take(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        idle = self._idle.get(_key(origin))
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if connection.is_available() and not connection.has_expired():
                return connection
            await connection.aclose()
        await self._prune()
        return self._new(origin)

    async def _prune(self) -> None:
        """Close idle connections past their keep-alive or closed by the server (at most
        `max_keepalive_connections` to look at, and only when a new connection is opened)."""
        for idle in self._idle.values():
            for connection in [c for c in idle if c.has_expired()]:
                idle.remove(connection)
                self._idle_count -= 1
                await connection.aclose()

    def _new(self, origin: httpcore.Origin) -> httpcore.AsyncHTTPConnection:
        return httpcore.AsyncHTTPConnection(origin, ssl_context=self._ssl_context, keepalive_expiry=self._expiry,
                                            network_backend=self._backend)

    async def aclose(self) -> None:
        self._closed = True
        connections = [c for idle in self._idle.values() for c in idle]
        self._idle.clear()
        self._idle_count = 0
        for connection in connections:
            await connection.aclose()


def _key(origin: httpcore.Origin) -> Origin:
    return (origin.scheme, origin.host, origin.port)


class _OneWriteBackend(httpcore.AsyncNetworkBackend):
    """The given backend (the guard: connecting is its work alone), its streams wrapped in `_OneWrite`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        return _OneWrite(await self._inner.connect_tcp(host, port, timeout=timeout, local_address=local_address,
                                                       socket_options=socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        return _OneWrite(await self._inner.connect_unix_socket(path, timeout=timeout, socket_options=socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _OneWrite(httpcore.AsyncNetworkStream):
    """Holds the first write after a read (a request's head: HTTP/1.1, no pipelining) and sends it
    with the next one (httpcore always follows the head with a body or end-of-message write).
    Every read sends what is held first, so nothing waits for an answer to bytes not yet sent."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._held = b""
        self._head_next = True

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if self._head_next and not self._held:
            self._head_next = False
            self._held = buffer
            return
        if self._held:
            buffer, self._held = self._held + buffer, b""
        await self._inner.write(buffer, timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._held:
            held, self._held = self._held, b""
            await self._inner.write(held, timeout)
        self._head_next = True
        return await self._inner.read(max_bytes, timeout)

    async def aclose(self) -> None:
        self._held = b""
        await self._inner.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        return _OneWrite(await self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)
