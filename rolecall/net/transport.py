"""The outbound transport: httpx's requests and responses carried by aiohttp's HTTP/1.1 client.

Callers keep httpx's API (`make_client` returns an `httpx.AsyncClient`); `GuardedTransport` turns
each `httpx.Request` into one aiohttp request and the answer into an `httpx.Response` whose body
streams from aiohttp's. Why aiohttp below httpx: it reads a streamed reply at about half the CPU
of httpcore and h11 and reaches the first byte sooner (docs/decisions.md, "The outbound transport
is aiohttp"). The providers' hot calls skip httpx's objects altogether: `GuardedTransport.open`
sends the same way and answers with a `Reply` (docs/decisions.md, "Provider calls below httpx's
client").

The guard (docs/security.md, "Outbound requests and SSRF"): aiohttp takes every new connection's
addresses from `GuardResolver` (resolve once, refuse if any answer is refused, hand back only
checked IP addresses) and connects to those, with TLS verification and SNI on the URL's host name.
aiohttp asks no resolver for a host that is an IP literal, so the transport judges those itself
before sending. No DNS cache: each new connection resolves and checks again.

Around it: a cap on connections open at once (a request waits for a slot up to the pool timeout,
then gets httpx's `PoolTimeout`), idle keep-alive connections per origin, a response closed before
its end closes its connection (Stop ends the provider's call), and a size cap on the body counted
on the wire and after decoding (a gzip bomb is small on the wire).
"""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import aiohttp
import anyio
import httpx
import yarl

from rolecall.net.errors import ResponseTooLarge
from rolecall.net.guard import GuardResolver, ResolveTimeout, parse_ip_literal, plain_http
from rolecall.net.urls import port_of

# aiohttp's socket hook: called with an address (family, type, proto, canonname, sockaddr) that
# the guard checked, it returns the socket to connect. A seam for tests (record where each
# connection goes); production uses aiohttp's own.
SocketFactory = Callable[[tuple[Any, ...]], socket.socket]

# What goes out of these is what httpx's request holds: aiohttp adds none of its own (its User-Agent, say).
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
# Providers' response heads are small; 16 KiB per line as h11 allowed for the whole head.
_MAX_LINE = 16 * 1024


def _httpx_error(exc: aiohttp.ClientError) -> Exception:
    """The httpx exception a caller would have seen for this aiohttp failure."""
    text = str(exc)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(text)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return httpx.ReadTimeout(text)
    if isinstance(exc, aiohttp.ClientConnectorDNSError) and isinstance(exc.os_error, ResolveTimeout):
        return httpx.ConnectTimeout(str(exc.os_error))
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(text)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientResponseError)):
        return httpx.RemoteProtocolError(text)
    if isinstance(exc, aiohttp.InvalidURL):
        return httpx.InvalidURL(text)
    if isinstance(exc, aiohttp.ClientOSError):
        return httpx.ReadError(text)
    return httpx.NetworkError(text)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """Callers only ever see httpx's exception types, plus our NetError family (unchanged)."""
    try:
        yield
    except aiohttp.ClientError as exc:
        raise _httpx_error(exc) from exc


@functools.lru_cache(maxsize=512)
def _yarl_url(url: str) -> yarl.URL:
    """httpx's URL, already encoded, for aiohttp: parsed once per endpoint. Keys travel in
    headers, never in URLs, so nothing secret is kept here."""
    return yarl.URL(url, encoded=True)


class _CappedResponse(httpx.Response):
    """A response whose *decoded* body is capped too.

    `aread()`, `aiter_text()`, `aiter_lines()` and `json()` all go through `aiter_bytes()`, so
    this one override covers them.
    """

    max_bytes: int = 0
    host = ""  # named in the error (a `Reply`'s decoder has no httpx request to read it from)

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        if chunk_size is None and "content-encoding" not in self.headers:
            # Nothing to decode (every streamed reply): the raw chunks are the bytes, and the wire
            # cap in `_Body` already counts them. Skips httpx's decoder layer per chunk.
            async for chunk in self.aiter_raw():
                yield chunk
            return
        seen = 0
        async for chunk in super().aiter_bytes(chunk_size):
            seen += len(chunk)
            if seen > self.max_bytes:
                raise ResponseTooLarge(self.host, self.max_bytes)
            yield chunk


class _Body(httpx.AsyncByteStream):
    """The raw body as it arrives, stopped once it passes `limit` bytes. Closing it keeps the
    connection if the body was read to the end and closes it otherwise, then frees the slot."""

    def __init__(self, response: aiohttp.ClientResponse, host: str, limit: int, release: Callable[[], None]) -> None:
        self._response = response
        self._host = host
        self._limit = limit
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        with _httpx_errors():
            async for chunk in self._response.content.iter_any():
                seen += len(chunk)
                if seen > self._limit:
                    raise ResponseTooLarge(self._host, self._limit)
                yield chunk

    async def aclose(self) -> None:
        release, self._release = self._release, None
        if release is None:
            return
        try:
            if self._response.content.at_eof():
                self._response.release()
            else:
                self._response.close()
        finally:
            release()


class Reply:
    """A provider's answer without httpx's response object: its status, its head, and its body as
    it arrives, capped like `_CappedResponse`'s. Closing it before the end closes the connection.

    A body sent with a content coding is decoded by httpx's decoders, under the decoded-size cap.
    """

    __slots__ = ("_body", "_decoding", "_headers", "_raw_headers", "content", "status_code", "url")

    def __init__(self, response: aiohttp.ClientResponse, url: httpx.URL, body: _Body, max_bytes: int) -> None:
        self.status_code = response.status
        self.url = url
        self.content = b""  # the whole body, once `aread` has read it
        self._raw_headers = response.raw_headers
        self._headers: httpx.Headers | None = None
        self._body = body
        self._decoding: _CappedResponse | None = None
        if response.headers.get("content-encoding", "identity").lower() != "identity":
            self._decoding = _CappedResponse(status_code=response.status, headers=response.raw_headers, stream=body)
            self._decoding.max_bytes, self._decoding.host = max_bytes, url.host

    @property
    def headers(self) -> httpx.Headers:
        if self._headers is None:
            self._headers = httpx.Headers(self._raw_headers)
        return self._headers

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        # The body's own iterator, not a generator around it: one layer less per read of a stream.
        return aiter(self._body) if self._decoding is None else self._decoding.aiter_bytes()

    async def aread(self) -> bytes:
        try:
            self.content = b"".join([chunk async for chunk in self.aiter_bytes()])
        finally:
            await self.aclose()
        return self.content

    async def aclose(self) -> None:
        await self._body.aclose()


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx transport over one aiohttp session whose every connection goes through the guard."""

    def __init__(
        self,
        guard: GuardResolver,
        *,
        ssl_context: ssl.SSLContext,
        max_connections: int,
        keepalive_expiry: float,
        max_response_bytes: int,
        socket_factory: SocketFactory | None = None,
    ) -> None:
        self._guard = guard
        self._ssl_context = ssl_context
        self._keepalive = keepalive_expiry
        self._max_response_bytes = max_response_bytes
        self._socket_factory = socket_factory
        self._slots = anyio.Semaphore(max_connections)
        # Made on the first request: aiohttp binds a session to the running event loop.
        self._session: aiohttp.ClientSession | None = None

    def _open_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=self._guard,
            use_dns_cache=False,  # every new connection is resolved and checked again
            ssl=self._ssl_context,
            limit=0,  # the transport's own slots bound the connections
            keepalive_timeout=self._keepalive,
            happy_eyeballs_delay=None,  # the checked answers one after another, in resolver order
            socket_factory=self._socket_factory,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # one client serves every account
            auto_decompress=False,  # httpx decodes, under the decoded-size cap
            skip_auto_headers=_NO_AUTO_HEADERS,
            trust_env=False,  # no proxies or netrc from the environment
            timeout=aiohttp.ClientTimeout(total=None),
            max_line_size=_MAX_LINE,
            max_field_size=_MAX_LINE,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw]
        response = await self._request(request.method, url, headers, await request.aread() or None,
                                       request.extensions.get("timeout", {}))
        reply = _CappedResponse(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response, url.host, self._max_response_bytes, self._slots.release),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode("latin-1")},
        )
        reply.max_bytes, reply.host = self._max_response_bytes, url.host
        return reply

    async def open(
        self, method: str, url: httpx.URL, headers: list[tuple[str, str]], content: bytes | None,
        timeouts: Mapping[str, float | None],
    ) -> Reply:
        """One request as `handle_async_request` sends it, answered with a `Reply` instead of httpx's
        response object (`GuardedClient.open`)."""
        response = await self._request(method, url, headers, content, timeouts)
        body = _Body(response, url.host, self._max_response_bytes, self._slots.release)
        return Reply(response, url, body, self._max_response_bytes)

    async def _request(
        self, method: str, url: httpx.URL, headers: list[tuple[str, str]], content: bytes | None,
        timeouts: Mapping[str, float | None],
    ) -> aiohttp.ClientResponse:
        """Guard, slot, send: the answer's head, holding a slot its body's close gives back."""
        token = plain_http.set(url.scheme == "http")  # read by the guard when a connection opens
        try:
            if parse_ip_literal(url.host) is not None:  # aiohttp asks no resolver for these
                await self._guard.addresses(url.host, port_of(url))
            await self._take_slot(timeouts.get("pool"))
            try:
                return await self._send(method, url, headers, content, timeouts)
            except BaseException:
                self._slots.release()
                raise
        finally:
            plain_http.reset(token)

    async def _take_slot(self, timeout: float | None) -> None:
        with contextlib.suppress(anyio.WouldBlock):
            # A free slot: no timeout scope, and no turn of the event loop (`acquire` yields one
            # even when it need not wait) on the way to the provider.
            self._slots.acquire_nowait()
            return
        try:
            with anyio.fail_after(timeout):
                await self._slots.acquire()
        except TimeoutError as exc:
            raise httpx.PoolTimeout("no outbound connection became free in time") from exc

    async def _send(
        self, method: str, url: httpx.URL, headers: list[tuple[str, str]], content: bytes | None,
        timeouts: Mapping[str, float | None],
    ) -> aiohttp.ClientResponse:
        if self._session is None:
            self._session = self._open_session()
        with _httpx_errors():
            return await self._session.request(
                method,
                _yarl_url(str(url)),
                headers=headers,
                data=content,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeouts.get("connect"),
                                              sock_read=timeouts.get("read")),
            )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
