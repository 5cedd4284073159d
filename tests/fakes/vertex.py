"""FakeVertex: Google's OAuth token endpoint plus Vertex AI's publisher-model routes.

* `POST /token`  the JWT-bearer grant: verifies the assertion's RS256 signature against the
  fake service account's public key, its `aud` (Google's token URL), `iss` and scope, then issues
  `ya29.fake-...` tokens (`.tokens`). Errors are OAuth-shaped (`invalid_grant`).
* `POST /v1/projects/{p}/locations/{r}/publishers/anthropic/models/{m}:rawPredict|streamRawPredict`
  the Anthropic Messages body without `model`, with `anthropic_version`
* `POST /v1/projects/{p}/locations/{r}/publishers/google/models/{m}:generateContent|streamGenerateContent`

`.stream_error` sends an in-band error mid-stream in the publisher's own shape.
`.service_account()` returns a JSON the adapter can use; its `token_uri` points at a metadata
address on purpose, to prove the adapter never uses it. `.enabled` lists the models the project
may call (others answer 404, like a model not enabled in Model Garden).
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tests.fakes.anthropic import message_frames, message_json
from tests.fakes.gemini import generate_frames, generate_json, google_error
from tests.fakes.server import FakeServer, sse_frame

PROJECT = "rolecall-test"
EMAIL = f"rolecall@{PROJECT}.iam.gserviceaccount.com"
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"  # what Google checks, wherever the JWT is posted


class FakeVertex(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode()
        self._public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def reset_protocol(self) -> None:
        self.tokens: set[str] = set()
        self.assertions: list[dict[str, Any]] = []
        self.enabled = {"claude-sonnet-4-5@20250929", "claude-haiku-4-5@20251001", "gemini-2.5-flash", "gemini-2.5-pro"}
        # An in-band error mid-stream: an Anthropic `error` event, or Gemini's `{"error": ...}` frame.
        self.stream_error: dict[str, Any] | None = None

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def service_account(self, **overrides: Any) -> dict[str, Any]:
        info = {
            "type": "service_account", "project_id": PROJECT, "private_key_id": "fake-key-id",
            "private_key": self._private_pem, "client_email": EMAIL, "client_id": "1234567890",
            "auth_uri": "http://169.254.169.254/auth", "token_uri": "http://169.254.169.254/computeMetadata/v1/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs", "universe_domain": "googleapis.com",
        }
        info.update(overrides)
        return info

    def routes(self) -> list[BaseRoute]:
        return [Route("/token", self.token, methods=["POST"]),
                Route("/v1/projects/{project}/locations/{region}/publishers/{publisher}/models/{rest:path}",
                      self.predict, methods=["POST"])]

    def error_body(self, status: int, message: str) -> Any:
        return google_error(status, message)

    async def token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        try:
            claims = jwt.decode(form.get("assertion", ""), certs=self._public_pem, audience=GOOGLE_AUDIENCE)
        except ValueError:
            return JSONResponse({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status_code=400)
        self.assertions.append(claims)
        if claims.get("iss") != EMAIL or "cloud-platform" not in claims.get("scope", ""):
            return JSONResponse({"error": "invalid_grant", "error_description": "Invalid grant: account not found"}, status_code=400)
        token = "ya29.fake-" + secrets.token_urlsafe(16)
        self.tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    async def predict(self, request: Request) -> Response:
        if self.bearer(request) not in self.tokens:
            return JSONResponse(google_error(401, "Request had invalid authentication credentials."), status_code=401)
        model, _, method = request.path_params["rest"].partition(":")
        publisher = request.path_params["publisher"]
        if request.path_params["project"] != PROJECT:
            return JSONResponse(google_error(403, "Permission denied on resource project."), status_code=403)
        if model not in self.enabled:
            return JSONResponse(google_error(404, f"Publisher Model `{model}` not found."), status_code=404)
        await self.delay_first_byte()
        body = json.loads(await request.body())
        if publisher == "anthropic":
            return self.anthropic(body, model, method)
        if publisher == "google" and method in ("generateContent", "streamGenerateContent"):
            if method == "generateContent":
                return JSONResponse(generate_json(self.reply, model))
            frames = generate_frames(self.reply, model)
            if self.stream_error is not None:
                frames = [*frames[:1], sse_frame({"error": self.stream_error})]
            return self.sse(frames)
        return JSONResponse(google_error(404, "unknown method"), status_code=404)

    def anthropic(self, body: dict[str, Any], model: str, method: str) -> Response:
        if "model" in body or not body.get("anthropic_version") or "max_tokens" not in body:
            return JSONResponse(google_error(400, "anthropic_version and max_tokens required; model goes in the URL"), status_code=400)
        if method == "streamRawPredict" and body.get("stream"):
            return self.sse(message_frames(self.reply, model, self.stream_error))
        if method == "rawPredict" and not body.get("stream"):
            return JSONResponse(message_json(self.reply, model))
        return JSONResponse(google_error(400, "stream must match the method"), status_code=400)
