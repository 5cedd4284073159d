"""The nouns of `rolecall.providers`: frozen records with no I/O.

A `Provider` is pure data (see `registry.py`); a `Connection` is one provider resolved for one
config (base URL, key, fields, custom headers and body params); `ChatRequest` / `ChatEvent` /
`ChatResult` are the normalized chat shapes every protocol adapter turns into its wire format
and back; `ModelInfo` is one row of a model list; `KeyCheck` is the outcome of "Test key".

Keys: `Connection.api_key` is whatever the caller holds, a plain `str` or an object with
`.reveal()` (our `crypto.Secret`). It is revealed only where an auth header is built
(`Connection.key()`), and `repr`/`str`/pickle of a Connection never show it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from rolecall.redact import masked_hint

if TYPE_CHECKING:
    from rolecall.providers.auth import AuthScheme
    from rolecall.providers.errors import ProviderError

Category = Literal["major", "openai_compatible", "specialized", "enterprise", "regional", "free", "custom"]
CATEGORIES: tuple[Category, ...] = (
    "major", "openai_compatible", "specialized", "enterprise", "regional", "free", "custom",
)
FieldLevel = Literal["required", "optional", "advanced"]
KeyPolicy = Literal["required", "optional", "none"]
Role = Literal["system", "user", "assistant"]
EventKind = Literal["text", "reasoning", "usage", "finish"]
KeyStatus = Literal["valid", "invalid", "unchecked"]
CAPABILITIES = ("vision", "tools", "json", "web_search", "reasoning")

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def frozen_map(values: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """A read-only copy, so records stay immutable even when built from a dict."""
    return MappingProxyType(dict(values)) if values else _EMPTY


# --- registry records -------------------------------------------------------------------------

@dataclass(frozen=True)
class Field:
    """One input of the Add Provider form, rendered by the UI from this record.

    **Parameters:**
    * name: stable key of the value (`resource_name`, `region`, ...).
    * kind: `text`, `password`, `textarea`, `select`, `url` or `lines`.
    * level: `required` (always shown, must be filled), `optional` or `advanced` (behind the toggle).
    * pattern: a full-match regex the value must satisfy (host-injection guard for URL parts).
    * header: when set, the value is sent as this request header (OpenAI's Organization ID).
    """

    name: str
    label: str
    kind: str = "text"
    level: FieldLevel = "required"
    help: str = ""
    placeholder: str = ""
    default: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    pattern: str | None = None
    max_length: int = 256
    secret: bool = False
    header: str | None = None


@dataclass(frozen=True)
class Endpoint:
    """A named base URL; a provider with several offers the "Endpoint Type" choice."""

    id: str
    label: str
    url: str


@dataclass(frozen=True)
class CapRule:
    """`cap` is present when `path` is truthy, or (with `contains`) when it holds that value."""

    cap: str
    path: str
    contains: str | None = None


@dataclass(frozen=True)
class Keep:
    """Keep a listed model only if `path` is truthy / equals / contains `value` (missing = keep)."""

    path: str
    equals: Any = None
    contains: str | None = None


def _caps(*rules: tuple[str, str] | tuple[str, str, str]) -> tuple[CapRule, ...]:
    return tuple(CapRule(*rule) for rule in rules)


# Capability spellings seen across OpenAI-compatible lists. Applying all
# of them everywhere is safe: a path a provider does not use is simply absent.
DEFAULT_CAPS = _caps(
    ("vision", "capabilities.vision"), ("vision", "supports_image_in"), ("vision", "supports_image_input"),
    ("vision", "metadata.vision"), ("vision", "architecture.input_modalities", "image"),
    ("vision", "input_modalities", "image"), ("vision", "features", "openai/chat-completion.vision"),
    ("vision", "vision"), ("tools", "tools"), ("reasoning", "reasoning"),  # Pollinations' booleans
    ("tools", "capabilities.function_calling"), ("tools", "capabilities.tool_calling"), ("tools", "supports_tools"),
    ("tools", "metadata.function_call"), ("tools", "supported_parameters", "tools"),
    ("tools", "features", "openai/chat-completion.function"),
    ("reasoning", "capabilities.reasoning"), ("reasoning", "supports_reasoning"), ("reasoning", "metadata.reasoning"),
    ("reasoning", "supported_parameters", "reasoning"),
    ("json", "supported_parameters", "response_format"), ("json", "supported_parameters", "structured_outputs"),
)


@dataclass(frozen=True)
class ModelFields:
    """Where a models-list item keeps its metadata (dotted paths; the first one present wins).

    Defaults cover the common OpenAI-compatible spellings (Groq `context_window`, OpenRouter
    `context_length`, Mistral `max_context_length`, vLLM `max_model_len`); entries override what
    differs. Prices are converted to USD per million tokens using `price_per` (tokens the listed
    price is for: 1 for OpenRouter's per-token strings, 1_000_000 for NanoGPT).
    """

    id: tuple[str, ...] = ("id", "name")
    name: tuple[str, ...] = ("display_name", "name")
    context: tuple[str, ...] = (
        "context_window", "context_length", "max_context_length", "max_model_len", "top_provider.context_length",
    )
    max_output: tuple[str, ...] = ("max_completion_tokens", "top_provider.max_completion_tokens")
    caps: tuple[CapRule, ...] = DEFAULT_CAPS
    price_in: str | None = None
    price_out: str | None = None
    price_per: int = 1_000_000
    keep: tuple[Keep, ...] = ()
    drop_ids: str | None = None  # regex (search) on the id: embeddings, speech, images...
    all_free: bool = False


@dataclass(frozen=True, eq=False)
class ModelsEndpoint:
    """The provider lists its models at `path` (relative to the base URL).

    `validates_key` is False where the list is public (OpenRouter, NanoGPT, AIML, Pollinations):
    a 200 from it proves nothing about the key, so the key check must be something else.
    """

    path: str = "/models"
    query: Mapping[str, str] = field(default_factory=dict)
    validates_key: bool = True
    fields: ModelFields = ModelFields()


@dataclass(frozen=True)
class StaticModels:
    """No usable list endpoint: the models come from `providers/data/static_models.json[key]`."""

    key: str


@dataclass(frozen=True)
class ViaModels:
    """Testing the key = listing the models (the list needs a valid key)."""


@dataclass(frozen=True)
class AuthEndpoint:
    """Testing the key = one call to an auth-only endpoint, e.g. OpenRouter `GET /key`.

    `base` names an entry of `Provider.urls` (another host of the same provider); with a custom
    base URL, every host collapses onto it, so tests and proxies never reach the real host.
    `auth` overrides the provider's scheme for this call (NanoGPT's check-balance wants x-api-key).
    """

    path: str
    method: str = "GET"
    base: str | None = None
    auth: AuthScheme | None = None


@dataclass(frozen=True)
class ProbeChat:
    """Testing the key = a one-token generation (no auth-only endpoint exists). Spends a token."""

    model: str | None = None


@dataclass(frozen=True)
class TokenExchange:
    """Testing the key = exchanging the service-account JSON for an OAuth token (Vertex)."""


KeyCheckSpec = ViaModels | AuthEndpoint | ProbeChat | TokenExchange
ModelsSource = ModelsEndpoint | StaticModels


@dataclass(frozen=True, eq=False)
class Provider:
    """One provider, as data. See `registry.py` for every entry and the meaning of each field."""

    id: str
    name: str
    category: Category
    protocol: str
    endpoints: tuple[Endpoint, ...]
    auth: AuthScheme
    models: ModelsSource
    key_check: KeyCheckSpec = ViaModels()
    key_policy: KeyPolicy = "required"
    key_prefixes: tuple[str, ...] = ()
    key_url: str | None = None
    key_label: str = "API Key"
    key_kind: str = "password"
    fields: tuple[Field, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    urls: Mapping[str, str] = field(default_factory=dict)
    max_tokens_param: str = "max_tokens"
    stream_usage: bool = True
    discover_base: bool = False
    open_model_samplers: bool = False  # takes top_k, min_p and repetition_penalty (open-model servers)
    notes: str = ""

    @property
    def needs_key(self) -> bool:
        return self.key_policy == "required"

    @property
    def default_endpoint(self) -> Endpoint:
        return self.endpoints[0]

    def endpoint(self, endpoint_id: str | None) -> Endpoint:
        """The endpoint with this id; the default one for None or ""."""
        if not endpoint_id:
            return self.endpoints[0]
        for endpoint in self.endpoints:
            if endpoint.id == endpoint_id:
                return endpoint
        choices = ", ".join(e.id for e in self.endpoints)
        raise KeyError(f"{self.name} has no endpoint type {endpoint_id!r} (choose one of: {choices})")


# --- a resolved connection --------------------------------------------------------------------

def reveal(secret: Any) -> str:
    """The plaintext of a `str` or of an object with `.reveal()` (our `crypto.Secret`)."""
    return secret if isinstance(secret, str) else secret.reveal()


@dataclass(frozen=True, repr=False, eq=False)
class Connection:
    """One provider config resolved for a call: where to go, with what, under which options.

    Build it with `rolecall.providers.connect(...)`, which validates every part. `base_url` has
    no trailing slash. `values` holds provider fields (Azure deployment, Vertex region, Org ID).
    `custom_base` is True when the base URL came from the person rather than the registry (a 404
    then means "wrong path", see `errors.explain`).
    """

    provider: Provider
    base_url: str
    api_key: Any = None
    endpoint_type: str = ""
    values: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] = field(default_factory=dict)
    model: str | None = None
    custom_base: bool = False

    def key(self) -> str | None:
        """The plaintext key; call only where the auth header is built."""
        return None if self.api_key is None else reveal(self.api_key)

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in an error message (the key, secret custom headers)."""
        key = self.key()
        found = [key] if key else []
        found += [v for v in self.headers.values() if len(v) >= 8]
        return tuple(found)

    def url(self, name: str | None) -> str:
        """The base of an auxiliary host (`Provider.urls[name]`), or the base URL for None.

        With a custom base URL every host collapses onto it: a proxy (or a test fake) then
        receives the auth check too, and the key never goes to a host the person did not choose.
        """
        if name is None or self.custom_base:
            return self.base_url
        return self.provider.urls[name].rstrip("/")

    def __repr__(self) -> str:
        key = "None" if self.api_key is None else repr(masked_hint(self.key() or ""))
        return (
            f"Connection(provider={self.provider.id!r}, base_url={self.base_url!r}, key={key}, "
            f"endpoint_type={self.endpoint_type!r}, values={sorted(self.values)!r}, "
            f"headers={sorted(self.headers)!r}, body={sorted(self.body)!r}, model={self.model!r})"
        )

    __str__ = __repr__

    def __reduce__(self) -> Any:
        # A connection holds a plaintext key: it must never ride into a queue or a cache.
        raise TypeError("a Connection holds a provider key and cannot be pickled")


# --- chat -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image sent with a message: its media type (image/png, image/jpeg, ...) and base64 data."""

    media_type: str
    data: str

    def __repr__(self) -> str:
        return f"ImagePart({self.media_type}, {len(self.data)} base64 chars)"


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message. ``images`` go with it where a protocol can send them (`protocols.takes_images`);
    callers skip other protocols for a turn with images."""

    role: Role
    content: str
    images: tuple[ImagePart, ...] = ()


@dataclass(frozen=True)
class ChatRequest:
    """A normalized chat request; each adapter maps it onto its wire format.

    `model` may be empty when the connection pins one. `params` are per-request extras (preset
    samplers) merged into the body after the config's custom body params; reserved names
    (model, messages, stream, ...) are refused by `options.check_body`.
    """

    messages: tuple[ChatMessage, ...]
    model: str = ""
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """One step of a stream: a text delta, a reasoning delta, usage, or the finish (always last).

    `finish_reason` is normalized: stop, length, content_filter, tool_calls, error, or the
    provider's own word lower-cased when it is none of those.
    """

    kind: EventKind
    text: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class ChatResult:
    text: str
    reasoning: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str | None = None


# --- models and key checks --------------------------------------------------------------------

@dataclass(frozen=True)
class ModelInfo:
    """One model row. Prices are USD per million tokens; `free` is None when unknown.

    `source` says where the details came from: "provider" (its list endpoint) or "static"
    (RoleCall's curated list, for providers without one).
    """

    id: str
    name: str | None = None
    context_window: int | None = None
    max_output: int | None = None
    capabilities: frozenset[str] = frozenset()
    input_price: float | None = None
    output_price: float | None = None
    free: bool | None = None
    source: str = "provider"


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of "Test key".

    * status: `valid`, `invalid` (the config cannot work: bad key, no access, lapsed billing,
      wrong path) or `unchecked` (429, 5xx, network: the status pill stays as it was).
    * models: the list to cache (may be non-empty only when valid).
    * error: what went wrong; a valid check may still carry the error of the model listing.
    * base_url: for endpoints with auto-detection, the base that answered (remember it).
    """

    status: KeyStatus
    models: tuple[ModelInfo, ...] = ()
    error: ProviderError | None = None
    base_url: str | None = None
