"""Server-sent events for the streams (a scene's reply, a group's live events, /v1's streamed
completions): `EventStream`, a small ASGI response.

Why not Starlette's `StreamingResponse`: on ASGI 2.4 servers it only learns that the client left
when a write fails, so a Stop while the model is still thinking would go unnoticed until the next
chunk. This response watches for `http.disconnect` the whole time and cancels the stream at once,
which cancels the upstream call (its connection is closed) and lets the generator keep the
partial reply. It also sends a `: ping` comment every `ping_seconds` so proxies keep the
connection open while a model thinks.

Wire format: ``event: <name>`` and one ``data:`` line of compact JSON per event. A `delta` is
``{"t": "<text>"}`` and nothing else: the hot path encodes one small string per chunk.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from contextlib import aclosing

import anyio
from starlette.background import BackgroundTask
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

PING = b": ping\n\n"
_DELTA = b'event: delta\ndata: {"t":'
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-store"),
    (b"x-accel-buffering", b"no"),  # nginx: do not buffer the stream
]


def delta(text: str) -> bytes:
    # Encoding the string alone takes the encoder's fast path; a one-key dict builds a C encoder
    # per call and cost ~10x as much per chunk.
    return _DELTA + _dumps(text).encode() + b"}\n\n"


async def first_text_out() -> None:
    """Let the first text leave before the stream goes on. `rolecall serve` sends what one turn of
    the event loop wrote as one write at the end of the turn (`web/http_protocol.py`); an upstream
    read often holds many chunks, and relaying them all (and the reply row's write after the first
    one) within the same turn kept the first text waiting for the lot."""
    await anyio.lowlevel.checkpoint()


def event(name: str, data: object) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + _dumps(data).encode() + b"\n\n"


class EventStream(Response):
    """A response streaming pre-encoded SSE frames from ``frames``."""

    media_type = "text/event-stream"

    def __init__(self, frames: AsyncGenerator[bytes, None], status_code: int = 200, *, ping_seconds: float = 15.0) -> None:
        # Response.__init__ would add a content-length; a stream has none.
        self.frames = frames
        self.ping_seconds = ping_seconds
        self.status_code = status_code
        self.background: BackgroundTask | None = None
        self.raw_headers = list(HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        # Pings and frames must not be written at once. A lock would cost a checkpoint per chunk;
        # instead the watcher only pings while the pump waits for its next frame, and the pump
        # waits (rarely: a ping stuck behind a slow client) until a ping in flight is done.
        state = _Writes()
        stop = anyio.CancelScope()
        # One plain asyncio task watches and pings: an anyio task group of two cost ~0.1 ms per
        # stream, most of it before the first frame left (docs/decisions.md, "The stream's head").
        watcher = asyncio.get_running_loop().create_task(self._watch(receive, send, stop, state))
        try:
            with stop:
                async with aclosing(self.frames) as frames:
                    async for frame in frames:
                        await state.write(send, frame)
                await state.write(send, b"", more_body=False)
        except OSError:
            pass  # the client went away while we wrote: same as a Stop
        finally:
            watcher.cancel()
            await asyncio.wait((watcher,))  # it never writes once this returns

    async def _watch(self, receive: Receive, send: Send, stop: anyio.CancelScope, state: _Writes) -> None:
        """Cancel the stream when the client leaves; ping every `ping_seconds` it stays quiet."""
        while True:
            try:
                async with asyncio.timeout(self.ping_seconds):
                    message = await receive()
            except TimeoutError:
                if state.writing:
                    continue  # a frame is being written: the stream is alive anyway
                try:
                    await state.ping(send)
                except OSError:
                    return  # the client is gone: the pump's next write (or the disconnect) ends the stream
                continue
            if message["type"] == "http.disconnect":
                stop.cancel()
                return


class _Writes:
    """Who is writing: the pump (a frame) or the watcher (a ping), never both at once."""

    __slots__ = ("ping_done", "pinging", "writing")

    def __init__(self) -> None:
        self.writing = False
        self.pinging = False
        self.ping_done = anyio.Event()

    async def write(self, send: Send, body: bytes, *, more_body: bool = True) -> None:
        if self.pinging:
            await self.ping_done.wait()
        self.writing = True
        await send({"type": "http.response.body", "body": body, "more_body": more_body})
        self.writing = not more_body  # after the last body nothing may follow, a ping included

    async def ping(self, send: Send) -> None:
        self.pinging, self.ping_done = True, anyio.Event()
        try:
            await send({"type": "http.response.body", "body": PING, "more_body": True})
        finally:
            self.pinging = False
            self.ping_done.set()
