"""Base-URL validation at config-save time, and the origin the key vault binds to.

Design (docs/security.md, "Outbound requests and SSRF"): one
parser (httpx.URL, the one that will make the request) parses the URL once;
everything that lets two parsers disagree is refused rather than repaired
(userinfo, fragments, backslashes, whitespace and control characters, query
strings), and the stored form is normalized (IDNA host, canonical IP literal,
no default port, no trailing slash) so the person sees where the key will
really go. Passing here does not make a destination allowed: the guard checks
the resolved address again at every connect, because DNS changes.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata

import httpx

from rolecall.net.errors import InvalidURL
from rolecall.net.guard import parse_ip_literal

MAX_URL_LENGTH = 2048

_SCHEMES = ("http://", "https://")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
# Categories refused anywhere in a URL: controls, invisible format characters
# (zero-width, bidi overrides) and separators; plus any Unicode whitespace.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zs", "Zl", "Zp"})


def validate_base_url(url: str) -> str:
    """Return the normalized form of a user-supplied base URL, or raise InvalidURL."""
    text = url.strip()
    if not text:
        raise InvalidURL("The URL is empty.")
    if len(text) > MAX_URL_LENGTH:
        raise InvalidURL(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    _refuse_ambiguous_text(text)
    parsed = _parse(text)
    host = _normalized_host(parsed)
    if parsed.query or "?" in text:
        # Adapters append paths ("/chat/completions") to the base URL.
        raise InvalidURL("The URL must not contain a query string (?...).")
    path = parsed.raw_path.decode("ascii").rstrip("/")
    return f"{parsed.scheme}://{host}{_port_suffix(parsed)}{path}"


@functools.lru_cache(maxsize=1024)
def origin_of(url: str) -> str:
    """"scheme://host[:port]" of a URL, default port dropped, host normalized.

    Cached: every provider call asks it of its config's base URL (for the per-destination slot),
    and parsing costs ~10 µs. A URL that is not valid raises each time (nothing is cached)."""
    parsed = _parse(url.strip())
    return f"{parsed.scheme}://{_normalized_host(parsed)}{_port_suffix(parsed)}"


def _refuse_ambiguous_text(text: str) -> None:
    if not text.lower().startswith(_SCHEMES):
        raise InvalidURL("The URL must start with http:// or https://.")
    for position, char in enumerate(text, start=1):
        if char.isspace() or unicodedata.category(char) in _BAD_CATEGORIES:
            raise InvalidURL(f"The URL contains a space or control character (position {position}).")
    if "\\" in text:
        raise InvalidURL("The URL must not contain a backslash.")
    if "#" in text:
        raise InvalidURL("The URL must not contain a fragment (#...).")
    authority = re.split(r"[/?#]", text.split("://", 1)[1], maxsplit=1)[0]
    if "@" in authority:
        raise InvalidURL("The URL must not contain a user name or password (user:pass@).")


def _parse(text: str) -> httpx.URL:
    try:
        parsed = httpx.URL(text)
    except httpx.InvalidURL as exc:
        raise InvalidURL(f"The URL is not valid: {exc}.") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidURL("The URL must start with http:// or https://.")
    if not parsed.raw_host:
        raise InvalidURL("The URL has no host name.")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise InvalidURL("The port must be between 1 and 65535.")
    return parsed


def _normalized_host(parsed: httpx.URL) -> str:
    """IDNA (ASCII) host; IP literals in canonical form (so "127.1" shows as 127.0.0.1)."""
    host = parsed.raw_host.decode("ascii")  # httpx has already IDNA-encoded and lowercased it
    if "%" in host:
        raise InvalidURL("The host must not contain '%' (percent-encoding or an IPv6 zone id).")
    literal = parse_ip_literal(host)
    if isinstance(literal, ipaddress.IPv6Address):
        return f"[{literal.compressed}]"
    if literal is not None:
        return str(literal)
    host = host.rstrip(".")  # "example.com." is the same DNS name; keep one spelling
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidURL(f"The host name {host!r} is not a valid domain name.")
    return host


def port_of(url: httpx.URL) -> int:
    """The port a request to `url` goes to (httpx leaves out a scheme's default port)."""
    return url.port or _DEFAULT_PORTS[url.scheme]


def _port_suffix(parsed: httpx.URL) -> str:
    # httpx drops default ports, but not when the scheme was written in capitals.
    if parsed.port is None or parsed.port == _DEFAULT_PORTS[parsed.scheme]:
        return ""
    return f":{parsed.port}"
