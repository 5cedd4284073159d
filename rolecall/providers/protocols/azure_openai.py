"""Azure OpenAI: chat-completions addressed by deployment, with `api-key` and `api-version`.

`POST {base}/deployments/{deployment}/chat/completions?api-version={v}`, where the base is
`https://{resource}.openai.azure.com/openai` (registry template, filled from the fields). Only
the URL differs from OpenAI, so this is `OpenAICompat` with two URL hooks overridden
(docs/architecture.md, "Providers are data, protocols are code"); the `api-key` header comes
from the registry's auth scheme.

Azure addresses models by deployment, so the model list is the one deployment. Testing the key
is two calls (as SillyTavern does): `GET {base}/models?api-version=` proves endpoint, key and
API version; a one-token chat on the deployment proves the deployment, and its answer names
the underlying model. The first stream chunk may carry only `prompt_filter_results` with
`choices: []`, which the parent's parser already skips.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from rolecall.providers.errors import ProviderError
from rolecall.providers.protocols.base import key_check_result
from rolecall.providers.protocols.openai_compat import OpenAICompat
from rolecall.providers.types import (
    ChatMessage,
    ChatRequest,
    Connection,
    KeyCheck,
    ModelInfo,
    ModelsEndpoint,
)


class AzureOpenAI(OpenAICompat):
    def _version(self, conn: Connection) -> dict[str, str]:
        return {"api-version": conn.values["api_version"]}

    def chat_target(self, conn: Connection, model: str) -> tuple[str, dict[str, str] | None]:
        deployment = quote(conn.values["deployment_id"], safe="")
        return f"{conn.base_url}/deployments/{deployment}/chat/completions", self._version(conn)

    def models_target(self, conn: Connection, source: ModelsEndpoint) -> tuple[str, dict[str, str] | None]:
        return conn.base_url + source.path, self._version(conn)

    @staticmethod
    def model_for(conn: Connection, request: ChatRequest) -> str:
        return conn.values["deployment_id"]  # the deployment decides the model, whatever was picked

    async def list_models(self, conn: Connection, http: httpx.AsyncClient) -> list[ModelInfo]:
        source = conn.provider.models
        assert isinstance(source, ModelsEndpoint)
        url, params = self.models_target(conn, source)
        await self.send(conn, http, "GET", url, params=params, probe=True)  # proves endpoint, key and version
        return [ModelInfo(id=conn.values["deployment_id"])]

    async def test_key(self, conn: Connection, http: httpx.AsyncClient) -> KeyCheck:
        try:
            models = await self.list_models(conn, http)
            probe = ChatRequest(messages=(ChatMessage("user", "Hi"),), max_tokens=self.probe_max_tokens)
            try:
                result = await self.chat(conn, probe, http)
            except ProviderError as exc:
                if exc.kind != "bad_request":  # a 400 still proves the deployment answered
                    raise
            else:
                models = [ModelInfo(id=conn.values["deployment_id"], name=result.model)]
        except ProviderError as exc:
            return key_check_result(exc)
        return KeyCheck(status="valid", models=tuple(models))
