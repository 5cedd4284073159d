"""OpenAI chat-completions: most of the registry, the Custom endpoint, and Azure's parent.

Wire format: `POST {base}/chat/completions`; streaming is SSE `data:`
chunks ending with `data: [DONE]`. Variants handled here, all by reading, none by provider id:
reasoning in `delta.reasoning_content` (DeepSeek, xAI, Moonshot, Z.AI) or `delta.reasoning`
(OpenRouter, some local servers); Mistral's `delta.content` as an array with `thinking` blocks;
Azure's first chunk with `choices: []`; OpenRouter's mid-stream `error` object on HTTP 200 and
its ": OPENROUTER PROCESSING" comments (the SSE splitter drops comments); usage in a final chunk
when `stream_options.include_usage` is sent.

The Custom endpoint (`Provider.discover_base`) tries the base URL as typed, then `/v1`, then
`/api/v1`, and reports which one answered (`KeyCheck.base_url`) so the caller can remember it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx

from rolecall.providers.errors import ProviderError
from rolecall.providers.inband import from_stream_error
from rolecall.providers.jsontext import stream_chunk
from rolecall.providers.modelmap import models_from_json
from rolecall.providers.options import merge_body
from rolecall.providers.protocols.base import (
    BaseAdapter,
    SamplerNames,
    drain,
    int_or_none,
    key_check_result,
    normalize_finish,
    samplers,
)
from rolecall.providers.types import (
    ChatEvent,
    ChatMessage,
    ChatRequest,
    ChatResult,
    Connection,
    KeyCheck,
    ModelInfo,
    ModelsEndpoint,
    Usage,
)

DISCOVERY_SUFFIXES = ("", "/v1", "/api/v1")
# Answers that mean "no models list at this path", so the next candidate is worth a try.
_WRONG_PATH = frozenset({"not_found", "bad_response", "bad_request"})


def usage_from(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    details = raw.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return Usage(int_or_none(raw.get("prompt_tokens")), int_or_none(raw.get("completion_tokens")), int_or_none(reasoning))


def _content_parts(content: Any) -> tuple[str, str]:
    """(text, reasoning) of a delta/message content that may be a string or a list of blocks."""
    if isinstance(content, str):
        return content, ""
    text, reasoning = [], []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "thinking":  # Mistral Magistral: {"thinking": [{"text": ...}]}
            inner = part.get("thinking")
            blocks = inner if isinstance(inner, list) else [{"text": inner}]
            reasoning += [b.get("text") or "" for b in blocks if isinstance(b, dict)]
        elif isinstance(part.get("text"), str):
            text.append(part["text"])
    return "".join(text), "".join(reasoning)


class OpenAICompat(BaseAdapter):
    """Adapter for every `protocol="openai_compat"` registry entry."""

    # --- URLs and bodies (Azure overrides these) -----------------------------------------------

    def chat_target(self, conn: Connection, model: str) -> tuple[str, dict[str, str] | None]:
        return conn.base_url + "/chat/completions", None

    def models_target(self, conn: Connection, source: ModelsEndpoint) -> tuple[str, dict[str, str] | None]:
        return conn.base_url + source.path, dict(source.query) or None

    def body(self, conn: Connection, request: ChatRequest, model: str, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": m.role, "content": _content(m)} for m in request.messages],
            "stream": stream,
            **samplers(request, SamplerNames(max_tokens=conn.provider.max_tokens_param)),
        }
        if stream and conn.provider.stream_usage:
            body["stream_options"] = {"include_usage": True}
        return merge_body(body, conn.body, request.params)

    # --- models and key test -----------------------------------------------------------------

    async def list_models(self, conn: Connection, http: httpx.AsyncClient) -> list[ModelInfo]:
        static = self.static_list(conn)
        if static is not None:
            return static
        source = conn.provider.models
        assert isinstance(source, ModelsEndpoint)
        url, params = self.models_target(conn, source)
        response = await self.fetch(conn, http, "GET", url, params=params, probe=True)
        models: list[ModelInfo] | None = self.decoded(
            conn, response, functools.partial(models_from_json, fields=source.fields), probe=True)
        if models is None:
            raise ProviderError(
                "bad_response", f"{url} did not answer with an OpenAI-style models list.",
                status=200, custom_base=conn.custom_base,
            )
        return models

    async def test_key(self, conn: Connection, http: httpx.AsyncClient) -> KeyCheck:
        if conn.provider.discover_base:
            return await self.discover(conn, http)
        return await super().test_key(conn, http)

    async def discover(self, conn: Connection, http: httpx.AsyncClient) -> KeyCheck:
        """Find the base under which the models list lives: as typed, then /v1, then /api/v1."""
        tried: list[str] = []
        telling: ProviderError | None = None  # a redirect or an oversized answer says more than a 404
        for suffix in DISCOVERY_SUFFIXES:
            if suffix and conn.base_url.endswith(suffix):
                continue
            candidate = dataclasses.replace(conn, base_url=conn.base_url + suffix)
            tried.append(candidate.base_url + "/models")
            try:
                models = await self.list_models(candidate, http)
            except ProviderError as exc:
                if exc.kind in _WRONG_PATH:
                    telling = telling or (exc if exc.advice else None)
                    continue
                return key_check_result(exc)  # a key or network problem: another path won't help
            return KeyCheck(status="valid", models=tuple(models), base_url=candidate.base_url)
        if telling is not None:
            return key_check_result(telling)
        error = ProviderError(
            "not_found", "No OpenAI-compatible models list answered at " + ", ".join(tried) + ".",
            status=404, custom_base=True,
        )
        return key_check_result(error)

    # --- chat -------------------------------------------------------------------------------

    async def chat(self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient) -> ChatResult:
        model = self.model_for(conn, request)
        url, params = self.chat_target(conn, model)
        data = await self.send(conn, http, "POST", url, json_body=self.body(conn, request, model, False), params=params)
        return self.result(conn, data, model)

    def result(self, conn: Connection, data: Any, model: str) -> ChatResult:
        if not isinstance(data, dict):
            raise ProviderError("bad_response", "The chat answer was not a JSON object.", status=200)
        if isinstance(data.get("error"), dict):
            raise from_stream_error(data, secrets=conn.secrets())
        choices = data.get("choices") or [{}]
        choice = choices[0] if isinstance(choices[0], dict) else {}
        message = choice.get("message") or {}
        text, reasoning = _content_parts(message.get("content") or "")
        reasoning += message.get("reasoning_content") or message.get("reasoning") or ""
        return ChatResult(
            text=text, reasoning=reasoning, usage=usage_from(data.get("usage")),
            finish_reason=normalize_finish(choice.get("finish_reason")) if choice else "content_filter",
            model=data.get("model") or model,
        )

    async def stream_chat(
        self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient
    ) -> AsyncIterator[ChatEvent]:
        model = self.model_for(conn, request)
        url, params = self.chat_target(conn, model)
        state = _StreamState()
        stream = self.open_stream_reads(conn, http, url, self.body(conn, request, model, True), params=params)
        async with aclosing(stream) as reads:
            with self.mapped(conn):
                async for events in reads:
                    if events[0].event == "json":  # the server answered without streaming
                        for out in _as_events(self.result(conn, stream_chunk(events[0].data), model)):
                            yield out
                        return
                    # The pieces that arrived in one read go on as one event each of text and
                    # reasoning: relaying them one by one only repeated the same work per piece.
                    joined = _Joined()
                    try:
                        for event in events:
                            if event.data == "[DONE]":
                                state.done = True
                                break
                            joined.add(state.feed(stream_chunk(event.data), conn))
                    finally:  # an error chunk ends the stream after the text before it
                        for out in joined.events():
                            yield out
                    if state.done:
                        await drain(reads)
                        break
        if not state.done and state.finish is None:
            raise ProviderError("bad_response", "The stream ended before the provider finished the answer.")
        if state.usage is not None:
            yield ChatEvent("usage", usage=state.usage)
        yield ChatEvent("finish", finish_reason=normalize_finish(state.finish))


class _Joined:
    """Events in order, each run of adjacent text (or reasoning) pieces joined into one event."""

    __slots__ = ("_done", "_parts", "_run")

    def __init__(self) -> None:
        self._done: list[ChatEvent] = []
        self._run: ChatEvent | None = None  # the first piece of the run being joined
        self._parts: list[str] = []

    def add(self, events: list[ChatEvent]) -> None:
        for event in events:
            if self._run is not None and event.kind == self._run.kind:
                self._parts.append(event.text)
                continue
            self._close()
            if event.kind in ("text", "reasoning"):
                self._run, self._parts = event, [event.text]
            else:
                self._done.append(event)

    def events(self) -> list[ChatEvent]:
        self._close()
        return self._done

    def _close(self) -> None:
        if self._run is not None:  # a run of one piece is that piece's own event
            self._done.append(self._run if len(self._parts) == 1 else ChatEvent(self._run.kind, "".join(self._parts)))
            self._run, self._parts = None, []


def _as_events(result: ChatResult) -> list[ChatEvent]:
    events = [ChatEvent("reasoning", result.reasoning)] if result.reasoning else []
    events += [ChatEvent("text", result.text)] if result.text else []
    events += [ChatEvent("usage", usage=result.usage)] if result.usage else []
    return events + [ChatEvent("finish", finish_reason=result.finish_reason)]


class _StreamState:
    """What one chat-completions stream has said so far; `feed` turns a chunk into events."""

    __slots__ = ("done", "finish", "usage")

    def __init__(self) -> None:
        self.done = False
        self.finish: str | None = None
        self.usage: Usage | None = None

    def feed(self, chunk: Any, conn: Connection) -> list[ChatEvent]:
        if not isinstance(chunk, dict):
            raise ProviderError("bad_response", "A stream chunk was not a JSON object.")
        if chunk.get("error"):
            raise from_stream_error(chunk, secrets=conn.secrets())
        out: list[ChatEvent] = []
        choices = chunk.get("choices")
        if choices:  # Azure's first chunk has none (prompt filter results only)
            choice = choices[0]
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning and isinstance(reasoning, str):
                out.append(ChatEvent("reasoning", reasoning))
            content = delta.get("content")
            if content:
                if isinstance(content, str):
                    out.append(ChatEvent("text", content))
                else:
                    text, thought = _content_parts(content)
                    if thought:
                        out.append(ChatEvent("reasoning", thought))
                    if text:
                        out.append(ChatEvent("text", text))
            self.finish = choice.get("finish_reason") or self.finish
        if chunk.get("usage"):
            self.usage = usage_from(chunk["usage"]) or self.usage
        return out


def _content(message: ChatMessage) -> Any:
    """Plain text, or text and image parts (data URLs) when the message carries images."""
    if not message.images:
        return message.content
    parts: list[dict[str, Any]] = [{"type": "text", "text": message.content}] if message.content else []
    parts += [{"type": "image_url", "image_url": {"url": f"data:{image.media_type};base64,{image.data}"}}
              for image in message.images]
    return parts
