"""uvicorn's httptools protocol with a bound on the request line and header block.

httptools (a C parser) costs a few microseconds less than h11 per response chunk written, which
a relayed stream pays once per chunk; but uvicorn offers a header-size bound only for h11
(``h11_max_incomplete_event_size``). This subclass refuses a request whose head passes
``MAX_HEADER_BYTES`` with a 400 and a closed connection before the app runs, as h11 did. Two
counts, because httptools hands a header over only once it is complete: the URL and header
bytes as the parser delivers them, and the bytes received while the head is still incomplete
(so one endless header cannot grow the parser's buffer without bound either).

It also writes a response's pieces that are sent in one turn of the event loop as one `send`
(`_OneSend`): the head with the first frame, a stream's last frame with the chunked end. Each
write is a syscall and a wake-up of the reader; a streamed reply made four or five per request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEADER_BYTES = 16 * 1024  # nginx's default large_client_header_buffers
TOO_LARGE = "Request header block too large."


class HeaderBlockTooLarge(Exception):
    """Raised inside a parser callback: httptools turns it into an `HttpParserCallbackError`,
    which uvicorn answers with 400 and a closed connection."""


class CappedHttpTools(HttpToolsProtocol):
    _head_open = True  # a connection starts by waiting for a request head
    _parsed = 0  # URL and header bytes the parser delivered for this request
    _received = 0  # bytes of chunks that arrived (and ended) while the head was incomplete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Reads, flow control and addresses stay on the real transport (uvicorn took them above).
        self.transport = _OneSend(transport, self.loop)  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        within_head = self._head_open
        super().data_received(data)
        if within_head and self._head_open and not self.transport.is_closing():
            self._received += len(data)  # the whole chunk belongs to an unfinished head
            if self._received > MAX_HEADER_BYTES:
                self.send_400_response(TOO_LARGE)

    def on_message_begin(self) -> None:
        self._head_open, self._parsed, self._received = True, 0, 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF, as on the wire
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_open, self._parsed, self._received = True, 0, 0

    def _count(self, size: int) -> None:
        self._parsed += size
        if self._parsed > MAX_HEADER_BYTES:
            raise HeaderBlockTooLarge


class _OneSend:
    """A transport whose writes within one turn of the event loop leave together, at the end of
    the turn (or at once when it is closed)."""

    __slots__ = ("_loop", "_parts", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._parts:
            self._loop.call_soon(self._flush)
        self._parts.append(data)

    def _flush(self) -> None:
        parts, self._parts = self._parts, []
        if parts and not self._transport.is_closing():
            self._transport.write(parts[0] if len(parts) == 1 else b"".join(parts))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
