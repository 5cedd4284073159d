"""FakeServer: a real HTTP server on 127.0.0.1 (a port of its own) in a background thread.

A Starlette app under uvicorn, in the shape of httpx's `TestServer` and aisuite's `FakeSlack`
(docs/architecture.md, "Tests and benchmarks"). Protocol fakes subclass it and add routes; tests steer it through a
small control API and read back what arrived:

* `.url`: `http://127.0.0.1:<port>` (protocol fakes add `.base_url` where a path prefix applies)
* `.requests`: every request as `Recorded(method, path, query, headers, body)`, oldest first
* `.fail_next(status, body=None, headers=None, path=None, times=1)`: the next matching request(s)
  get this answer instead of the normal one
* `.plan`: stream controls (`first_byte_delay`, `chunk_delay`, `break_after`, `malformed_at`,
  `batch`), applied by `sse()` to any streamed answer
* `.streams_abandoned` / `.abandoned` (a threading.Event): streams whose client closed the
  connection before the last frame (a Stop must close the upstream call)
* `.reset()`: back to the defaults (fixtures call it between tests)

Servers start once per test session (startup and shutdown cost ~0.2 s each) and are reset
before every test by the fixtures in `tests/fakes/fixtures.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute

# Keys the fakes accept; anything else is answered the way the real provider answers a bad key.
VALID_KEY = "sk-test-VALID-0123456789abcdefghijklmnop"


class StreamCut(Exception):
    """Raised inside a streamed answer to drop the connection mid-stream (uvicorn closes it)."""


class _QuietCuts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, (StreamCut, asyncio.CancelledError))


logging.getLogger("uvicorn.error").addFilter(_QuietCuts())


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    raw_path: str = ""  # as sent, percent-escapes intact

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Failure:
    status: int
    body: Any
    headers: dict[str, str]
    path: str | None
    times: int


@dataclass
class StreamPlan:
    """How the next streamed answers misbehave. Indexes count SSE frames from 0."""

    first_byte_delay: float = 0.0  # seconds before the response starts
    chunk_delay: float = 0.0  # seconds between frames
    break_after: int | None = None  # drop the connection after this many frames
    malformed_at: int | None = None  # replace this frame with broken JSON
    batch: int = 1  # frames per write (the benchmark sends many per write)


@dataclass
class Reply:
    """What the fake model answers (protocol fakes render it in their wire format)."""

    text: str = "Hello there, traveller. The tavern is warm tonight."
    reasoning: str = ""
    finish: str = "stop"
    input_tokens: int = 12
    output_tokens: int = 9
    model: str | None = None  # echo the request's model when None

    def pieces(self, text: str) -> list[str]:
        """Split like a tokenizer would, roughly: one word (with its leading space) per piece."""
        words = text.split(" ")
        return [words[0]] + [" " + w for w in words[1:]] if text else []


class FakeServer:
    """Base class: subclasses implement `routes()`; see the module docstring for the controls."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.keys: set[str] = {VALID_KEY}
        self.reply = Reply()
        self.plan = StreamPlan()
        self._failures: deque[Failure] = deque()
        # Streams whose client hung up before the last frame (Stop must close the upstream call).
        self.streams_abandoned = 0
        self.abandoned = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = 0
        self.reset_protocol()

    # --- lifecycle -----------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    def start(self) -> FakeServer:
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose proto
        # says TCP, and without it every keep-alive response waits ~40 ms (Nagle + delayed ACK).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self._asgi, lifespan="off", log_config=None, log_level="warning", access_log=False,
            loop="asyncio", interface="asgi3", timeout_graceful_shutdown=1, timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._server = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- control API ---------------------------------------------------------------------------

    def reset(self) -> None:
        self.requests.clear()
        self._failures.clear()
        self.keys = {VALID_KEY}
        self.reply = Reply()
        self.plan = StreamPlan()
        self.streams_abandoned = 0
        self.abandoned.clear()
        self.reset_protocol()

    def reset_protocol(self) -> None:
        """Subclasses set and restore their own state (model lists, switches); called by `__init__`
        and `reset()`."""

    def fail_next(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None,
        *, path: str | None = None, times: int = 1,
    ) -> None:
        """Answer the next `times` requests (whose path contains `path`, if given) with this.

        `body` may be bytes, text, a JSON-able object, or None for the protocol's own error shape.
        """
        self._failures.append(Failure(status, body, dict(headers or {}), path, times))

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    def error_body(self, status: int, message: str) -> Any:
        """The provider's error JSON for `status` (protocol fakes override)."""
        return {"error": {"message": message, "type": "error", "code": status}}

    # --- helpers for protocol fakes ------------------------------------------------------------

    def sse(self, frames: Iterable[bytes], *, malformed: bytes = b'data: {"broken": \n\n') -> Response:
        """Stream pre-encoded SSE frames, applying `.plan` (delays, cuts, malformed frames)."""
        plan = self.plan
        frames = list(frames)

        async def body() -> AsyncIterator[bytes]:
            finished = False
            try:
                async for chunk in frames_of():
                    yield chunk
                finished = True
            except StreamCut:
                finished = True  # our own cut, not the client leaving
                raise
            finally:
                if not finished:
                    self.streams_abandoned += 1
                    self.abandoned.set()

        async def frames_of() -> AsyncIterator[bytes]:
            batch: list[bytes] = []
            for index, frame in enumerate(frames):
                if plan.break_after is not None and index >= plan.break_after:
                    if batch:
                        yield b"".join(batch)
                    await asyncio.sleep(0.05)  # let the client read what it got first
                    raise StreamCut()
                batch.append(malformed if index == plan.malformed_at else frame)
                if len(batch) >= plan.batch:
                    yield b"".join(batch)
                    batch = []
                    if plan.chunk_delay:
                        await asyncio.sleep(plan.chunk_delay)
            if batch:
                yield b"".join(batch)

        return StreamingResponse(body(), media_type="text/event-stream", headers={"cache-control": "no-cache"})

    @staticmethod
    def drip(body: bytes, interval: float) -> Response:
        """Send ``body`` one byte every ``interval`` seconds (each byte resets a between-bytes timeout)."""

        async def trickle() -> AsyncIterator[bytes]:
            for index in range(len(body)):
                yield body[index:index + 1]
                await asyncio.sleep(interval)

        return StreamingResponse(trickle(), media_type="application/json")

    async def delay_first_byte(self) -> None:
        if self.plan.first_byte_delay:
            await asyncio.sleep(self.plan.first_byte_delay)

    # --- the ASGI app ------------------------------------------------------------------------

    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if not hasattr(self, "_app"):
            self._app = Starlette(routes=self.routes())
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        self.requests.append(Recorded(scope["method"], scope["path"], query, headers, bytes(body), raw_path))
        failure = self._take_failure(scope["path"])
        if failure is not None:
            await self._failure_response(failure)(scope, receive, send)
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()  # later calls wait for the disconnect, as Starlette expects

        await self._app(scope, replay, send)

    def _take_failure(self, path: str) -> Failure | None:
        for failure in self._failures:
            if failure.path is None or failure.path in path:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    def _failure_response(self, failure: Failure) -> Response:
        body = failure.body
        if body is None:
            body = self.error_body(failure.status, f"fake error {failure.status}")
        if isinstance(body, (bytes, str)):
            return Response(body, status_code=failure.status, headers=failure.headers)
        return JSONResponse(body, status_code=failure.status, headers=failure.headers)

    # --- auth helpers --------------------------------------------------------------------------

    @staticmethod
    def bearer(request: Request) -> str | None:
        value = request.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else None


def sse_frame(data: Any, event: str | None = None) -> bytes:
    """One SSE frame: optional `event:` line, one `data:` line of compact JSON (or raw text)."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


def now() -> int:
    return int(time.time())


__all__ = [
    "VALID_KEY", "FakeServer", "Failure", "Recorded", "Reply", "StreamCut", "StreamPlan",
    "now", "sse_frame",
]
