"""Gemini generateContent (Google AI Studio): paged model list, JSON and SSE chat.

* `GET {base}/models?pageSize=&pageToken=`: `{models: [{name: "models/<id>", displayName,
  inputTokenLimit, outputTokenLimit, supportedGenerationMethods, thinking}], nextPageToken}`;
  only models that support `generateContent` are kept.
* `POST {base}/models/{m}:generateContent`, or `:streamGenerateContent?alt=sse` to stream (each
  `data:` is a whole GenerateContentResponse; no terminator; the last one carries
  `finishReason` and `usageMetadata`). Parts with `thought: true` are reasoning.
* The key goes in `x-goog-api-key`, never in `?key=` (see auth.py). A bad key answers **400**
  `API_KEY_INVALID` (errors.BODY_MARKERS makes it `auth`); 403 is a valid key without access.

`gemini_body()`, `gemini_result()` and `gemini_events()` are shared with the Vertex adapter.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any
from urllib.parse import quote

import httpx

from rolecall.providers.errors import ProviderError
from rolecall.providers.inband import from_stream_error
from rolecall.providers.jsontext import stream_chunk
from rolecall.providers.options import RESERVED_BODY
from rolecall.providers.protocols.base import (
    BaseAdapter,
    EventParser,
    SamplerNames,
    int_or_none,
    normalize_finish,
    samplers,
)
from rolecall.providers.sse import SSEEvent
from rolecall.providers.types import ChatEvent, ChatRequest, ChatResult, Connection, ModelInfo, Usage

PAGE_SIZE = "1000"
SAMPLERS = SamplerNames(max_tokens="maxOutputTokens", top_p="topP", stop="stopSequences")
# Custom params with these names go to the top level of the body; any other name is a sampler
# and goes into generationConfig (so `top_k: 40` works as people expect).
TOP_LEVEL = frozenset({"systemInstruction", "safetySettings", "tools", "toolConfig", "generationConfig", "cachedContent", "labels"})


def model_path(model: str) -> str:
    """`models/<id>` with the id quoted, so a model id can never add path segments."""
    return "/models/" + quote(model.removeprefix("models/"), safe="")


def gemini_body(conn: Connection, request: ChatRequest) -> dict[str, Any]:
    system = "\n\n".join(m.content for m in request.messages if m.role == "system")
    body: dict[str, Any] = {"contents": [
        {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
        for m in request.messages if m.role != "system"
    ]}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}]}
    config = samplers(request, SAMPLERS)
    for source in (conn.body, request.params):
        for key, value in source.items():
            if key.lower() in RESERVED_BODY:
                continue
            if key == "generationConfig" and isinstance(value, dict):
                config.update(value)
            elif key in TOP_LEVEL:
                body[key] = value
            else:
                config[key] = value
    if config:
        body["generationConfig"] = config
    return body


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return Usage(int_or_none(raw.get("promptTokenCount")), int_or_none(raw.get("candidatesTokenCount")),
                 int_or_none(raw.get("thoughtsTokenCount")))


def _read(data: Any) -> tuple[str, str, str | None]:
    """(text, reasoning, finish reason) of one GenerateContentResponse."""
    if not isinstance(data, dict):
        raise ProviderError("bad_response", "A Gemini response was not a JSON object.")
    candidates = data.get("candidates")
    if not candidates:
        blocked = (data.get("promptFeedback") or {}).get("blockReason")
        return "", "", ("content_filter" if blocked else None)
    candidate = candidates[0]
    text: list[str] = []
    thought: list[str] = []
    for part in (candidate.get("content") or {}).get("parts") or ():
        if isinstance(part, dict) and isinstance(part.get("text"), str):
            (thought if part.get("thought") else text).append(part["text"])
    return "".join(text), "".join(thought), candidate.get("finishReason")


def gemini_result(data: Any, model: str) -> ChatResult:
    text, reasoning, finish = _read(data)
    return ChatResult(text, reasoning, _usage(data.get("usageMetadata")), normalize_finish(finish),
                      data.get("modelVersion") or model)


async def gemini_events(
    events: AsyncIterator[SSEEvent], secrets: tuple[str, ...]
) -> AsyncGenerator[ChatEvent, None]:
    usage: Usage | None = None
    finish: str | None = None
    async for event in events:
        data = stream_chunk(event.data)
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            raise from_stream_error(data, secrets=secrets)
        text, reasoning, done = _read(data)
        if reasoning:
            yield ChatEvent("reasoning", reasoning)
        if text:
            yield ChatEvent("text", text)
        usage = _usage(data.get("usageMetadata")) or usage
        finish = done or finish
    if finish is None:  # Gemini has no terminator: the finish reason is the only proof of an end
        raise ProviderError("bad_response", "The stream ended before the model finished.")
    if usage is not None:
        yield ChatEvent("usage", usage=usage)
    yield ChatEvent("finish", finish_reason=normalize_finish(finish))


def model_info(item: dict[str, Any]) -> ModelInfo | None:
    name = item.get("name")
    methods = item.get("supportedGenerationMethods")
    if not isinstance(name, str) or (isinstance(methods, list) and "generateContent" not in methods):
        return None
    model_id = name.removeprefix("models/")
    return ModelInfo(
        id=model_id, name=item.get("displayName") if item.get("displayName") != model_id else None,
        context_window=int_or_none(item.get("inputTokenLimit")), max_output=int_or_none(item.get("outputTokenLimit")),
        capabilities=frozenset({"reasoning"}) if item.get("thinking") is True else frozenset(),
    )


class Gemini(BaseAdapter):
    async def list_models(self, conn: Connection, http: httpx.AsyncClient) -> list[ModelInfo]:
        models: list[ModelInfo] = []
        params = {"pageSize": PAGE_SIZE}
        for _ in range(20):
            page = await self.send(conn, http, "GET", conn.base_url + "/models", params=params, probe=True)
            items = page.get("models") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise ProviderError("bad_response", "The models answer had no models list.", status=200)
            models += [m for m in (model_info(i) for i in items if isinstance(i, dict)) if m is not None]
            token = page.get("nextPageToken")
            if not token:
                break
            params = {"pageSize": PAGE_SIZE, "pageToken": str(token)}
        return models

    async def chat(self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient) -> ChatResult:
        model = self.model_for(conn, request)
        url = conn.base_url + model_path(model) + ":generateContent"
        return gemini_result(await self.send(conn, http, "POST", url, json_body=gemini_body(conn, request)), model)

    async def chat_stream(
        self, conn: Connection, request: ChatRequest, model: str, http: httpx.AsyncClient
    ) -> tuple[AsyncGenerator[SSEEvent, None], EventParser]:
        url = conn.base_url + model_path(model) + ":streamGenerateContent"
        return self.open_stream(conn, http, url, gemini_body(conn, request), params={"alt": "sse"}), gemini_events
