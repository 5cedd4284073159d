"""CSRF protection, the CSRF cookie and security headers.

Two independent checks guard every state-changing request (POST, PUT, PATCH, DELETE):

1. Fetch metadata / Origin, as in Go 1.25's CrossOriginProtection and datasette's csrf.py: a
   browser that says ``Sec-Fetch-Site: cross-site`` or sends an ``Origin`` other than ours is
   refused.
2. A double-submit token: the ``rc_csrf`` cookie (HttpOnly, SameSite=Lax, random) must be echoed
   in the ``X-CSRF-Token`` header (JavaScript reads it from ``<meta name="csrf-token">``) or in a
   ``csrf_token`` form field. Non-browser API clients fetch it once from ``GET /api/csrf``.

The check is one app-wide FastAPI dependency, so a new route cannot forget it.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "rc_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
TOKEN_ONLY_PREFIX = "/v1/"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class CsrfRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def csrf_token(request: Request) -> str:
    """The token this request's page should embed (set as a cookie by the middleware)."""
    token: str = request.scope["rolecall.csrf"]
    return token


async def csrf_protect(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    if request.scope["path"].startswith(TOKEN_ONLY_PREFIX):  # not `request.url.path`: it builds a URL object
        # The OpenAI-compatible API reads a bearer token and never a cookie: a forged cross-site
        # request carries no credential there, and its clients (SDKs, scripts) have no CSRF token.
        return
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CsrfRefused("Cross-site request refused.")
    origin = request.headers.get("origin")
    if origin and origin != "null" and not _same_origin(origin, request):
        raise CsrfRefused("Request from another site refused.")
    expected = request.cookies.get(CSRF_COOKIE)
    supplied: object = request.headers.get(CSRF_HEADER)
    if supplied is None and _is_form(request):
        supplied = (await request.form()).get(CSRF_FIELD)
    if not expected or not isinstance(supplied, str) or not hmac.compare_digest(expected, supplied):
        raise CsrfRefused("The form expired or lacked its security token. Reload the page and try again.")


def _same_origin(origin: str, request: Request) -> bool:
    parts = urlsplit(origin)
    return parts.scheme == request.url.scheme and parts.netloc == request.headers.get("host", request.url.netloc)


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def cookie_is_secure(mode: str, scheme: str) -> bool:
    return mode == "always" or (mode == "auto" and scheme == "https")


class SecurityMiddleware:
    """Gives every visitor a CSRF cookie and every response the security headers."""

    def __init__(self, app: ASGIApp, *, cookie_secure: str) -> None:
        self.app = app
        self.cookie_secure = cookie_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        existing = _cookie(scope, CSRF_COOKIE)
        token = existing or secrets.token_urlsafe(32)
        scope["rolecall.csrf"] = token
        secure = cookie_is_secure(self.cookie_secure, scope.get("scheme", "http"))
        private = not scope.get("path", "").startswith(PUBLIC_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS:
                    if name not in names:
                        headers.append((name, value))
                if private and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                if not existing:
                    cookie = f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax"
                    headers.append((b"set-cookie", (cookie + ("; Secure" if secure else "")).encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# Static assets are the same for everyone (revalidated by ETag). Every other answer may carry
# account data (configs, the encryption record with its wrapped key and salt, the CSRF token in a
# page) and must not be kept by the browser's or a proxy's cache: `Cache-Control: no-store`
# unless the route chose its own caching (the public BIP39 word list).
PUBLIC_PREFIXES = ("/static/",)

SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name and v:
                    return str(v)
    return None
