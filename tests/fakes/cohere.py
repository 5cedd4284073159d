"""FakeCohere: Cohere's v2 chat and v1 models wire format.

* `GET  /v1/models`   `{"models": [...], "next_page_token"}` (`page_size`, `page_token`, `endpoint`)
* `POST /v2/chat`     JSON, or SSE events typed message-start ... message-end when streaming

Auth is Bearer; errors are `{"id", "message"}`. `.stream_error` ends the stream with a
message-end whose `finish_reason` is ERROR and `error` says why.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tests.fakes.server import FakeServer, Reply, sse_frame

DEFAULT_MODELS: list[dict[str, Any]] = [
    {"name": "command-a-03-2025", "endpoints": ["generate", "chat", "summarize"], "finetuned": False,
     "context_length": 256000, "tokenizer_url": "https://storage.googleapis.com/tok.json",
     "default_endpoints": ["chat"], "features": ["json_mode", "json_schema", "tools", "strict_tools"]},
    {"name": "command-a-vision-07-2025", "endpoints": ["chat"], "finetuned": False, "context_length": 128000,
     "features": ["vision", "json_mode"]},
    {"name": "embed-v4.0", "endpoints": ["embed"], "finetuned": False, "context_length": 128000, "features": None},
]
FINISH = {"stop": "COMPLETE", "length": "MAX_TOKENS"}


def _usage(reply: Reply) -> dict[str, Any]:
    units = {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens}
    return {"billed_units": dict(units), "tokens": dict(units)}


class FakeCohere(FakeServer):
    def reset_protocol(self) -> None:
        self.models: list[dict[str, Any]] = [dict(m) for m in DEFAULT_MODELS]
        self.stream_error: str | None = None

    @property
    def base_url(self) -> str:
        return self.url

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1/models", self.list_models), Route("/v2/chat", self.chat, methods=["POST"])]

    def error_body(self, status: int, message: str) -> Any:
        return {"id": "fake-error", "message": message}

    def refuse(self, request: Request) -> Response | None:
        if self.bearer(request) in self.keys:
            return None
        return JSONResponse({"id": "fake-error", "message": "invalid api token"}, status_code=401)

    async def list_models(self, request: Request) -> Response:
        if (refusal := self.refuse(request)) is not None:
            return refusal
        wanted = request.query_params.get("endpoint")
        models = [m for m in self.models if not wanted or wanted in m["endpoints"]]
        size = int(request.query_params.get("page_size", "20"))
        start = int(request.query_params.get("page_token") or 0)
        page: dict[str, Any] = {"models": models[start : start + size]}
        if start + size < len(models):
            page["next_page_token"] = str(start + size)
        return JSONResponse(page)

    async def chat(self, request: Request) -> Response:
        await self.delay_first_byte()
        if (refusal := self.refuse(request)) is not None:
            return refusal
        body = await request.json()
        if not isinstance(body.get("messages"), list) or "model" not in body:
            return JSONResponse({"id": "x", "message": "invalid request: model and messages are required"}, status_code=400)
        if body.get("stream"):
            return self.sse(self.frames())
        return JSONResponse(self.message())

    def message(self) -> dict[str, Any]:
        r = self.reply
        content = ([{"type": "thinking", "thinking": r.reasoning}] if r.reasoning else []) + [{"type": "text", "text": r.text}]
        return {"id": "fake-chat", "finish_reason": FINISH.get(r.finish, r.finish.upper()),
                "message": {"role": "assistant", "content": content}, "usage": _usage(r)}

    def frames(self) -> list[bytes]:
        r = self.reply
        frames = [self._event({"type": "message-start", "id": "fake-chat",
                               "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}})]
        index = 0
        if r.reasoning:
            frames.append(self._event({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "thinking", "thinking": ""}}}}))
            frames += [self._event({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": p}}}})
                       for p in r.pieces(r.reasoning)]
            frames.append(self._event({"type": "content-end", "index": 0}))
            index = 1
        frames.append(self._event({"type": "content-start", "index": index, "delta": {"message": {"content": {"type": "text", "text": ""}}}}))
        frames += [self._event({"type": "content-delta", "index": index, "delta": {"message": {"content": {"text": p}}}})
                   for p in r.pieces(r.text)]
        frames.append(self._event({"type": "content-end", "index": index}))
        end: dict[str, Any] = {"finish_reason": FINISH.get(r.finish, r.finish.upper()), "usage": _usage(r)}
        if self.stream_error is not None:
            end = {"finish_reason": "ERROR", "error": self.stream_error}
        frames.append(self._event({"type": "message-end", "delta": end}))
        return frames

    @staticmethod
    def _event(data: dict[str, Any]) -> bytes:
        return sse_frame(data, data["type"])
