"""Cohere v2 chat: `POST /v2/chat` (JSON or typed SSE events); models at `GET /v1/models`.

* Models: `{models: [{name, endpoints, context_length, features, ...}], next_page_token}`,
  asked with `endpoint=chat` so only chat models come back. The `features` vocabulary is
  UNCONFIRMED; the names mapped below are the likely ones.
* Stream events carry a `type`: message-start, content-start, content-delta
  (`delta.message.content.text`, or `.thinking` for reasoning models), content-end,
  tool-*/citation-* (ignored here), message-end (`delta.finish_reason`, `delta.usage`, and
  `delta.error` when generation failed). There is no `[DONE]`.
* Samplers are called `p` and `k`; errors are `{"message": ...}`; 498 means an invalid token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx

from rolecall.providers.errors import ProviderError, clip, redact
from rolecall.providers.inband import kind_from_text
from rolecall.providers.jsontext import stream_chunk
from rolecall.providers.options import merge_body
from rolecall.providers.protocols.base import BaseAdapter, SamplerNames, drain, int_or_none, normalize_finish, samplers
from rolecall.providers.types import ChatEvent, ChatRequest, ChatResult, Connection, ModelInfo, ModelsEndpoint, Usage

FEATURES = {"vision": "vision", "tools": "tools", "strict_tools": "tools", "json_mode": "json", "json_schema": "json",
            "reasoning": "reasoning"}
SAMPLERS = SamplerNames(top_p="p", stop="stop_sequences")


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    tokens = raw.get("tokens") if isinstance(raw.get("tokens"), dict) else raw.get("billed_units")
    if not isinstance(tokens, dict):
        return None
    return Usage(int_or_none(tokens.get("input_tokens")), int_or_none(tokens.get("output_tokens")))


def _model(item: dict[str, Any]) -> ModelInfo | None:
    name = item.get("name")
    if not isinstance(name, str):
        return None
    features = item.get("features")
    if not isinstance(features, list):
        features = []
    return ModelInfo(id=name, context_window=int_or_none(item.get("context_length")),
                     capabilities=frozenset(FEATURES[f] for f in features if f in FEATURES))


# Older finish reasons that name the failure themselves.
_ERROR_FINISH = {"ERROR_TOXIC": "refused", "ERROR_LIMIT": "context_too_long"}


def end_error(end: dict[str, Any], secrets: tuple[str, ...]) -> ProviderError:
    """A message-end that reports a failure: Cohere only sends text, so its words pick the kind."""
    message = str(end.get("error") or "Generation failed at the provider.")
    kind = _ERROR_FINISH.get(str(end.get("finish_reason", "")).upper()) or kind_from_text(message) or "unavailable"
    return ProviderError(kind, clip(redact(message, secrets)))


class Cohere(BaseAdapter):
    def kind_override(self, conn: Connection, status: int, content: bytes) -> str | None:
        return "auth" if status == 498 else None  # Cohere's "invalid token" status

    def body(self, conn: Connection, request: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model, "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": stream, **samplers(request, SAMPLERS),
        }
        return merge_body(body, conn.body, request.params)

    async def list_models(self, conn: Connection, http: httpx.AsyncClient) -> list[ModelInfo]:
        source = conn.provider.models
        params = dict(source.query) if isinstance(source, ModelsEndpoint) else {}
        path = source.path if isinstance(source, ModelsEndpoint) else "/v1/models"
        models: list[ModelInfo] = []
        for _ in range(20):
            page = await self.send(conn, http, "GET", conn.base_url + path, params=params, probe=True)
            items = page.get("models") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise ProviderError("bad_response", "The models answer had no models list.", status=200)
            models += [m for m in (_model(i) for i in items if isinstance(i, dict)) if m is not None]
            if not page.get("next_page_token"):
                break
            params = dict(params, page_token=str(page["next_page_token"]))
        return models

    async def chat(self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient) -> ChatResult:
        model = self.model_for(conn, request)
        data = await self.send(conn, http, "POST", conn.base_url + "/v2/chat", json_body=self.body(conn, request, model, False))
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, dict):
            raise ProviderError("bad_response", "The chat answer had no message.", status=200)
        blocks = [b for b in message.get("content") or () if isinstance(b, dict)]
        text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
        thinking = "".join(b.get("thinking", "") for b in blocks if b.get("type") == "thinking")
        return ChatResult(text, thinking, _usage(data.get("usage")), normalize_finish(data.get("finish_reason")), model)

    async def stream_chat(
        self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient
    ) -> AsyncIterator[ChatEvent]:
        model = self.model_for(conn, request)
        stream = self.open_stream(conn, http, conn.base_url + "/v2/chat", self.body(conn, request, model, True))
        end: dict[str, Any] | None = None
        async with aclosing(stream) as events:
            with self.mapped(conn):
                async for event in events:
                    data = stream_chunk(event.data)
                    kind = data.get("type") if isinstance(data, dict) else None
                    if kind == "content-delta":
                        content = ((data.get("delta") or {}).get("message") or {}).get("content") or {}
                        if content.get("thinking"):
                            yield ChatEvent("reasoning", content["thinking"])
                        if content.get("text"):
                            yield ChatEvent("text", content["text"])
                    elif kind == "message-end":
                        end = data.get("delta") or {}
                        await drain(events)
                        break
        if end is None:
            raise ProviderError("bad_response", "The stream ended before message-end.")
        if end.get("error") or str(end.get("finish_reason", "")).upper().startswith("ERROR"):
            raise end_error(end, conn.secrets())
        usage = _usage(end.get("usage"))
        if usage is not None:
            yield ChatEvent("usage", usage=usage)
        yield ChatEvent("finish", finish_reason=normalize_finish(end.get("finish_reason")))
