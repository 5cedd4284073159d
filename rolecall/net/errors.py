"""Errors raised by `rolecall.net`.

They are deliberately *not* subclasses of `httpx.HTTPError`: a caller that maps
transport failures to "the provider is unreachable" must not swallow a refused
destination, whose message tells the person what to do instead. Messages may
name the host and address, never a credential (the net layer never sees one in
a form it would print).
"""

from __future__ import annotations

# The product guide's answer to "Can I use a local model?" (spec FAQ), shown
# whenever a loopback or private address is refused.
LOCAL_MODEL_ADVICE = (
    "RoleCall's servers make every request server-side, so 'localhost' (or a "
    "home-network address) means the RoleCall server itself, not your machine. "
    "Expose your local model through a public address or a tunnel (Cloudflare "
    "Tunnel, ngrok, Tailscale Funnel, or a public reverse proxy) and paste the "
    "public HTTPS URL into Base URL. If you operate this RoleCall server, you can "
    "allow private ranges in its settings (network.allow_private)."
)

# Kinds of address for which the local-model advice applies.
_ADVICE_KINDS = frozenset({"loopback", "private", "unspecified", "shared (CGNAT)", "link-local"})


class NetError(Exception):
    """Base class of every error raised by `rolecall.net`."""


class BlockedAddress(NetError):
    """The destination resolves to an address the network policy refuses.

    Raised before any connection is attempted.
    """

    def __init__(self, host: str, ip: str, kind: str) -> None:
        self.host = host
        self.ip = ip
        self.kind = kind
        super().__init__(self._message())

    def _message(self) -> str:
        where = self.ip if self.host in ("", self.ip) else f"{self.host} ({self.ip})"
        article = "an" if self.kind[0].lower() in "aeiou" else "a"
        text = f"Destination not allowed: {where} is {article} {self.kind} address, not a public one."
        if self.kind in _ADVICE_KINDS:
            text += " " + LOCAL_MODEL_ADVICE
        elif self.kind == "cloud metadata":
            text += " Cloud metadata services are never reachable from RoleCall."
        return text


class PlainHttpError(NetError):
    """A plain http:// request to a destination the operator has not allow-listed.

    Provider keys travel in request headers; over plain HTTP anyone on the path can read them.
    """

    def __init__(self, host: str) -> None:
        self.host = host
        super().__init__(
            f"Plain http:// would send your key unencrypted to {host}. Use the https:// address instead "
            "(providers and tunnels such as Cloudflare Tunnel, ngrok or Tailscale Funnel give you one). Plain "
            "http:// is only allowed for addresses the operator of this RoleCall server allow-lists "
            "(network.allow_private or network.allow_hosts)."
        )


class ResponseTooLarge(NetError):
    """The response body grew past the client's size cap while being read."""

    def __init__(self, host: str, limit: int) -> None:
        self.host = host
        self.limit = limit
        super().__init__(f"The response from {host} is larger than the {limit}-byte limit; reading stopped.")


class InvalidURL(NetError, ValueError):
    """A base URL failed validation; the message names the problem."""
