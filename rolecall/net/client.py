"""The one outbound HTTP client: `make_client(policy)`.

Design (docs/security.md, "Outbound requests and SSRF"): an `httpx.AsyncClient` whose only
transport is `GuardedTransport` (rolecall.net.transport: aiohttp's HTTP/1.1 client, every new
connection's addresses from the guard). Around it:

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

import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from rolecall.net.guard import GuardResolver, NetworkPolicy, Resolver
from rolecall.net.transport import GuardedTransport, Reply, SocketFactory

DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


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


class GuardedClient(httpx.AsyncClient):
    """The client `make_client` returns: httpx's API over `GuardedTransport`, plus `open`.

    One client serves every account: a cookie a provider sets must not ride on the next person's
    request to it, so the client's jar keeps none.
    """

    def __init__(self, *, transport: GuardedTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self._cookies = _NoCookies()
        self.guarded = transport

    async def open(
        self, method: str, url: httpx.URL, *, headers: Mapping[str, str], content: bytes | None = None,
    ) -> Reply:
        """One request straight to the transport: the same guard, slots, caps and timeouts as
        `request()`, and the same headers (this client's defaults under the call's own), without
        building httpx's request and response objects (~0.1 ms of each provider call's set-up:
        docs/decisions.md, "Provider calls below httpx's client"). Redirects are not followed.
        Close the reply (or read it whole) to give its connection back."""
        given = {name.lower() for name in headers}
        defaults = ((name.decode("latin-1"), value.decode("latin-1")) for name, value in self.headers.raw)
        merged = [(name, value) for name, value in defaults if name.lower() not in given]
        merged += headers.items()
        return await self.guarded.open(method, url, merged, content, self.timeout.as_dict())


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
    socket_factory: SocketFactory | None = None,
) -> GuardedClient:
    """The AsyncClient every outbound call must use.

    `read_timeout` bounds each wait for data (per chunk), so a stream can run
    longer than it as long as tokens keep coming. `resolver` and `socket_factory`
    are test seams (fixed DNS answers; recording where each connection goes);
    production leaves them None.
    """
    transport = GuardedTransport(
        GuardResolver(policy, resolver=resolver),
        ssl_context=_ssl_context(verify),
        max_connections=max_connections,
        keepalive_expiry=keepalive_expiry,
        max_response_bytes=max_response_bytes,
        socket_factory=socket_factory,
    )
    return GuardedClient(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
    )
