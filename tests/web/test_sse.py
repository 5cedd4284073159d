"""The event stream response: frames in order, pings while the model thinks, Stop cancels the source."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import anyio

from rolecall.web.sse import PING, EventStream, delta, event


async def test_frames_pings_and_end() -> None:
    async def frames() -> AsyncGenerator[bytes, None]:
        yield event("start", {"message_id": "m"})
        await anyio.sleep(0.35)  # the model thinks: pings keep the connection alive
        yield delta("Hé")

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await anyio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await EventStream(frames(), ping_seconds=0.1)({"type": "http"}, receive, send)
    assert sent[0]["type"] == "http.response.start" and dict(sent[0]["headers"])[b"content-type"].startswith(b"text/event-stream")
    bodies = [m["body"] for m in sent[1:]]
    assert bodies[0] == b'event: start\ndata: {"message_id":"m"}\n\n'
    assert bodies.count(PING) >= 2
    assert bodies[-2:] == ['event: delta\ndata: {"t":"Hé"}\n\n'.encode(), b""]
    assert sent[-1]["more_body"] is False


async def test_disconnect_cancels_the_source_at_once() -> None:
    cleaned: list[str] = []

    async def frames() -> AsyncGenerator[bytes, None]:
        try:
            yield delta("a")
            await anyio.sleep(30)  # waiting on the upstream
            yield delta("never")
        except BaseException as exc:
            cleaned.append(type(exc).__name__)
            raise

    async def receive() -> dict[str, Any]:
        await anyio.sleep(0.05)
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await EventStream(frames())({"type": "http"}, receive, send)
    assert cleaned == ["CancelledError"]
    assert [m.get("body") for m in sent[1:]] == [delta("a")]


async def test_a_failed_write_closes_the_source_before_returning() -> None:
    cleaned: list[str] = []

    async def inner() -> AsyncGenerator[bytes, None]:
        try:
            yield delta("a")
            yield delta("b")
        finally:
            cleaned.append("inner closed")

    async def frames() -> AsyncGenerator[bytes, None]:
        async with aclosing(inner()) as source:
            async for frame in source:
                yield frame

    async def receive() -> dict[str, Any]:
        await anyio.sleep(10)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message.get("body"):
            raise OSError("connection reset by peer")

    await EventStream(frames())({"type": "http"}, receive, send)
    assert cleaned == ["inner closed"]


async def test_a_ping_to_a_client_gone_ends_the_stream_quietly() -> None:
    """The client left without a disconnect message: the failed ping stops the watcher, the next
    frame's failed write ends the stream, and the source is closed. Nothing is raised."""
    cleaned: list[str] = []

    async def frames() -> AsyncGenerator[bytes, None]:
        try:
            yield delta("a")
            await anyio.sleep(0.3)  # the model thinks: a ping goes out, and fails
            yield delta("b")
            await anyio.sleep(30)
        finally:
            cleaned.append("closed")

    async def receive() -> dict[str, Any]:
        await anyio.sleep(30)
        return {"type": "http.disconnect"}

    written: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message.get("body") == PING:
            written.append(PING)
            raise OSError("connection reset by peer")
        if message.get("body") == delta("b"):
            raise OSError("connection reset by peer")
        written.append(message.get("body", b"head"))

    with anyio.fail_after(5):
        await EventStream(frames(), ping_seconds=0.1)({"type": "http"}, receive, send)
    assert written == [b"head", delta("a"), PING] and cleaned == ["closed"]
