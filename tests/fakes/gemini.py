"""FakeGemini: the Gemini API (Google AI Studio) wire format, under `/v1beta`.

* `GET  /v1beta/models`                          paged (`pageSize`, `pageToken` -> `nextPageToken`)
* `GET  /v1beta/models/{id}`                     one model
* `POST /v1beta/models/{id}:generateContent`     JSON
* `POST /v1beta/models/{id}:streamGenerateContent?alt=sse`   SSE, one whole response per event
  (without `alt=sse`, a JSON array, as the real API does)

The key is accepted in `x-goog-api-key` or `?key=`; a bad key gets the real 400
`INVALID_ARGUMENT` / `API_KEY_INVALID` body. Errors are `google.rpc.Status`; a 429 carries a
`RetryInfo` detail. `.blocked` answers with `promptFeedback.blockReason` and no candidates;
`.stream_error` sends an in-band `{"error": ...}` event after the first streamed frame.
`generate_json()` / `generate_frames()` are reused by FakeVertex.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tests.fakes.server import FakeServer, Reply, sse_frame

STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}


def _model(model_id: str, name: str, context: int, output: int, methods: list[str], thinking: bool | None) -> dict[str, Any]:
    model = {"name": f"models/{model_id}", "version": "001", "displayName": name, "description": name,
             "inputTokenLimit": context, "outputTokenLimit": output, "supportedGenerationMethods": methods,
             "temperature": 1, "maxTemperature": 2, "topP": 0.95, "topK": 64}
    if thinking is not None:
        model["thinking"] = thinking
    return model


GENERATE = ["generateContent", "countTokens", "createCachedContent"]
DEFAULT_MODELS = [
    _model("gemini-2.5-flash", "Gemini 2.5 Flash", 1048576, 65536, GENERATE, True),
    _model("gemini-2.0-flash", "Gemini 2.0 Flash", 1048576, 8192, GENERATE, None),
    _model("text-embedding-004", "Text Embedding 004", 2048, 1, ["embedContent"], None),
]


def google_error(status: int, message: str) -> dict[str, Any]:
    error: dict[str, Any] = {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}
    if status == 429:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]
    return {"error": error}


BAD_KEY_BODY = {"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
                          "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                                       "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]}}


def _usage(reply: Reply) -> dict[str, Any]:
    return {"promptTokenCount": reply.input_tokens, "candidatesTokenCount": reply.output_tokens,
            "totalTokenCount": reply.input_tokens + reply.output_tokens}


def _response(parts: list[dict[str, Any]], model: str, finish: str | None = None, usage: dict[str, Any] | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    data: dict[str, Any] = {"candidates": [candidate], "modelVersion": model, "responseId": "fake-response"}
    if usage:
        data["usageMetadata"] = usage
    return data


def generate_json(reply: Reply, model: str) -> dict[str, Any]:
    parts = ([{"text": reply.reasoning, "thought": True}] if reply.reasoning else []) + [{"text": reply.text}]
    return _response(parts, model, FINISH.get(reply.finish, reply.finish.upper()), _usage(reply))


def generate_frames(reply: Reply, model: str) -> list[bytes]:
    frames = [_response([{"text": p, "thought": True}], model) for p in reply.pieces(reply.reasoning)]
    frames += [_response([{"text": p}], model) for p in reply.pieces(reply.text)]
    frames[-1] = _response(frames[-1]["candidates"][0]["content"]["parts"], model,
                           FINISH.get(reply.finish, reply.finish.upper()), _usage(reply))
    return [sse_frame(f).replace(b"\n\n", b"\r\n\r\n") for f in frames]


class FakeGemini(FakeServer):
    def reset_protocol(self) -> None:
        self.models: list[dict[str, Any]] = [dict(m) for m in DEFAULT_MODELS]
        self.blocked = False
        self.stream_error: dict[str, Any] | None = None  # sent as `{"error": ...}` after the first frame

    @property
    def base_url(self) -> str:
        return self.url + "/v1beta"

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1beta/models", self.list_models),
                Route("/v1beta/models/{rest:path}", self.model_call, methods=["GET", "POST"])]

    def error_body(self, status: int, message: str) -> Any:
        return google_error(status, message)

    def refuse(self, request: Request) -> Response | None:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        return None if key in self.keys else JSONResponse(BAD_KEY_BODY, status_code=400)

    async def list_models(self, request: Request) -> Response:
        if (refusal := self.refuse(request)) is not None:
            return refusal
        size = int(request.query_params.get("pageSize", "50"))
        start = int(request.query_params.get("pageToken") or 0)
        page: dict[str, Any] = {"models": self.models[start : start + size]}
        if start + size < len(self.models):
            page["nextPageToken"] = str(start + size)
        return JSONResponse(page)

    async def model_call(self, request: Request) -> Response:
        if (refusal := self.refuse(request)) is not None:
            return refusal
        model, _, method = request.path_params["rest"].partition(":")
        if request.method == "GET" and not method:
            found = [m for m in self.models if m["name"] == f"models/{model}"]
            return JSONResponse(found[0]) if found else JSONResponse(google_error(404, "not found"), status_code=404)
        await self.delay_first_byte()
        body = await request.json()
        if not isinstance(body.get("contents"), list):
            return JSONResponse(google_error(400, "contents is required"), status_code=400)
        return self.generate(method, model, request.query_params.get("alt"))

    def generate(self, method: str, model: str, alt: str | None) -> Response:
        if self.blocked:
            return JSONResponse({"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": model})
        if method == "generateContent":
            return JSONResponse(generate_json(self.reply, model))
        if method == "streamGenerateContent" and alt == "sse":
            frames = generate_frames(self.reply, model)
            if self.stream_error is not None:
                frames = [*frames[:1], sse_frame({"error": self.stream_error})]
            return self.sse(frames, malformed=b'data: {"candidates": [\r\n\r\n')
        if method == "streamGenerateContent":
            return JSONResponse([generate_json(self.reply, model)])
        return JSONResponse(google_error(404, f"method {method} not found"), status_code=404)
