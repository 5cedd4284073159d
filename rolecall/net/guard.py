"""SSRF guard: which addresses RoleCall may connect to, enforced at connect time.

Design (docs/security.md, "Outbound requests and SSRF"):

- `NetworkPolicy` decides per *resolved address*, never per URL string:
  odd IPv4 notations, IPv6 forms and DNS answers all end up as an `ipaddress`
  object that is checked against an explicit deny table, with embedded IPv4
  unwrapped (mapped, NAT64, 6to4, Teredo, IPv4-compatible), plus `is_global`
  as a catch-all. `is_global` alone is not trusted: it misses NAT64, 6to4,
  IPv4-compatible and site-local addresses and has changed between patch
  releases.
- `GuardResolver` is the resolver of the outbound aiohttp connector. For every
  new connection it resolves the host once, refuses the connection if *any*
  answer is refused, and hands back only the checked IP addresses, which
  aiohttp connects to. The host name is never handed to the socket layer, so
  a DNS answer that changes between check and connect (rebinding) cannot take
  effect; certificate verification and SNI still use the original host name.
  aiohttp asks no resolver for IP-literal hosts: `net/transport.py` checks
  those with the same `GuardResolver.addresses` before sending.
- Refusal happens before any socket is opened: blocked destinations are never
  probed, so error text cannot be used as a port scanner.

This module imports nothing from the rest of `rolecall`; it receives plain values.
"""

from __future__ import annotations

import contextvars
import errno
import functools
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
from aiohttp.abc import AbstractResolver, ResolveResult

from rolecall.net.errors import BlockedAddress, PlainHttpError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str | IPAddress]]]

# Resolution has no deadline of its own (getaddrinfo); bound it (a slow resolver must not hold a request).
DEFAULT_RESOLVE_TIMEOUT = 10.0

_v4 = ipaddress.IPv4Network
_v6 = ipaddress.IPv6Network

# Non-public ranges and how to name them to a person. Order matters where
# ranges nest: the first match names the address.
_DENY_V4: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_v4("0.0.0.0/8"), "unspecified"),  # 0.0.0.0 reaches local services on Linux
    (_v4("10.0.0.0/8"), "private"),
    (_v4("100.64.0.0/10"), "shared (CGNAT)"),  # "neither" private nor global in ipaddress
    (_v4("127.0.0.0/8"), "loopback"),
    (_v4("169.254.0.0/16"), "link-local"),
    (_v4("172.16.0.0/12"), "private"),
    (_v4("192.0.0.0/24"), "reserved"),  # incl. 192.0.0.192, reported global by 3.11
    (_v4("192.0.2.0/24"), "documentation"),
    (_v4("192.88.99.0/24"), "reserved"),  # former 6to4 relay anycast
    (_v4("192.168.0.0/16"), "private"),
    (_v4("198.18.0.0/15"), "benchmarking"),
    (_v4("198.51.100.0/24"), "documentation"),
    (_v4("203.0.113.0/24"), "documentation"),
    (_v4("224.0.0.0/4"), "multicast"),
    (_v4("255.255.255.255/32"), "broadcast"),
    (_v4("240.0.0.0/4"), "reserved"),
)
_DENY_V6: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_v6("::/128"), "unspecified"),
    (_v6("::1/128"), "loopback"),
    (_v6("::ffff:0:0/96"), "IPv4-mapped"),  # normally unwrapped before this table
    (_v6("::/96"), "IPv4-compatible (deprecated)"),  # is_global says True
    (_v6("64:ff9b:1::/48"), "local-use NAT64"),
    (_v6("100::/64"), "discard-only"),
    (_v6("2001::/32"), "Teredo"),
    (_v6("2001::/23"), "reserved"),
    (_v6("2001:db8::/32"), "documentation"),
    (_v6("2002::/16"), "6to4"),  # is_global says True; 6to4 is deprecated (RFC 7526)
    (_v6("3fff::/20"), "documentation"),
    (_v6("fc00::/7"), "private"),  # unique local
    (_v6("fe80::/10"), "link-local"),
    (_v6("fec0::/10"), "site-local (deprecated)"),  # is_global says True
    (_v6("ff00::/8"), "multicast"),
)
_NAT64 = _v6("64:ff9b::/96")

# Cloud metadata endpoints: refused even inside an allowed private range, unless
# the operator lists that exact address.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)


# --- addresses -----------------------------------------------------------------

_AT_PART = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


def _inet_aton_part(part: str) -> int | None:
    """One dotted part as inet_aton(3) reads it: 0x hex, leading-0 octal, decimal."""
    if not _AT_PART.fullmatch(part):
        return None
    if part[:2].lower() == "0x":
        return int(part[2:], 16)
    if part.startswith("0"):
        return int(part, 8)
    return int(part)


def parse_inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """Parse the IPv4 notations the OS resolver accepts ("127.1", "0x7f.1",
    "2130706433", "017700000001"), or return None if `text` is not one.

    The last part fills the remaining bytes, as in inet_aton(3).
    """
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = [v for v in (_inet_aton_part(p) for p in parts) if v is not None]
    if len(values) != len(parts):
        return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    return ipaddress.IPv4Address(number * 256 ** (4 - len(head)) + last)


@functools.lru_cache(maxsize=1024)
def parse_ip_literal(host: str) -> IPAddress | None:
    """The address a host string denotes by itself (no DNS), or None for a name.

    Cached: the transport asks it of every request's host (a name costs two failed parses)."""
    text = host.strip("[]")
    if ":" in text:
        text = text.split("%", 1)[0]  # an IPv6 zone id does not change the address
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return parse_inet_aton(text)


def _as_address(ip: str | IPAddress) -> IPAddress:
    if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return ip
    parsed = parse_ip_literal(ip)
    if parsed is None:
        raise ValueError(f"not an IP address: {ip!r}")
    return parsed


def _unmap(ip: IPAddress) -> IPAddress:
    """::ffff:a.b.c.d is a.b.c.d on the wire; judge it as such."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition address leads to, if any."""
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client address, already de-obfuscated
    if int(ip) >> 32 == 0 and int(ip) > 1:  # IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(ip))
    return None


def non_public_kind(ip: IPAddress) -> str | None:
    """Name the kind of a non-public address ("loopback", ...), or None if public."""
    ip = _unmap(ip)
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and (kind := non_public_kind(embedded)) is not None:
            return kind
        table: Iterable[tuple[Any, str]] = _DENY_V6
    else:
        table = _DENY_V4
    for network, kind in table:
        if ip in network:
            return kind
    if not ip.is_global:  # catch-all for ranges the table does not name
        return "non-public"
    return None


# --- policy --------------------------------------------------------------------


def _host_key(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _parse_allow_host(entry: str) -> tuple[str, int | None]:
    """"name" allows any port, "name:port" only that port."""
    name, sep, port = entry.strip().rpartition(":")
    if sep and port.isdigit():
        return _host_key(name), int(port)
    return _host_key(entry), None


@dataclass(frozen=True)
class NetworkPolicy:
    """Which non-public destinations an operator allows. Default: none.

    allow_private: CIDR ranges allowed although non-public ("127.0.0.0/8", "::1/128").
    allow_hosts: host names ("ollama.lan" or "ollama.lan:11434") whose answers
        are trusted whatever they resolve to; they are still resolved once and
        pinned, and cloud metadata addresses stay refused.
    """

    allow_private: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    _networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        init=False, repr=False, compare=False
    )
    _hosts: frozenset[tuple[str, int | None]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept lists from configuration but keep the dataclass hashable.
        object.__setattr__(self, "allow_private", tuple(self.allow_private))
        object.__setattr__(self, "allow_hosts", tuple(self.allow_hosts))
        # A malformed range fails here, at startup, not on the first request.
        networks = tuple(ipaddress.ip_network(c.strip(), strict=False) for c in self.allow_private)
        object.__setattr__(self, "_networks", networks)
        object.__setattr__(self, "_hosts", frozenset(_parse_allow_host(h) for h in self.allow_hosts))

    def trusts_host(self, host: str, port: int) -> bool:
        key = _host_key(host)
        return (key, None) in self._hosts or (key, port) in self._hosts

    def check_ip(self, ip: str | IPAddress, *, host: str = "", trusted_host: bool = False) -> None:
        """Raise BlockedAddress unless RoleCall may connect to `ip`.

        `host` only names the destination in the error message.
        """
        address = _unmap(_as_address(ip))
        if address in METADATA_ADDRESSES and not self._lists_exactly(address):
            raise BlockedAddress(host, str(address), "cloud metadata")
        if trusted_host or self._allows(address):
            return
        kind = non_public_kind(address)
        if kind is not None:
            raise BlockedAddress(host, str(address), kind)

    def check_destination(self, host: str, port: int, addresses: Sequence[IPAddress]) -> None:
        """Check every address a host resolved to; one refused answer refuses all."""
        trusted = self.trusts_host(host, port)
        for address in addresses:
            self.check_ip(address, host=host, trusted_host=trusted)

    def check_plain_http(self, host: str, port: int, addresses: Sequence[IPAddress]) -> None:
        """Plain http:// only to what the operator allow-listed: a trusted host, or every answer
        inside `allow_private`. Unknown answers (DNS failed) are not allow-listed."""
        if self.trusts_host(host, port):
            return
        if not addresses or not all(self._allows(_unmap(a)) for a in addresses):
            raise PlainHttpError(host)

    def _allows(self, ip: IPAddress) -> bool:
        return any(ip.version == n.version and ip in n for n in self._networks)

    def _lists_exactly(self, ip: IPAddress) -> bool:
        return any(n.num_addresses == 1 and n.network_address == ip for n in self._networks)


# --- the resolver the connector uses ----------------------------------------------

# Set by the transport while it sends a plain http:// request: the connection it opens carries
# headers in clear, so the guard also applies `check_plain_http` (the resolver never sees the scheme).
plain_http: contextvars.ContextVar[bool] = contextvars.ContextVar("rolecall_plain_http", default=False)


class ResolveTimeout(OSError):
    """The resolver gave no answer in time (an OSError so that aiohttp reports it as a failed lookup)."""

    def __init__(self, host: str) -> None:
        super().__init__(errno.ETIMEDOUT, f"resolving {host} timed out")


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The system resolver (getaddrinfo in a worker thread, via anyio)."""
    infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [_as_address(str(info[4][0])) for info in infos]


class GuardResolver(AbstractResolver):
    """aiohttp's resolver for the outbound connector: resolves once per new connection, checks every
    answer, and hands back only checked IP addresses, which aiohttp connects to (TLS verification
    and SNI use the URL's host name). A refusal raises before any socket opens.

    `resolver` is a seam for tests (fixed DNS answers); production uses `resolve`.
    """

    def __init__(self, policy: NetworkPolicy, *, resolver: Resolver | None = None) -> None:
        self._policy = policy
        self._resolver = resolver or resolve

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results: list[ResolveResult] = []
        for address in await self.addresses(host, port):
            address = _unmap(address)
            results.append({"hostname": host, "host": str(address), "port": port,
                            "family": socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                            "proto": socket.IPPROTO_TCP, "flags": socket.AI_NUMERICHOST})
        return results

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The answers for `host` if every one may be connected to; else BlockedAddress or PlainHttpError."""
        literal = parse_ip_literal(host)
        addresses = [literal] if literal is not None else await self._lookup(host, port)
        self._policy.check_destination(host, port, addresses)  # all, before any connect
        if plain_http.get():
            self._policy.check_plain_http(host, port, addresses)
        return addresses

    async def _lookup(self, host: str, port: int) -> list[IPAddress]:
        try:
            with anyio.fail_after(DEFAULT_RESOLVE_TIMEOUT):
                answers = await self._resolver(host, port)
        except TimeoutError as exc:
            raise ResolveTimeout(host) from exc
        addresses = list(dict.fromkeys(_as_address(a) for a in answers))  # dedupe, keep order
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, f"could not resolve {host}")
        return addresses

    async def close(self) -> None:
        return None
