"""FakeAzureOpenAI: Azure's deployment-addressed chat-completions (classic, api-version API).

* `GET  /openai/models?api-version=...`
* `POST /openai/deployments/{deployment}/chat/completions?api-version=...`

The key goes in `api-key`; `api-version` is required. `.deployments` maps deployment names to
the model they serve (the answer's `model`); an unknown deployment gets `DeploymentNotFound`.
Streams start with Azure's `choices: []` chunk carrying `prompt_filter_results`.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from tests.fakes.openai_compat import FakeOpenAI
from tests.fakes.server import sse_frame

API_VERSIONS = {"2024-10-21", "2024-06-01", "2025-01-01-preview"}
_CHAT = re.compile(r"/openai/deployments/([^/]+)/chat/completions")


class FakeAzureOpenAI(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__(prefix="/openai")

    def reset_protocol(self) -> None:
        super().reset_protocol()
        self.deployments = {"gpt-4o-prod": "gpt-4o-2024-11-20"}
        self.models = [{"id": "gpt-4o-2024-11-20", "object": "model", "created": 1732060800, "owned_by": "system",
                        "status": "succeeded", "capabilities": {"chat_completion": True}}]

    def presented_key(self, request: Request) -> str | None:
        return request.headers.get("api-key")

    def unauthorized(self, request: Request) -> Response:
        message = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a "
                   "valid key for an active subscription and use a correct regional API endpoint for your resource.")
        return JSONResponse({"error": {"code": "401", "message": message}}, status_code=401)

    def error_body(self, status: int, message: str) -> Any:
        return {"error": {"code": str(status), "message": message}}

    async def dispatch(self, request: Request) -> Response:
        if request.query_params.get("api-version") not in API_VERSIONS:
            return JSONResponse({"error": {"code": "BadRequest", "message": "API version not supported"}}, status_code=400)
        path = request.url.path
        if request.method == "GET" and path == "/openai/models":
            return await self.list_models(request)
        match = _CHAT.fullmatch(path)
        if request.method == "POST" and match:
            return await self.deployment_chat(request, match.group(1))
        return PlainTextResponse("Resource not found", status_code=404)

    async def deployment_chat(self, request: Request, deployment: str) -> Response:
        if not self.authorized(request):
            return self.unauthorized(request)
        if deployment not in self.deployments:
            message = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."
            return JSONResponse({"error": {"code": "DeploymentNotFound", "message": message}}, status_code=404)
        await self.delay_first_byte()
        body = await request.json()
        if not isinstance(body.get("messages"), list):
            return JSONResponse(self.error_body(400, "messages is required"), status_code=400)
        model = self.deployments[deployment]
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return self.sse(self.stream_frames(model, include_usage))
        return JSONResponse(self.completion(model))

    def stream_frames(self, model: str, include_usage: bool) -> list[bytes]:
        filters = {"id": "", "object": "", "created": 0, "model": "", "choices": [],
                   "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {"hate": {"filtered": False, "severity": "safe"}}}]}
        return [sse_frame(filters)] + super().stream_frames(model, include_usage)
