"""The adapter interface and the plumbing every protocol shares.

An adapter is four calls (docs/architecture.md, "Providers are data, protocols are code"):

```python
class Adapter(Protocol):
    async def list_models(self, conn, http) -> list[ModelInfo]: ...
    async def test_key(self, conn, http) -> KeyCheck: ...
    async def chat(self, conn, request, http) -> ChatResult: ...
    def stream_chat(self, conn, request, http) -> AsyncIterator[ChatEvent]: ...
```

plus two hooks `connect()` calls: `base_url()` (turn the registry endpoint and the fields into
a base URL) and `check_key()` (protocol-specific key validation, e.g. Vertex's JSON).

Adapters receive the one guarded client from `rolecall.net.make_client` (an `httpx.AsyncClient`,
`GuardedClient`) and never build their own. Every request goes through `send()` (or `fetch()`) /
`open_stream()`, which call the client's `open` and wrap transport failures and non-2xx answers
into `ProviderError` with the connection's secrets redacted. `test_key()` is
generic: it follows the provider record's `key_check` (models list, auth endpoint or one-token
probe) and asks nothing about which provider it is.

Shared by the protocols: `samplers()` maps the request's sampler settings onto a protocol's field
names (`SamplerNames`), and the default `stream_chat()` relays a protocol's parsed SSE events
(a subclass supplies the stream and its parser through `chat_stream()`).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
import httpx

from rolecall.net import GuardedClient, Reply
from rolecall.net.secrets import hide_secrets
from rolecall.providers import jsontext
from rolecall.providers.errors import ProviderError, from_response, map_upstream_errors
from rolecall.providers.modelmap import static_models
from rolecall.providers.options import merge_headers
from rolecall.providers.sse import SSEDecoder, SSEEvent
from rolecall.providers.types import (
    AuthEndpoint,
    ChatEvent,
    ChatMessage,
    ChatRequest,
    ChatResult,
    Connection,
    KeyCheck,
    ModelInfo,
    ProbeChat,
    Provider,
    StaticModels,
    Usage,
)

JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}
STREAM_HEADERS = {"content-type": "application/json", "accept": "text/event-stream"}

# Every protocol's finish words -> ours. Unknown words pass through lower-cased.
FINISH_REASONS: Mapping[str, str] = {
    "stop": "stop", "end_turn": "stop", "stop_sequence": "stop", "complete": "stop", "eos": "stop",
    "length": "length", "max_tokens": "length", "model_length": "length",
    "content_filter": "content_filter", "safety": "content_filter", "recitation": "content_filter",
    "blocklist": "content_filter", "prohibited_content": "content_filter", "spii": "content_filter",
    "refusal": "content_filter", "image_safety": "content_filter",
    "tool_calls": "tool_calls", "function_call": "tool_calls", "tool_use": "tool_calls", "tool_call": "tool_calls",
    "error": "error",
}


def normalize_finish(reason: str | None) -> str:
    if not reason:
        return "stop"
    word = reason.lower()
    return FINISH_REASONS.get(word, word)


DRAIN_SECONDS = 2.0


async def drain(events: AsyncIterator[Any]) -> None:
    """Read a finished stream to its end (the chunked terminator is usually already buffered).

    Closing a response before its body ends makes the transport drop the connection, so the next
    request would pay a new TCP (and TLS) handshake: ~1.5 ms on loopback, far more over the
    internet. A server that never ends the body after its terminator costs at most DRAIN_SECONDS
    and no error: the answer is already complete.
    """
    with anyio.move_on_after(DRAIN_SECONDS):
        try:
            async for _ in events:
                pass
        except ProviderError:
            pass


@dataclass(frozen=True, slots=True)
class SamplerNames:
    """A protocol's body field for each sampler of `ChatRequest`; None where it has none."""

    max_tokens: str | None = "max_tokens"
    temperature: str | None = "temperature"
    top_p: str | None = "top_p"
    stop: str | None = "stop"


def samplers(request: ChatRequest, names: SamplerNames) -> dict[str, Any]:
    """The samplers the request sets, under the protocol's names (unset ones are left out)."""
    values = (
        (names.max_tokens, request.max_tokens),
        (names.temperature, request.temperature),
        (names.top_p, request.top_p),
        (names.stop, list(request.stop) or None),
    )
    return {name: value for name, value in values if name is not None and value is not None}


# Turns a protocol's SSE events into ChatEvents; the secrets are redacted from stream errors.
EventParser = Callable[[AsyncIterator[SSEEvent], tuple[str, ...]], AsyncGenerator[ChatEvent, None]]


def int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class Adapter(Protocol):
    async def list_models(self, conn: Connection, http: httpx.AsyncClient) -> list[ModelInfo]: ...

    async def test_key(self, conn: Connection, http: httpx.AsyncClient) -> KeyCheck: ...

    async def chat(self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient) -> ChatResult: ...

    def stream_chat(
        self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient
    ) -> AsyncIterator[ChatEvent]: ...

    def base_url(self, provider: Provider, endpoint_url: str, values: Mapping[str, str]) -> str: ...

    def check_key(self, provider: Provider, key: str) -> None: ...


def key_check_result(error: ProviderError) -> KeyCheck:
    return KeyCheck(status="invalid" if error.invalidates else "unchecked", error=error)


class BaseAdapter:
    """Shared plumbing. Subclasses implement `list_models`, `chat` and `stream_chat`."""

    probe_max_tokens = 1

    # --- hooks used by connect() --------------------------------------------------------------

    def base_url(self, provider: Provider, endpoint_url: str, values: Mapping[str, str]) -> str:
        return endpoint_url.format(**values).rstrip("/")

    def check_key(self, provider: Provider, key: str) -> None:
        """Raise `options.OptionsError` when the key cannot be right for this protocol."""

    # --- headers ------------------------------------------------------------------------------

    async def auth_headers(self, conn: Connection, http: httpx.AsyncClient) -> dict[str, str]:
        return conn.provider.auth.headers(conn.key())

    async def headers(
        self, conn: Connection, http: httpx.AsyncClient, base: Mapping[str, str] = JSON_HEADERS,
        *, auth: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """Custom headers, then the provider's fixed ones, field headers, ours and auth on top."""
        fields = {f.header: conn.values[f.name] for f in conn.provider.fields if f.header and f.name in conn.values}
        auth = await self.auth_headers(conn, http) if auth is None else auth
        return merge_headers(conn.headers, conn.provider.headers, fields, base, auth)

    # --- requests -----------------------------------------------------------------------------

    def error(
        self, conn: Connection, response: httpx.Response | Reply, content: bytes, *, probe: bool = False,
    ) -> ProviderError:
        """A ProviderError for a non-2xx response; protocols refine via `kind_override`.

        `probe`: the request asked for the model list (or the key endpoint) under the base URL, so
        behind a Custom Base URL a 404 means the path is wrong. Anywhere else it means the model.
        """
        kind = self.kind_override(conn, response.status_code, content)
        return from_response(
            response.status_code, response.headers, content,
            secrets=conn.secrets(), custom_base=conn.custom_base and probe, kind=kind,
        )

    @staticmethod
    @contextlib.contextmanager
    def mapped(conn: Connection) -> Iterator[None]:
        """Transport/parse failures inside the block -> ProviderError, secrets redacted.

        The connection's secrets (the key, custom header values) are also registered with the log
        scrubber for the block: a library logging this request at DEBUG cannot print them.
        """
        secrets = conn.secrets()
        with hide_secrets(secrets), map_upstream_errors(secrets=secrets, custom_base=conn.custom_base):
            yield

    def kind_override(self, conn: Connection, status: int, content: bytes) -> str | None:
        return None

    async def send(
        self, conn: Connection, http: httpx.AsyncClient, method: str, url: str, *,
        json_body: Any = None, params: Mapping[str, str] | None = None, headers: dict[str, str] | None = None,
        probe: bool = False,
    ) -> Any:
        """One JSON request; the parsed JSON answer, or ProviderError (`probe`: see `error`)."""
        response = await self.fetch(conn, http, method, url, json_body=json_body, params=params, headers=headers,
                                    probe=probe)
        return self.decoded(conn, response, json.loads, probe=probe)

    async def fetch(
        self, conn: Connection, http: httpx.AsyncClient, method: str, url: str, *,
        json_body: Any = None, params: Mapping[str, str] | None = None, headers: dict[str, str] | None = None,
        probe: bool = False,
    ) -> Reply:
        """One request, its answer read whole; ProviderError for a failure or a non-2xx answer."""
        headers = headers if headers is not None else await self.headers(conn, http)
        with self.mapped(conn):
            response = await _open(http, method, url, json_body, params, headers)
            content = await response.aread()
            if not response.is_success:
                raise self.error(conn, response, content, probe=probe)
        return response

    @staticmethod
    def decoded(conn: Connection, response: Reply, parse: Callable[[bytes], Any], *, probe: bool) -> Any:
        """`parse(body)` (None for an empty body); a body `parse` refuses as not JSON is a bad_response."""
        content = response.content
        try:
            return parse(content) if content else None
        except ValueError:
            raise ProviderError(
                "bad_response", f"Expected JSON from {response.url.path}, got something else.",
                status=response.status_code, custom_base=conn.custom_base and probe,
            ) from None

    async def open_stream(
        self, conn: Connection, http: httpx.AsyncClient, url: str, body: Any, *,
        params: Mapping[str, str] | None = None, headers: dict[str, str] | None = None,
    ) -> AsyncGenerator[SSEEvent, None]:
        """POST and yield the SSE events of the answer as they arrive."""
        async with aclosing(self.open_stream_reads(conn, http, url, body, params=params, headers=headers)) as reads:
            async for events in reads:
                for event in events:
                    yield event

    async def open_stream_reads(
        self, conn: Connection, http: httpx.AsyncClient, url: str, body: Any, *,
        params: Mapping[str, str] | None = None, headers: dict[str, str] | None = None,
    ) -> AsyncGenerator[list[SSEEvent], None]:
        """`open_stream`, one list per read of the answer: the events that arrived together
        (never an empty list)."""
        headers = headers if headers is not None else await self.headers(conn, http, STREAM_HEADERS)
        with self.mapped(conn):
            response = await _open(http, "POST", url, body, params, headers)
            try:
                if not response.is_success:
                    raise self.error(conn, response, await response.aread())
                if response.headers.get("content-type", "").startswith("application/json"):
                    # A server that ignored "stream": the whole answer as one event named "json".
                    yield [SSEEvent("json", (await response.aread()).decode("utf-8", "replace"))]
                    return
                decoder = SSEDecoder()
                async for chunk in response.aiter_bytes():
                    if events := decoder.feed(chunk):
                        yield events
                if events := decoder.close():
                    yield events
            finally:
                await response.aclose()

    # --- chat helpers -------------------------------------------------------------------------

    @staticmethod
    def model_for(conn: Connection, request: ChatRequest) -> str:
        model = request.model or conn.model
        if not model:
            raise ProviderError("bad_request", "No model chosen: pick one in the scene or pin a Model ID on the config.")
        return model

    async def chat(self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient) -> ChatResult:
        """Default non-streaming chat: collect the stream (protocols with a JSON endpoint override)."""
        text: list[str] = []
        reasoning: list[str] = []
        usage: Usage | None = None
        finish = None
        async for event in self.stream_chat(conn, request, http):
            if event.kind == "text":
                text.append(event.text)
            elif event.kind == "reasoning":
                reasoning.append(event.text)
            elif event.kind == "usage":
                usage = event.usage
            else:
                finish = event.finish_reason
        return ChatResult("".join(text), "".join(reasoning), usage, finish, self.model_for(conn, request))

    async def stream_chat(
        self, conn: Connection, request: ChatRequest, http: httpx.AsyncClient
    ) -> AsyncIterator[ChatEvent]:
        """Relay the parsed events of the protocol's stream. Stopping early closes the parser and
        the response; a transport or parse failure becomes a ProviderError."""
        model = self.model_for(conn, request)
        stream, parse = await self.chat_stream(conn, request, model, http)
        async with aclosing(stream) as events, aclosing(parse(events, conn.secrets())) as chat:
            with self.mapped(conn):
                async for event in chat:
                    yield event

    async def chat_stream(
        self, conn: Connection, request: ChatRequest, model: str, http: httpx.AsyncClient
    ) -> tuple[AsyncGenerator[SSEEvent, None], EventParser]:
        """The opened SSE stream of a chat and the parser of its events (see `stream_chat`)."""
        raise NotImplementedError

    async def list_models(self, conn: Connection, http: httpx.AsyncClient) -> list[ModelInfo]:
        raise NotImplementedError

    # --- key test -----------------------------------------------------------------------------

    async def test_key(self, conn: Connection, http: httpx.AsyncClient) -> KeyCheck:
        """Run the provider's key check, then fill the model list (docs/architecture.md, "Testing a key")."""
        check = conn.provider.key_check
        try:
            if isinstance(check, AuthEndpoint):
                await self.auth_check(conn, http, check)
            elif isinstance(check, ProbeChat):
                await self.probe(conn, http, conn.model or check.model)
            else:
                return KeyCheck(status="valid", models=tuple(await self.list_models(conn, http)))
        except ProviderError as exc:
            return key_check_result(exc)
        # The key is proven; a failing (public) list is reported but does not undo that.
        try:
            models = await self.list_models(conn, http)
        except ProviderError as exc:
            return KeyCheck(status="valid", error=exc)
        return KeyCheck(status="valid", models=tuple(models))

    async def auth_check(self, conn: Connection, http: httpx.AsyncClient, check: AuthEndpoint) -> None:
        auth = check.auth.headers(conn.key()) if check.auth else None
        headers = await self.headers(conn, http, auth=auth)
        await self.send(conn, http, check.method, conn.url(check.base) + check.path, headers=headers, probe=True)

    async def probe(self, conn: Connection, http: httpx.AsyncClient, model: str | None) -> None:
        """A one-token generation. The key passed if the provider got past authentication:
        a 400/404 about the model or the body still proves the key (it was checked first)."""
        if not model:
            models = await self.list_models(conn, http)
            model = models[0].id if models else None
        request = ChatRequest(messages=(ChatMessage("user", "Hi"),), model=model or "", max_tokens=self.probe_max_tokens)
        try:
            await self.chat(conn, request, http)
        except ProviderError as exc:
            if exc.kind not in ("bad_request", "not_found", "context_too_long"):
                raise

    @staticmethod
    def static_list(conn: Connection) -> list[ModelInfo] | None:
        source = conn.provider.models
        return static_models(source.key) if isinstance(source, StaticModels) else None


async def _open(
    http: httpx.AsyncClient, method: str, url: str, json_body: Any, params: Mapping[str, str] | None,
    headers: Mapping[str, str],
) -> Reply:
    """The request through the guarded client's `open` (below httpx's request and response objects),
    its JSON body encoded as httpx would."""
    if not isinstance(http, GuardedClient):
        raise TypeError("adapters take the one client from rolecall.net.make_client")
    target = _parsed(url) if not params else _parsed(url).copy_merge_params(params)
    content = None
    if json_body is not None:
        content = jsontext.dumps(json_body)
        if not any(name.lower() == "content-type" for name in headers):
            headers = {**headers, "content-type": "application/json"}
    return await http.open(method, target, headers=headers, content=content)


@functools.lru_cache(maxsize=512)
def _parsed(url: str) -> httpx.URL:
    """A config's endpoint, parsed once (httpx parses and quotes a string URL on every request:
    ~20 us of a streamed call's set-up). Only endpoints are kept: keys travel in headers."""
    return httpx.URL(url)
