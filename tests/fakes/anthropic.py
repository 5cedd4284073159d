"""FakeAnthropic: the Messages API wire format.

* `GET  /v1/models`    cursor paging (`limit`, `after_id` -> `has_more`, `first_id`, `last_id`)
* `POST /v1/messages`  JSON, or named SSE events when `"stream": true`

Auth is `x-api-key` or `Authorization: Bearer` (anthropic SDK 2.x sends the latter), plus a
required `anthropic-version` header, like the real API. Errors use
`{"type": "error", "error": {"type", "message"}, "request_id"}`. `.stream_error` sends an
`error` event mid-stream (e.g. `{"type": "overloaded_error", "message": "Overloaded"}`).
`message_json()` / `message_frames()` are reused by FakeVertex for rawPredict.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tests.fakes.server import FakeServer, Reply, sse_frame

_CAPS = {
    "batch": {"supported": True}, "citations": {"supported": True}, "code_execution": {"supported": True},
    "context_management": {"supported": True}, "pdf_input": {"supported": True},
    "effort": {"supported": False, "low": {"supported": False}, "medium": {"supported": False},
               "high": {"supported": False}, "max": {"supported": False}},
}


def _model(model_id: str, name: str, context: int, output: int, thinking: bool) -> dict[str, Any]:
    caps = dict(_CAPS, image_input={"supported": True}, structured_outputs={"supported": thinking},
                thinking={"supported": thinking, "types": {"adaptive": {"supported": False}, "enabled": {"supported": thinking}}},
                server_tools={"supported": True, "web_search": {"supported": True}, "code_execution": {"supported": True}})
    return {"type": "model", "id": model_id, "display_name": name, "created_at": "2025-09-29T00:00:00Z",
            "max_input_tokens": context, "max_tokens": output, "capabilities": caps, "lifecycle": "active"}


DEFAULT_MODELS = [
    _model("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", 200000, 64000, True),
    _model("claude-haiku-4-5-20251001", "Claude Haiku 4.5", 200000, 64000, True),
    _model("claude-3-haiku-20240307", "Claude Haiku 3", 200000, 4096, False),
]
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
               529: "overloaded_error"}


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message},
            "request_id": "req_fake"}


def message_json(reply: Reply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.reasoning:
        content.append({"type": "thinking", "thinking": reply.reasoning, "signature": "sig"})
    content.append({"type": "text", "text": reply.text})
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": STOP_REASONS.get(reply.finish, reply.finish), "stop_sequence": None,
            "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens}}


def message_frames(reply: Reply, model: str, stream_error: dict[str, Any] | None = None) -> list[bytes]:
    start = dict(message_json(reply, model), content=[], stop_reason=None,
                 usage={"input_tokens": reply.input_tokens, "output_tokens": 1})
    frames = [sse_frame({"type": "message_start", "message": start}, "message_start")]
    index = 0
    if reply.reasoning:
        frames.append(sse_frame({"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "thinking", "thinking": "", "signature": ""}}, "content_block_start"))
        frames += [sse_frame({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": p}},
                             "content_block_delta") for p in reply.pieces(reply.reasoning)]
        frames.append(sse_frame({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}},
                                "content_block_delta"))
        frames.append(sse_frame({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        index = 1
    frames.append(sse_frame({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                            "content_block_start"))
    frames.append(sse_frame({"type": "ping"}, "ping"))
    pieces = reply.pieces(reply.text)
    for n, piece in enumerate(pieces):
        frames.append(sse_frame({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}},
                                "content_block_delta"))
        if stream_error is not None and n == 0:
            return frames + [sse_frame({"type": "error", "error": stream_error}, "error")]
    frames.append(sse_frame({"type": "content_block_stop", "index": index}, "content_block_stop"))
    frames.append(sse_frame({"type": "message_delta", "delta": {"stop_reason": STOP_REASONS.get(reply.finish, reply.finish),
                                                               "stop_sequence": None},
                             "usage": {"output_tokens": reply.output_tokens}}, "message_delta"))
    frames.append(sse_frame({"type": "message_stop"}, "message_stop"))
    return frames


class FakeAnthropic(FakeServer):
    def reset_protocol(self) -> None:
        self.models: list[dict[str, Any]] = [dict(m) for m in DEFAULT_MODELS]
        self.stream_error: dict[str, Any] | None = None

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1/models", self.list_models), Route("/v1/messages", self.messages, methods=["POST"])]

    def error_body(self, status: int, message: str) -> Any:
        return anthropic_error(status, message)

    def check(self, request: Request) -> Response | None:
        # The API takes the key as x-api-key (documented since 2023) and, as the SDK sends it
        # from 2.x on, as a Bearer token.
        if request.headers.get("x-api-key") not in self.keys and self.bearer(request) not in self.keys:
            return JSONResponse(anthropic_error(401, "invalid x-api-key"), status_code=401)
        if not request.headers.get("anthropic-version"):
            return JSONResponse(anthropic_error(400, "anthropic-version: header is required"), status_code=400)
        return None

    async def list_models(self, request: Request) -> Response:
        if (refusal := self.check(request)) is not None:
            return refusal
        limit = int(request.query_params.get("limit", "20"))
        ids = [m["id"] for m in self.models]
        after = request.query_params.get("after_id")
        start = ids.index(after) + 1 if after in ids else 0
        page = self.models[start : start + limit]
        return JSONResponse({"data": page, "has_more": start + limit < len(self.models),
                             "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None})

    async def messages(self, request: Request) -> Response:
        await self.delay_first_byte()
        if (refusal := self.check(request)) is not None:
            return refusal
        body = await request.json()
        if "max_tokens" not in body or not isinstance(body.get("messages"), list) or "model" not in body:
            return JSONResponse(anthropic_error(400, "model, messages and max_tokens are required"), status_code=400)
        if any(m.get("role") == "system" for m in body["messages"]):
            return JSONResponse(anthropic_error(400, "messages: system is not a valid role; use the top-level system"), status_code=400)
        model = self.reply.model or body["model"]
        if body.get("stream"):
            return self.sse(message_frames(self.reply, model, self.stream_error),
                            malformed=b"event: content_block_delta\ndata: {\"type\": \"content_bl\n\n")
        return JSONResponse(message_json(self.reply, model))
