"""The one outbound HTTP client: `make_client(policy)`.

Design (docs/security.md, "Outbound requests and SSRF"): an `httpx.AsyncClient` whose only
transport is `GuardedTransport`, a thin public-API adapter from httpx to our `LeanPool`
(rolecall.net.pool) of `httpcore.AsyncHTTPConnection`s built with our `GuardBackend` (httpx's own
`AsyncHTTPTransport` does not accept a network backend, and patching its
private `_pool` would break silently on upgrade). Around it:

- `follow_redirects=False`: a redirect could point anywhere, and httpx keeps
  `x-api-key`-style headers across origins. A caller that
  opts in per request still goes through the guard on every hop.
- `trust_env=False`: no proxies from the environment (the connect would go to
  the proxy, and the target would never be checked) and no credentials from ~/.netrc. httpx already skips environment
  proxies when given a transport; this keeps it so if that ever changes.
- explicit timeouts and connection limits;
- a response size cap counted while streaming, on the wire bytes and on the
  decoded bytes (a gzip bomb is small on the wire), for `.read()` and
  `client.stream(...)` alike.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpcore
import httpx

from rolecall.net.errors import ResponseTooLarge
from rolecall.net.guard import GuardBackend, NetworkPolicy, Resolver, plain_http
from rolecall.net.pool import LeanPool, PoolTimeout

DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024

# httpcore exception -> httpx exception, most specific first, so callers only
# ever see httpx's public exception types (plus our NetError family).
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """Re-raise httpcore errors as httpx ones; anything else (NetError) unchanged."""
    try:
        yield
    except Exception as exc:
        for core_type, httpx_type in _EXCEPTIONS:
            if isinstance(exc, core_type):
                raise httpx_type(str(exc)) from exc
        raise


class _CappedStream(httpx.AsyncByteStream):
    """The raw body as it arrives, stopped once it passes `limit` bytes; closing it hands the
    connection back to the pool (kept if the body was read to the end, closed otherwise)."""

    def __init__(self, stream: AsyncIterable[bytes], host: str, limit: int,
                 release: Callable[[], Awaitable[None]]) -> None:
        self._stream = stream
        self._host = host
        self._limit = limit
        self._release: Callable[[], Awaitable[None]] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        with _httpx_errors():
            async for chunk in self._stream:
                seen += len(chunk)
                if seen > self._limit:
                    raise ResponseTooLarge(self._host, self._limit)
                yield chunk

    async def aclose(self) -> None:
        release, self._release = self._release, None
        try:
            await self._stream.aclose()  # type: ignore[attr-defined]
        finally:
            if release is not None:
                await release()


class _CappedResponse(httpx.Response):
    """A response whose *decoded* body is capped too.

    `aread()`, `aiter_text()`, `aiter_lines()` and `json()` all go through
    `aiter_bytes()`, so this one override covers them.
    """

    max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        if chunk_size is None and "content-encoding" not in self.headers:
            # Nothing to decode (every streamed reply): the raw chunks are the bytes, and the wire
            # cap in `_CappedStream` already counts them. Skips httpx's decoder layer per chunk.
            async for chunk in self.aiter_raw():
                yield chunk
            return
        seen = 0
        async for chunk in super().aiter_bytes(chunk_size):
            seen += len(chunk)
            if seen > self.max_bytes:
                raise ResponseTooLarge(self.url.host, self.max_bytes)
            yield chunk


class GuardedTransport(httpx.AsyncBaseTransport):
    """httpx transport over a `LeanPool` whose every connection goes through the guard."""

    def __init__(
        self,
        backend: GuardBackend,
        *,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
        max_response_bytes: int,
    ) -> None:
        self._max_response_bytes = max_response_bytes
        self._pool = LeanPool(
            backend,
            ssl_context=ssl_context,
            max_connections=limits.max_connections or 100,
            max_keepalive_connections=limits.max_keepalive_connections or 0,
            keepalive_expiry=limits.keepalive_expiry or 0.0,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        # The connection is opened inside this call, in this task, so the flag reaches the backend.
        token = plain_http.set(url.scheme == "http")
        try:
            with _httpx_errors():
                core_response, connection = await self._pool.request(core_request)
        finally:
            plain_http.reset(token)
        origin = core_request.url.origin

        async def release() -> None:
            await self._pool.release(connection, origin)

        response = _CappedResponse(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_CappedStream(core_response.stream, url.host, self._max_response_bytes, release),  # type: ignore[arg-type]
            extensions=core_response.extensions,
        )
        response.max_bytes = self._max_response_bytes
        return response

    async def aclose(self) -> None:
        await self._pool.aclose()


def _ssl_context(verify: bool | ssl.SSLContext) -> ssl.SSLContext:
    if isinstance(verify, ssl.SSLContext):
        return verify
    if verify is not True:
        # Provider keys travel in these requests; never send them unverified.
        raise ValueError("TLS verification cannot be turned off; pass an ssl.SSLContext with your CA instead")
    return httpx.create_ssl_context()


class _NoCookies(httpx.Cookies):
    """A jar that stays empty: `extract_cookies` (httpx calls it on every response) keeps nothing and
    skips building the urllib request and response views a cookie policy would read (~0.1 ms a call)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class _NoCookiesClient(httpx.AsyncClient):
    """One client serves every account: a cookie a provider sets must not ride on the next person's
    request to it, so the client's jar keeps none."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cookies = _NoCookies()


def make_client(
    policy: NetworkPolicy,
    *,
    connect_timeout: float = 10.0,
    read_timeout: float = 120.0,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    verify: bool | ssl.SSLContext = True,
    max_connections: int = 100,
    keepalive_expiry: float = 30.0,
    resolver: Resolver | None = None,
    backend: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """The AsyncClient every outbound call must use.

    `read_timeout` bounds each wait for data (per chunk), so a stream can run
    longer than it as long as tokens keep coming. `resolver` and `backend` are
    test seams (fixed DNS answers; a recording connector under the guard);
    production leaves them None.
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=20, keepalive_expiry=keepalive_expiry)
    transport = GuardedTransport(
        GuardBackend(policy, resolver=resolver, inner=backend),
        ssl_context=_ssl_context(verify),
        limits=limits,
        max_response_bytes=max_response_bytes,
    )
    return _NoCookiesClient(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
    )
