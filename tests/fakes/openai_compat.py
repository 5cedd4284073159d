"""FakeOpenAI: the OpenAI chat-completions wire format (and the OpenRouter/NanoGPT extras).

Routes, under `.prefix` (default "/v1", changeable at run time: "" or "/api/v1" for the Custom
endpoint's path detection):
* `GET  /models`            `{"object": "list", "data": [...]}` (`.models`; `.models_payload` to
  send any JSON instead; `.models_public` to answer without a key, like OpenRouter)
* `POST /chat/completions`  JSON or SSE (`data: {chunk}` ... `data: [DONE]`), reasoning in
  `.reasoning_field` ("reasoning_content" or "reasoning"), usage chunk when asked for
* `GET  /key`               OpenRouter's key-info endpoint
* `POST /check-balance`     NanoGPT's balance endpoint (x-api-key)

Switches: `.models_drip` (seconds between single bytes of the model list: an upstream that never
quite stops), `.comments` (": OPENROUTER PROCESSING" keep-alives), `.stream_error` (an error
object sent mid-stream on HTTP 200, OpenRouter style), `.echo_key` (the 401 body repeats the
key, to prove callers redact it).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tests.fakes.server import FakeServer, now, sse_frame

DEFAULT_MODELS: list[dict[str, Any]] = [
    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
    {
        "id": "meta-llama/llama-3.3-70b-instruct", "object": "model", "created": 1733506137, "owned_by": "meta",
        "name": "Meta: Llama 3.3 70B Instruct", "context_length": 131072,
        "architecture": {"input_modalities": ["text", "image"], "output_modalities": ["text"]},
        "supported_parameters": ["tools", "response_format", "reasoning", "temperature"],
        "pricing": {"prompt": "0.00000013", "completion": "0.0000004"},
        "top_provider": {"context_length": 131072, "max_completion_tokens": 16384},
    },
    {
        "id": "deepseek/deepseek-r1:free", "object": "model", "created": 1737381095, "owned_by": "deepseek",
        "name": "DeepSeek: R1 (free)", "context_length": 163840,
        "pricing": {"prompt": "0", "completion": "0"}, "supported_parameters": ["reasoning"],
    },
    {"id": "llama-3.1-8b-instant", "object": "model", "created": 1693721698, "owned_by": "Meta",
     "active": True, "context_window": 131072, "max_completion_tokens": 131072},
    {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"},
]


class FakeOpenAI(FakeServer):
    def __init__(self, prefix: str = "/v1") -> None:
        self.default_prefix = prefix  # before the base class calls reset_protocol()
        super().__init__()

    def reset_protocol(self) -> None:
        self.prefix = self.default_prefix
        self.models: list[dict[str, Any]] = [dict(m) for m in DEFAULT_MODELS]
        self.models_payload: Any = None
        self.models_public = False
        self.models_drip = 0.0
        self.reasoning_field = "reasoning_content"
        self.comments = False
        self.stream_error: dict[str, Any] | None = None
        self.echo_key = False

    @property
    def base_url(self) -> str:
        return self.url + self.prefix

    def routes(self) -> list[BaseRoute]:
        return [Route("/{path:path}", self.dispatch, methods=["GET", "POST"])]

    async def dispatch(self, request: Request) -> Response:
        path = request.url.path
        if not path.startswith(self.prefix + "/"):
            return PlainTextResponse("Not Found", status_code=404)
        handler = self.table().get((request.method, path[len(self.prefix):]))
        if handler is None:
            return PlainTextResponse("Not Found", status_code=404)
        return await handler(request)

    def table(self) -> dict[tuple[str, str], Any]:
        return {
            ("GET", "/models"): self.list_models,
            ("POST", "/chat/completions"): self.chat,
            ("GET", "/key"): self.key_info,
            ("POST", "/check-balance"): self.check_balance,
        }

    # --- auth --------------------------------------------------------------------------------

    def presented_key(self, request: Request) -> str | None:
        return self.bearer(request)

    def authorized(self, request: Request) -> bool:
        return self.presented_key(request) in self.keys

    def error_body(self, status: int, message: str) -> Any:
        kinds = {401: "invalid_request_error", 429: "rate_limit_exceeded", 404: "invalid_request_error"}
        codes = {401: "invalid_api_key", 429: "rate_limit_exceeded", 404: "model_not_found"}
        return {"error": {"message": message, "type": kinds.get(status, "server_error"), "param": None,
                          "code": codes.get(status)}}

    def unauthorized(self, request: Request) -> Response:
        key = self.presented_key(request) or ""
        shown = key if self.echo_key else (key[:3] + "*" * 4 + key[-4:] if len(key) > 8 else "")
        message = f"Incorrect API key provided: {shown}. You can find your API key at the dashboard."
        return JSONResponse(self.error_body(401, message), status_code=401)

    # --- endpoints ---------------------------------------------------------------------------

    async def list_models(self, request: Request) -> Response:
        if not self.models_public and not self.authorized(request):
            return self.unauthorized(request)
        if self.models_payload is not None:
            return JSONResponse(self.models_payload)
        if self.models_drip:
            return self.drip(json.dumps({"object": "list", "data": self.models}).encode(), self.models_drip)
        return JSONResponse({"object": "list", "data": self.models})

    async def key_info(self, request: Request) -> Response:
        if not self.authorized(request):
            return self.unauthorized(request)
        return JSONResponse({"data": {"label": "sk-or-v1-abc...xyz", "limit": None, "usage": 0.25, "is_free_tier": False}})

    async def check_balance(self, request: Request) -> Response:
        if request.headers.get("x-api-key") not in self.keys:
            return JSONResponse({"error": "Invalid API key"}, status_code=401)
        return JSONResponse({"usd_balance": "5.00", "nano_balance": "0"})

    async def chat(self, request: Request) -> Response:
        await self.delay_first_byte()
        if not self.authorized(request):
            return self.unauthorized(request)
        body = await request.json()
        if not isinstance(body.get("messages"), list) or "model" not in body:
            return JSONResponse(self.error_body(400, "messages and model are required"), status_code=400)
        model = self.reply.model or body["model"]
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return self.sse(self.stream_frames(model, include_usage))
        return JSONResponse(self.completion(model))

    # --- wire format -------------------------------------------------------------------------

    def usage(self) -> dict[str, int]:
        r = self.reply
        return {"prompt_tokens": r.input_tokens, "completion_tokens": r.output_tokens,
                "total_tokens": r.input_tokens + r.output_tokens}

    def completion(self, model: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.reply.text, "refusal": None}
        if self.reply.reasoning:
            message[self.reasoning_field] = self.reply.reasoning
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": now(), "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": self.reply.finish}],
            "usage": self.usage(), "system_fingerprint": "fp_fake",
        }

    def chunk(self, model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": now(), "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def stream_frames(self, model: str, include_usage: bool) -> list[bytes]:
        r = self.reply
        frames = [sse_frame(self.chunk(model, {"role": "assistant", "content": ""}))]
        if self.comments:
            frames.insert(0, b": OPENROUTER PROCESSING\n\n")
        frames += [sse_frame(self.chunk(model, {self.reasoning_field: p})) for p in r.pieces(r.reasoning)]
        pieces = r.pieces(r.text)
        if self.stream_error is not None:
            frames.append(sse_frame(self.chunk(model, {"content": pieces[0]})))
            error = dict(self.chunk(model, {"content": ""}, "error"), error=self.stream_error)
            return frames + [sse_frame(error)]
        frames += [sse_frame(self.chunk(model, {"content": p})) for p in pieces]
        frames.append(sse_frame(self.chunk(model, {}, r.finish)))
        if include_usage:
            frames.append(sse_frame(dict(self.chunk(model, {}), choices=[], usage=self.usage())))
        frames.append(b"data: [DONE]\n\n")
        return frames
