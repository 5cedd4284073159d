"""What every request must meet before any route runs: body size, header count, no NUL, JSON depth.

One ASGI layer at the edge, so no route can forget it:

* Bodies are capped (``max_request_bytes``, 256 KiB by default; a few routes that carry many
  sealed keys at once get more). A larger ``Content-Length`` is refused before a byte is read;
  a chunked body is counted as it arrives. The body is buffered (it is small) and replayed.
* More than ``MAX_HEADERS`` request headers: 431. The header block's size is bounded by the
  server's parser itself (``web.http_protocol``, 16 KiB, in ``app.SERVER_LIMITS``).
* A NUL character in the path, the query or the body (raw, ``%00`` in a form, ``\\u0000`` in JSON)
  is refused with 400 on both databases alike: PostgreSQL cannot store it in text and would
  answer with a 500, SQLite would store it silently.
* A JSON body nested deeper than ``MAX_JSON_DEPTH`` is refused with 400 before anything parses it
  (the decoder recurses once per level).

Refusals use the one error shape (``web.errors.respond``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rolecall.providers.jsontext import deeper_than
from rolecall.web.errors import respond

MAX_HEADERS = 100
MAX_JSON_DEPTH = 64

NUL_MESSAGE = "Text can't contain the NUL character (\\u0000). Remove it and try again."
# \u0000 in JSON text, unless its backslash is itself escaped (an odd number of backslashes).
_JSON_NUL = re.compile(rb"(?:^|[^\\])(?:\\\\)*\\u0000")


class BodyTooLarge(Exception):
    pass


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_body = max_body
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_body)
        refusal = _check_head(scope, limit)
        if refusal is None:
            try:
                body = await _read_body(receive, limit)
            except BodyTooLarge:
                refusal = _too_large(limit)
            else:
                refusal = _check_body(scope, body)
        if refusal is not None:
            status, code, message = refusal
            await respond(Request(scope), status, code, message)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _too_large(limit: int) -> tuple[int, str, str]:
    return 413, "too_large", f"This request is larger than the {limit // 1024} KiB this server accepts."


def _check_head(scope: Scope, limit: int) -> tuple[int, str, str] | None:
    headers = scope["headers"]
    if len(headers) > MAX_HEADERS:
        return 431, "too_many_headers", f"This request has more than {MAX_HEADERS} headers."
    if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"") or b"\x00" in scope.get("query_string", b""):
        return 400, "invalid", NUL_MESSAGE
    for name, value in headers:
        if name == b"content-length":
            if not value.isdigit():
                return 400, "invalid", "The Content-Length header is not a number."
            if int(value) > limit:
                return _too_large(limit)
    return None


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _check_body(scope: Scope, body: bytes) -> tuple[int, str, str] | None:
    if not body:
        return None
    kind = next((v for k, v in scope["headers"] if k == b"content-type"), b"").lower()
    if b"\x00" in body or (b"urlencoded" in kind and b"%00" in body) or (b"json" in kind and _JSON_NUL.search(body)):
        return 400, "invalid", NUL_MESSAGE
    if b"json" in kind and deeper_than(body.decode("utf-8", "replace"), MAX_JSON_DEPTH):
        return 400, "invalid", f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body, wait for the disconnect as usual

    return replay
