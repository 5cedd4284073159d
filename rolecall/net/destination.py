"""Check a base URL against the network policy at save time, the way the guard will at connect.

"Save refuses what Test refuses": a Custom Base URL that points at a loopback or private
address, or that would carry a key over plain http:// to a destination the operator has not
allow-listed, is refused when it is typed, not at the first request. Same policy object, same
rules (`NetworkPolicy.check_destination`, `check_plain_http`); only the resolution differs: it
has a short deadline, and a name that does not resolve now is left to the guard at connect time
(DNS changes, and the guard checks every connection anyway).
"""

from __future__ import annotations

import anyio
import httpx

from rolecall.net.guard import IPAddress, NetworkPolicy, Resolver, parse_ip_literal, resolve
from rolecall.net.urls import port_of

# Typing in a form must not wait on a slow resolver for long.
SAVE_RESOLVE_TIMEOUT = 3.0


async def check_base_url(
    policy: NetworkPolicy, url: str, *, resolver: Resolver | None = None, deadline: float = SAVE_RESOLVE_TIMEOUT,
) -> None:
    """Raise BlockedAddress or PlainHttpError if requests to `url` would be refused.

    `url` is an already validated base URL (`validate_base_url`). Literal IPs are judged
    without DNS; a name is resolved once, within `deadline` seconds.
    """
    parsed = httpx.URL(url)
    host = parsed.host
    port = port_of(parsed)
    literal = parse_ip_literal(host)
    addresses = [literal] if literal is not None else await _answers(host, port, resolver or resolve, deadline)
    policy.check_destination(host, port, addresses)
    if parsed.scheme == "http":
        policy.check_plain_http(host, port, addresses)


async def _answers(host: str, port: int, resolver: Resolver, deadline: float) -> list[IPAddress]:
    try:
        with anyio.fail_after(deadline):
            answers = await resolver(host, port)
    except (TimeoutError, OSError):
        return []  # unknown now: the guard decides at connect
    found: list[IPAddress] = []
    for answer in answers:
        address = answer if not isinstance(answer, str) else parse_ip_literal(answer)
        if address is not None:
            found.append(address)
    return found
