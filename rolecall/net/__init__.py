"""The one outbound HTTP client: SSRF guard, pinned IPs, timeouts, size caps.

See docs/security.md, "Outbound requests and SSRF". Imports nothing from the rest of rolecall.
"""

from rolecall.net.client import GuardedClient, make_client
from rolecall.net.destination import check_base_url
from rolecall.net.errors import BlockedAddress, InvalidURL, NetError, PlainHttpError, ResponseTooLarge
from rolecall.net.guard import NetworkPolicy
from rolecall.net.transport import Reply
from rolecall.net.urls import origin_of, validate_base_url

__all__ = [
    "BlockedAddress",
    "GuardedClient",
    "InvalidURL",
    "NetError",
    "NetworkPolicy",
    "PlainHttpError",
    "Reply",
    "ResponseTooLarge",
    "check_base_url",
    "make_client",
    "origin_of",
    "validate_base_url",
]
