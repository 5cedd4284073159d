"""Vertex AI: Gemini (generateContent) and Claude (rawPredict) with a service-account token.

The "key" of a Vertex config is the service-account JSON. For each call the adapter needs an
OAuth access token: it signs an RS256 JWT with the account's private key (google-auth's signer;
`iss` = client_email, `scope` = cloud-platform, one hour) and POSTs it to Google's token
endpoint through the same guarded client as every other call. Tokens are cached in memory per
service account until a minute before they expire.

Security (docs/security.md, "Outbound requests and SSRF"): the JSON's own `token_uri`, `auth_uri` and
`universe_domain` are ignored. A JSON pasted by a person could point `token_uri` at an internal
address, and google-auth would POST the signed assertion there (google-auth-library-python
PR #25). The token endpoint is always `GOOGLE_TOKEN_URL`; tests inject their fake's URL through
the constructor. Custom headers never go to the token endpoint.

Hosts: `aiplatform.googleapis.com` for `global`, `aiplatform.{us,eu}.rep.googleapis.com` for the
multi-regions, `{region}-aiplatform.googleapis.com` otherwise (anthropic-sdk-python lib/vertex).
Models whose id starts with `claude` go to `publishers/anthropic/...:rawPredict` (or
`:streamRawPredict`) with the Anthropic body minus `model`, plus `anthropic_version`; all others
to `publishers/google/...:generateContent`. The model list is static (RoleCall's curated list):
listing Model Garden does not say what a project may use (UNCONFIRMED), so "Test key" proves the
service account with the token exchange and leaves the per-model check to the first call.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from google.auth import crypt, jwt

from rolecall.providers import jsontext
from rolecall.providers.errors import ProviderError, from_response
from rolecall.providers.options import OptionsError
from rolecall.providers.protocols.anthropic import anthropic_body, anthropic_events, anthropic_result
from rolecall.providers.protocols.base import JSON_HEADERS, STREAM_HEADERS, BaseAdapter, EventParser, key_check_result
from rolecall.providers.protocols.gemini import gemini_body, gemini_events, gemini_result
from rolecall.providers.sse import SSEEvent
from rolecall.providers.types import ChatRequest, ChatResult, Connection, KeyCheck, ModelInfo, Provider

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
ANTHROPIC_VERSION = "vertex-2023-10-16"
TOKEN_LIFETIME = 3600
_REFRESH_MARGIN = 60.0
_MAX_CACHED_TOKENS = 512
_REQUIRED = ("client_email", "private_key")


def parse_service_account(text: str) -> dict[str, Any]:
    """The service-account JSON as a dict, or OptionsError. Messages never quote the JSON."""
    try:
        info = jsontext.loads(text)
    except jsontext.TooDeep:
        raise OptionsError("api_key", "The Service Account JSON is nested too deeply to be one.") from None
    except ValueError:
        raise OptionsError("api_key", "The Service Account JSON is not valid JSON.") from None
    if not isinstance(info, dict):
        raise OptionsError("api_key", "The Service Account JSON must be a JSON object.")
    if info.get("type") != "service_account":
        raise OptionsError("api_key", 'The Service Account JSON must have "type": "service_account".')
    missing = [name for name in _REQUIRED if not isinstance(info.get(name), str) or not info[name]]
    if missing:
        raise OptionsError("api_key", f"The Service Account JSON is missing {', '.join(missing)}.")
    return info


def load_signer(info: dict[str, Any]) -> crypt.RSASigner:
    """The RS256 signer of the account's private key (about 50 ms: cryptography checks the key)."""
    try:
        signer: crypt.RSASigner = crypt.RSASigner.from_service_account_info(info)  # type: ignore[no-untyped-call]
        return signer
    except (ValueError, TypeError, IndexError):
        raise OptionsError("api_key", "The private_key in the Service Account JSON is not a PEM RSA key.") from None


def vertex_base_url(region: str) -> str:
    if region == "global":
        return "https://aiplatform.googleapis.com/v1"
    if region in ("us", "eu"):
        return f"https://aiplatform.{region}.rep.googleapis.com/v1"
    return f"https://{region}-aiplatform.googleapis.com/v1"


class Vertex(BaseAdapter):
    """**Parameters:** token_url: where service-account JWTs are exchanged (tests pass their fake's)."""

    def __init__(self, token_url: str = GOOGLE_TOKEN_URL) -> None:
        self.token_url = token_url
        self._tokens: OrderedDict[str, tuple[str, float]] = OrderedDict()
        # Digests of keys whose private key already loaded: connect() runs per request, and
        # loading an RSA key costs ~50 ms, so each key is fully checked once per process.
        self._checked: OrderedDict[str, None] = OrderedDict()

    # --- hooks used by connect() ----------------------------------------------------------------

    def base_url(self, provider: Provider, endpoint_url: str, values: Mapping[str, str]) -> str:
        return vertex_base_url(values["region"])

    def check_key(self, provider: Provider, key: str) -> None:
        info = parse_service_account(key)
        digest = hashlib.sha256(key.encode()).hexdigest()
        if digest not in self._checked:
            load_signer(info)
            self._checked[digest] = None
            while len(self._checked) > _MAX_CACHED_TOKENS:
                self._checked.popitem(last=False)

    # --- the token ----------------------------------------------------------------------------

    async def auth_headers(self, conn: Connection, http: httpx.AsyncClient) -> dict[str, str]:
        return {"authorization": f"Bearer {await self.token(conn, http)}"}

    async def token(self, conn: Connection, http: httpx.AsyncClient) -> str:
        key = conn.key() or ""
        cache_key = hashlib.sha256(f"{self.token_url}\0{key}".encode()).hexdigest()
        cached = self._tokens.get(cache_key)
        if cached and cached[1] - _REFRESH_MARGIN > time.time():
            return cached[0]
        info = parse_service_account(key)
        token, lifetime = await self._exchange(conn, http, info)
        self._tokens[cache_key] = (token, time.time() + lifetime)
        self._tokens.move_to_end(cache_key)
        while len(self._tokens) > _MAX_CACHED_TOKENS:
            self._tokens.popitem(last=False)
        return token

    async def _exchange(self, conn: Connection, http: httpx.AsyncClient, info: dict[str, Any]) -> tuple[str, float]:
        now = int(time.time())
        # The audience is Google's token endpoint even when tests exchange elsewhere (google-auth does the same).
        claims = {"iss": info["client_email"], "scope": SCOPE, "aud": GOOGLE_TOKEN_URL, "iat": now, "exp": now + TOKEN_LIFETIME}
        assertion = jwt.encode(load_signer(info), claims).decode()  # type: ignore[no-untyped-call]
        form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
        secrets = (*conn.secrets(), assertion)
        with self.mapped(conn):
            response = await http.post(self.token_url, data=form, headers={"accept": "application/json"})
            content = response.content
        if not response.is_success:
            # Google answers 400 invalid_grant for a revoked key or a bad signature: a key problem.
            kind = "auth" if response.status_code in (400, 401, 403) else None
            raise from_response(response.status_code, response.headers, content, secrets=secrets, kind=kind)
        data = json.loads(content) if content else {}
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise ProviderError("bad_response", "The token endpoint answered without an access token.")
        return data["access_token"], float(data.get("expires_in") or TOKEN_LIFETIME)

    # --- models and key -----------------------------------------------------------------------

    async def list_models(self, conn: Connection, http: httpx.AsyncClient) -> list[ModelInfo]:
        return self.static_list(conn) or []

    async def test_key(self, conn: Connection, http: httpx.AsyncClient) -> KeyCheck:
        try:
            await self.token(conn, http)
        except ProviderError as exc:
            return key_check_result(exc)
        return KeyCheck(status="valid", models=tuple(await self.list_models(conn, http)))

    # --- chat ---------------------------------------------------------------------------------

    def _url(self, conn: Connection, model: str, method: str) -> str:
        info = jsontext.loads(conn.key() or "{}")
        project = conn.values.get("project_id") or info.get("project_id")
        if not project:
            raise ProviderError("bad_request", "No Project ID: set it on the config or in the service-account JSON.")
        publisher = "anthropic" if model.startswith("claude") else "google"
        region = quote(conn.values["region"], safe="")
        return (f"{conn.base_url}/projects/{quote(str(project), safe='')}/locations/{region}"
                f"/publishers/{publisher}/models/{quote(model, safe='@')}:{method}")

    @staticmethod
    def _is_claude(model: str) -> bool:
        return model.startswith("claude")

    def _claude_body(self, conn: Connection, request: ChatRequest, stream: bool) -> dict[str, Any]:
        return {**anthropic_body(conn, request, None, stream), "anthropic_version": ANTHROPIC_VERSION}

    async def chat(self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient) -> ChatResult:
        model = self.model_for(conn, request)
        headers = await self.headers(conn, http, JSON_HEADERS)
        if self._is_claude(model):
            data = await self.send(conn, http, "POST", self._url(conn, model, "rawPredict"),
                                   json_body=self._claude_body(conn, request, False), headers=headers)
            return anthropic_result(data, model)
        data = await self.send(conn, http, "POST", self._url(conn, model, "generateContent"),
                               json_body=gemini_body(conn, request), headers=headers)
        return gemini_result(data, model)

    async def chat_stream(
        self, conn: Connection, request: ChatRequest, model: str, http: httpx.AsyncClient
    ) -> tuple[AsyncGenerator[SSEEvent, None], EventParser]:
        headers = await self.headers(conn, http, STREAM_HEADERS)
        if self._is_claude(model):
            return self.open_stream(conn, http, self._url(conn, model, "streamRawPredict"),
                                    self._claude_body(conn, request, True), headers=headers), anthropic_events
        return self.open_stream(conn, http, self._url(conn, model, "streamGenerateContent"),
                                gemini_body(conn, request), params={"alt": "sse"}, headers=headers), gemini_events
