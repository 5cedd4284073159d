"""Small helpers shared by the adapter tests."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

from rolecall.providers import ChatEvent, ChatMessage, ChatRequest, ProviderError
from tests.fakes.server import VALID_KEY, Recorded

KEY = VALID_KEY
BAD_KEY = "sk-test-WRONG-zyxwvutsrqponmlkjihgfedcba"
HELLO = ChatRequest(messages=(ChatMessage("system", "You are a bard."), ChatMessage("user", "Sing!")), max_tokens=64)


def free_port() -> int:
    """A loopback port nobody listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def collect(events: AsyncIterator[ChatEvent]) -> list[ChatEvent]:
    return [e async for e in events]


async def collect_until_error(events: AsyncIterator[ChatEvent]) -> tuple[list[ChatEvent], ProviderError]:
    """The events a stream yielded before it failed, and the failure (a stream that ends cleanly
    fails the test)."""
    seen: list[ChatEvent] = []
    try:
        async for event in events:
            seen.append(event)
    except ProviderError as exc:
        return seen, exc
    raise AssertionError(f"the stream ended without an error after {len(seen)} events")


def text_of(events: list[ChatEvent], kind: str = "text") -> str:
    return "".join(e.text for e in events if e.kind == kind)


def assert_key_only_in(request: Recorded, header: str, key: str = KEY) -> None:
    """The key arrived in exactly this header, and nowhere else (URL, query, other headers, body)."""
    assert key in request.headers[header]
    others = {k: v for k, v in request.headers.items() if k != header}
    assert all(key not in v for v in others.values()), others
    assert key not in request.path and all(key not in v for v in request.query.values())
    assert key.encode() not in request.body
