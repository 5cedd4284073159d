"""FakeNovelAI: NovelAI's account and text-generation API, plus its `/oa/v1` OpenAI shim.

* `GET  /user/subscription`    the key check (tier, perks)
* `POST /ai/generate`          `{input, model, parameters}` -> `{output}`
* `POST /ai/generate-stream`   SSE `event: newToken` / `data: {token, ptr, final}`
* `/oa/v1/...`                 FakeOpenAI's chat-completions routes (GLM models)

Auth is Bearer (a persistent API token); errors are `{statusCode, message}`.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.server import sse_frame

TOKEN = "pst-test-VALID-0123456789abcdefghijklmnop"


class FakeNovelAI(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__(prefix="/oa/v1")

    def reset_protocol(self) -> None:
        super().reset_protocol()
        self.keys = {TOKEN}

    def error_body(self, status: int, message: str) -> Any:
        return {"statusCode": status, "message": message}

    def unauthorized(self, request: Request) -> Response:
        return JSONResponse({"statusCode": 401, "message": "Access Token is incorrect."}, status_code=401)

    async def dispatch(self, request: Request) -> Response:
        route = {("GET", "/user/subscription"): self.subscription, ("POST", "/ai/generate"): self.generate,
                 ("POST", "/ai/generate-stream"): self.generate_stream}.get((request.method, request.url.path))
        if route is not None:
            if not self.authorized(request):
                return self.unauthorized(request)
            return await route(request)
        return await super().dispatch(request)

    async def subscription(self, request: Request) -> Response:
        return JSONResponse({"tier": 3, "active": True, "expiresAt": 1900000000,
                             "perks": {"maxPriorityActions": 1000, "contextTokens": 8192, "unlimitedImageGeneration": True},
                             "trainingStepsLeft": {"fixedTrainingStepsLeft": 10000, "purchasedTrainingSteps": 0}})

    async def _body(self, request: Request) -> dict[str, Any] | Response:
        await self.delay_first_byte()
        body = await request.json()
        if not isinstance(body.get("input"), str) or "model" not in body or not isinstance(body.get("parameters"), dict):
            return JSONResponse({"statusCode": 400, "message": "input, model and parameters are required"}, status_code=400)
        return body

    async def generate(self, request: Request) -> Response:
        body = await self._body(request)
        return body if isinstance(body, Response) else JSONResponse({"output": self.reply.text})

    async def generate_stream(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        pieces = self.reply.pieces(self.reply.text)
        frames = [sse_frame({"token": p, "ptr": i, "final": i == len(pieces) - 1}, "newToken") for i, p in enumerate(pieces)]
        return self.sse(frames, malformed=b'event: newToken\ndata: {"token": \n\n')
