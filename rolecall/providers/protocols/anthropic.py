"""Anthropic Messages: `POST /messages` with named SSE events; `GET /models` with cursor paging.

Headers: `x-api-key` and `anthropic-version: 2023-06-01`. `system` is a top-level field and
`max_tokens` is required. Stream events: `message_start` (input usage),
`content_block_delta` with `text_delta` / `thinking_delta`, `message_delta` (stop_reason,
output usage), `message_stop`, `ping` (ignored) and `error` (mid-stream failure).

`anthropic_body()` and `anthropic_events()` are shared with the Vertex adapter, which sends the
same body (minus `model`, plus `anthropic_version`) to rawPredict / streamRawPredict.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx

from rolecall.providers.errors import ProviderError
from rolecall.providers.inband import from_stream_error
from rolecall.providers.jsontext import stream_chunk
from rolecall.providers.options import merge_body
from rolecall.providers.protocols.base import (
    BaseAdapter,
    EventParser,
    SamplerNames,
    drain,
    int_or_none,
    normalize_finish,
    samplers,
)
from rolecall.providers.sse import SSEEvent
from rolecall.providers.types import ChatEvent, ChatMessage, ChatRequest, ChatResult, Connection, ModelInfo, Usage

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; the preset usually sets it
PAGE_LIMIT = "1000"
SAMPLERS = SamplerNames(stop="stop_sequences")


def _content(message: ChatMessage) -> Any:
    """Plain text, or image blocks then the text block when the message carries images."""
    if not message.images:
        return message.content
    blocks: list[dict[str, Any]] = [
        {"type": "image", "source": {"type": "base64", "media_type": image.media_type, "data": image.data}}
        for image in message.images]
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    return blocks


def anthropic_body(conn: Connection, request: ChatRequest, model: str | None, stream: bool) -> dict[str, Any]:
    """The Messages body. `model=None` leaves it out (Vertex puts the model in the URL)."""
    system = "\n\n".join(m.content for m in request.messages if m.role == "system")
    body: dict[str, Any] = {
        "messages": [{"role": m.role, "content": _content(m)} for m in request.messages if m.role != "system"],
        **samplers(request, SAMPLERS),
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if model is not None:
        body["model"] = model
    if system:
        body["system"] = system
    if stream:
        body["stream"] = True
    return merge_body(body, conn.body, request.params)


def _usage(raw: Any, into: Usage | None = None) -> Usage:
    raw = raw if isinstance(raw, dict) else {}
    base = into or Usage()
    return Usage(
        int_or_none(raw.get("input_tokens")) if "input_tokens" in raw else base.input_tokens,
        int_or_none(raw.get("output_tokens")) if "output_tokens" in raw else base.output_tokens,
    )


def anthropic_result(data: Any, model: str) -> ChatResult:
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise ProviderError("bad_response", "The Messages answer had no content list.", status=200)
    text = "".join(b.get("text", "") for b in data["content"] if isinstance(b, dict) and b.get("type") == "text")
    thinking = "".join(b.get("thinking", "") for b in data["content"] if isinstance(b, dict) and b.get("type") == "thinking")
    return ChatResult(text, thinking, _usage(data.get("usage")), normalize_finish(data.get("stop_reason")), data.get("model") or model)


async def anthropic_events(
    events: AsyncIterator[SSEEvent], secrets: tuple[str, ...]
) -> AsyncGenerator[ChatEvent, None]:
    """Anthropic's named SSE events -> ChatEvents (text, reasoning, usage, finish)."""
    usage: Usage | None = None
    finish: str | None = None
    stopped = False
    async for event in events:
        data = stream_chunk(event.data)
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                yield ChatEvent("text", delta["text"])
            elif delta.get("type") == "thinking_delta" and delta.get("thinking"):
                yield ChatEvent("reasoning", delta["thinking"])
        elif kind == "message_start":
            usage = _usage((data.get("message") or {}).get("usage"), usage)
        elif kind == "message_delta":
            usage = _usage(data.get("usage"), usage)
            finish = (data.get("delta") or {}).get("stop_reason") or finish
        elif kind == "message_stop":
            stopped = True
            await drain(events)
            break
        elif kind == "error":
            raise from_stream_error(data, secrets=secrets)
    if not stopped:
        raise ProviderError("bad_response", "The stream ended before message_stop.")
    if usage is not None:
        yield ChatEvent("usage", usage=usage)
    yield ChatEvent("finish", finish_reason=normalize_finish(finish))


def model_info(item: dict[str, Any]) -> ModelInfo:
    caps = item.get("capabilities") if isinstance(item.get("capabilities"), dict) else {}

    def supported(*path: str) -> bool:
        node: Any = caps
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        return isinstance(node, dict) and node.get("supported") is True

    found = {
        "vision": supported("image_input"), "json": supported("structured_outputs"),
        "reasoning": supported("thinking"), "web_search": supported("server_tools", "web_search"),
    }
    return ModelInfo(
        id=item["id"], name=item.get("display_name"), context_window=int_or_none(item.get("max_input_tokens")),
        max_output=int_or_none(item.get("max_tokens")), capabilities=frozenset(k for k, v in found.items() if v),
    )


class Anthropic(BaseAdapter):
    async def auth_headers(self, conn: Connection, http: httpx.AsyncClient) -> dict[str, str]:
        return {**conn.provider.auth.headers(conn.key()), "anthropic-version": API_VERSION}

    async def list_models(self, conn: Connection, http: httpx.AsyncClient) -> list[ModelInfo]:
        models: list[ModelInfo] = []
        params = {"limit": PAGE_LIMIT}
        for _ in range(20):  # cursor paging; 20 pages of 1000 is far beyond any real list
            try:
                page = await self.send(conn, http, "GET", conn.base_url + "/models", params=params, probe=True)
            except ProviderError as exc:
                # A disabled key answers 404 here (trufflehog); behind a custom base URL a 404 is a path.
                if exc.kind == "not_found" and not conn.custom_base:
                    raise ProviderError("auth", exc.message, status=exc.status) from exc
                raise
            items = page.get("data") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise ProviderError("bad_response", "The models answer had no data list.", status=200)
            models += [model_info(i) for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]
            if not page.get("has_more") or not page.get("last_id"):
                break
            params = {"limit": PAGE_LIMIT, "after_id": str(page["last_id"])}
        return models

    async def chat(self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient) -> ChatResult:
        model = self.model_for(conn, request)
        data = await self.send(conn, http, "POST", conn.base_url + "/messages", json_body=anthropic_body(conn, request, model, False))
        return anthropic_result(data, model)

    async def chat_stream(
        self, conn: Connection, request: ChatRequest, model: str, http: httpx.AsyncClient
    ) -> tuple[AsyncGenerator[SSEEvent, None], EventParser]:
        body = anthropic_body(conn, request, model, True)
        return self.open_stream(conn, http, conn.base_url + "/messages", body), anthropic_events
