"""The static files (scripts, styles, the logo), served from memory ahead of the rest of the stack.

A page pulls six to nine of these at once, and the browser opens at most six connections to us:
each one's time is on the path to the page's first render. Through ``StaticFiles`` and the
middleware every file cost a stat, an open and a read in worker threads plus a gzip pass per
request. Here the files are read and gzipped once when the app is built (about 230 kB), and a
request is a dictionary lookup.

Same answers as before for the files it knows: ETag and Last-Modified (a matching
``If-None-Match`` gets 304), the security headers every response carries, gzip when accepted.
No CSRF cookie: these answers are the same for everyone and carry nothing of an account. Any
other path, method or file falls through to the app (its 404 page, the request guard).
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from rolecall.web.security import SECURITY_HEADERS

PREFIX = "/static/"
# Below this gzip saves less than a TCP packet; Starlette's GZipMiddleware used the same bound.
MIN_GZIP = 1024


@dataclass(frozen=True)
class _File:
    body: bytes
    gzipped: bytes | None
    etag: bytes
    headers: tuple[tuple[bytes, bytes], ...]


def _load(path: Path) -> _File:
    body = path.read_bytes()
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind.endswith(("javascript", "json", "+xml")):
        kind += "; charset=utf-8"
    squeezed = gzip.compress(body, 9, mtime=0) if len(body) >= MIN_GZIP else None
    etag = b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"'
    headers = ((b"content-type", kind.encode()), (b"etag", etag),
               (b"last-modified", formatdate(path.stat().st_mtime, usegmt=True).encode()),
               *SECURITY_HEADERS)
    return _File(body, squeezed if squeezed is not None and len(squeezed) < len(body) else None, etag, headers)


def load_dir(root: Path) -> dict[str, _File]:
    return {PREFIX + p.relative_to(root).as_posix(): _load(p) for p in sorted(root.rglob("*")) if p.is_file()}


class StaticFromMemory:
    def __init__(self, app: ASGIApp, *, files: dict[str, _File]) -> None:
        self.app = app
        self.files = files

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.files.get(scope["path"]) if scope["type"] == "http" else None
        if found is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        status, body, headers = 200, found.body, list(found.headers)
        if found.gzipped is not None:
            headers.append((b"vary", b"Accept-Encoding"))
        request_headers = scope["headers"]
        if any(k == b"if-none-match" and found.etag in v for k, v in request_headers):
            status, body = 304, b""
        elif found.gzipped is not None and any(k == b"accept-encoding" and b"gzip" in v for k, v in request_headers):
            body = found.gzipped
            headers.append((b"content-encoding", b"gzip"))
        if status == 200:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
