"""NovelAI: text completion at `/ai/generate(-stream)`, GLM models through its `/oa/v1` shim.

NovelAI is a story-writing API, not a chat API: the request is `{input, model, parameters}`
with a prompt string, and the answer is `{output}`; streaming is SSE whose `data` carries
`{token, ptr, final}`. The messages are joined into one prompt here, one per line, which is
what a story continuation wants; prompt formatting for a model family belongs to the scene
layer. Samplers (custom body params, preset params) go into `parameters`.

GLM models (`glm-4-6`) are only reachable through NovelAI's OpenAI-compatible endpoints under
`{base}/oa/v1`, so those calls are delegated to the OpenAI-compatible adapter (UNCONFIRMED in
official docs: third-party code and SillyTavern issue #4575).

There is no models endpoint (static list). The key is a persistent API token, checked with
`GET https://api.novelai.net/user/subscription` (the registry's AuthEndpoint).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, cast

import httpx

from rolecall.providers.errors import ProviderError
from rolecall.providers.jsontext import stream_chunk
from rolecall.providers.options import RESERVED_BODY
from rolecall.providers.protocols.base import BaseAdapter, SamplerNames, drain, samplers
from rolecall.providers.protocols.openai_compat import OpenAICompat
from rolecall.providers.types import ChatEvent, ChatRequest, ChatResult, Connection, ModelInfo

DEFAULT_MAX_LENGTH = 150  # NovelAI's response cap on lower tiers; Opus allows more
MAX_LENGTH = 250
# max_length is capped by tier (below); stop sequences are not sent.
SAMPLERS = SamplerNames(max_tokens=None, stop=None)


class NovelAI(BaseAdapter):
    def __init__(self) -> None:
        self._oa = OpenAICompat()

    @staticmethod
    def _is_glm(model: str) -> bool:
        return model.startswith("glm")

    def _oa_conn(self, conn: Connection) -> Connection:
        return dataclasses.replace(conn, base_url=conn.base_url + "/oa/v1")

    def body(self, conn: Connection, request: ChatRequest, model: str) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "use_string": True, "min_length": 1,
            "max_length": min(request.max_tokens or DEFAULT_MAX_LENGTH, MAX_LENGTH),
            **samplers(request, SAMPLERS),
        }
        for source in (conn.body, request.params):
            parameters.update({k: v for k, v in source.items() if k.lower() not in RESERVED_BODY})
        prompt = "\n".join(m.content for m in request.messages)
        return {"input": prompt, "model": model, "parameters": parameters}

    async def list_models(self, conn: Connection, http: httpx.AsyncClient) -> list[ModelInfo]:
        return self.static_list(conn) or []

    async def chat(self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient) -> ChatResult:
        model = self.model_for(conn, request)
        if self._is_glm(model):
            return await self._oa.chat(self._oa_conn(conn), dataclasses.replace(request, model=model), http)
        data = await self.send(conn, http, "POST", conn.base_url + "/ai/generate", json_body=self.body(conn, request, model))
        if not isinstance(data, dict) or not isinstance(data.get("output"), str):
            raise ProviderError("bad_response", "The generate answer had no output.", status=200)
        return ChatResult(data["output"], finish_reason="stop", model=model)

    async def stream_chat(
        self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient
    ) -> AsyncIterator[ChatEvent]:
        model = self.model_for(conn, request)
        if self._is_glm(model):
            # Our adapters' streams are async generators: close the delegate if the caller stops early.
            delegated = cast(AsyncGenerator[ChatEvent, None],
                             self._oa.stream_chat(self._oa_conn(conn), dataclasses.replace(request, model=model), http))
            async with aclosing(delegated) as chat_events:
                async for chat_event in chat_events:
                    yield chat_event
            return
        stream = self.open_stream(conn, http, conn.base_url + "/ai/generate-stream", self.body(conn, request, model))
        async with aclosing(stream) as events:
            with self.mapped(conn):
                async for event in events:
                    data = stream_chunk(event.data)
                    if not isinstance(data, dict):
                        raise ProviderError("bad_response", "A stream event was not a JSON object.")
                    if data.get("error") or (data.get("message") and "token" not in data):
                        raise ProviderError("unavailable", str(data.get("error") or data.get("message")))
                    if data.get("token"):
                        yield ChatEvent("text", data["token"])
                    if data.get("final"):
                        await drain(events)
                        break
        # Whether a final event is always sent is UNCONFIRMED: a clean end of body also ends it.
        yield ChatEvent("finish", finish_reason="stop")
