"""THE DATA: every provider RoleCall can connect to, one `Provider(...)` record each.

Adding an OpenAI-compatible provider is one record here and nothing else: the form, the key
check, the model list and the chat path all come from the record (docs/architecture.md,
"Providers are data, protocols are code").
Provider id string literals belong in this file only (and in `protocols/`, tests and fakes);
`tests/providers/test_registry.py` enforces that.

Facts come from the providers' public API documentation. Where the research marked a
fact UNCONFIRMED, the record says so in `notes` and uses the most likely value.

Reading a record:
* endpoints: named base URLs; several of them = the "Endpoint Type" choice (first is default).
  `{name}` placeholders are filled from the provider's fields (Azure resource name).
* models: `ModelsEndpoint` (list at a path, with the field map of its metadata) or
  `StaticModels` (our curated list in `data/static_models.json`).
* key_check: `ViaModels` (the list needs a valid key), `AuthEndpoint` (an auth-only call, because
  the list is public), `ProbeChat` (a one-token generation: no list and no auth endpoint, or
  Azure's deployment) or `TokenExchange` (Vertex's service account).
* urls: other hosts of the same provider (an account API used for the key check).
* open_model_samplers: the server takes top_k, min_p and repetition_penalty besides OpenAI's
  own samplers (OpenAI itself answers 400 to them); preset samplers use it.
"""

from __future__ import annotations

from rolecall.providers.auth import Bearer, HeaderKey, ServiceAccount
from rolecall.providers.types import (
    CATEGORIES,
    AuthEndpoint,
    Endpoint,
    Field,
    Keep,
    ModelFields,
    ModelsEndpoint,
    ProbeChat,
    Provider,
    StaticModels,
    TokenExchange,
)

_NON_CHAT = r"embed|tts|whisper|dall-e|moderation|davinci|babbage|transcri|realtime|audio|image|sora|search-api|computer-use"


def _one(url: str) -> tuple[Endpoint, ...]:
    return (Endpoint("default", "Default", url),)


PROVIDERS: tuple[Provider, ...] = (
    # --- major ---------------------------------------------------------------------------------
    Provider(
        id="openai", name="OpenAI", category="major", protocol="openai_compat",
        endpoints=_one("https://api.openai.com/v1"), auth=Bearer(),
        key_prefixes=("sk-", "sk-proj-", "sk-svcacct-"), key_url="https://platform.openai.com/api-keys",
        models=ModelsEndpoint("/models", fields=ModelFields(drop_ids=_NON_CHAT)),
        fields=(Field(
            "organization", "Organization ID", level="advanced", placeholder="org-...",
            pattern=r"[A-Za-z0-9_-]{1,64}", header="OpenAI-Organization",
            help="OpenAI-only. Bills usage to a specific organization rather than your personal account. "
            "Useful if you're connecting a work or shared key.",
        ),),
        max_tokens_param="max_completion_tokens",  # o-series / gpt-5 refuse max_tokens
    ),
    Provider(
        id="anthropic", name="Anthropic", category="major", protocol="anthropic",
        endpoints=_one("https://api.anthropic.com/v1"), auth=HeaderKey("x-api-key"),
        key_prefixes=("sk-ant-",), key_url="https://console.anthropic.com/settings/keys",
        models=ModelsEndpoint("/models"),
        notes="A disabled key answers 404 on /models; the adapter reports that as an auth failure.",
    ),
    Provider(
        id="openrouter", open_model_samplers=True, name="OpenRouter", category="major", protocol="openai_compat",
        endpoints=_one("https://openrouter.ai/api/v1"), auth=Bearer(),
        key_prefixes=("sk-or-",), key_url="https://openrouter.ai/keys",
        models=ModelsEndpoint("/models", validates_key=False, fields=ModelFields(
            price_in="pricing.prompt", price_out="pricing.completion", price_per=1,
        )),
        key_check=AuthEndpoint("/key"),  # the list is public and edge-cached
        headers={"X-Title": "RoleCall"},
    ),
    Provider(
        id="gemini", name="Google AI (Gemini)", category="major", protocol="gemini",
        endpoints=_one("https://generativelanguage.googleapis.com/v1beta"), auth=HeaderKey("x-goog-api-key"),
        key_prefixes=("AIza",), key_url="https://aistudio.google.com/app/apikey",
        models=ModelsEndpoint("/models"),
        notes="A bad key answers 400 API_KEY_INVALID, not 401; 403 means valid key without access.",
    ),
    # --- OpenAI-compatible ---------------------------------------------------------------------
    Provider(
        id="mistral", name="Mistral AI", category="openai_compatible", protocol="openai_compat",
        endpoints=_one("https://api.mistral.ai/v1"), auth=Bearer(),
        key_url="https://console.mistral.ai/api-keys",
        models=ModelsEndpoint("/models", fields=ModelFields(keep=(Keep("capabilities.completion_chat"),))),
        stream_usage=False,  # UNCONFIRMED whether stream_options is accepted; usage arrives anyway
    ),
    Provider(
        id="groq", name="Groq", category="openai_compatible", protocol="openai_compat",
        endpoints=_one("https://api.groq.com/openai/v1"), auth=Bearer(),
        key_prefixes=("gsk_",), key_url="https://console.groq.com/keys",
        models=ModelsEndpoint("/models", fields=ModelFields(drop_ids=r"whisper|tts|playai", keep=(Keep("active"),))),
    ),
    Provider(
        id="perplexity", name="Perplexity", category="openai_compatible", protocol="openai_compat",
        endpoints=_one("https://api.perplexity.ai"), auth=Bearer(),
        key_prefixes=("pplx-",), key_url="https://www.perplexity.ai/settings/api",
        models=StaticModels("perplexity"), key_check=ProbeChat("sonar"), stream_usage=False,
        notes="No models endpoint: static list, key tested with a one-token generation.",
    ),
    Provider(
        id="deepseek", name="DeepSeek", category="openai_compatible", protocol="openai_compat",
        endpoints=_one("https://api.deepseek.com"), auth=Bearer(),
        key_prefixes=("sk-",), key_url="https://platform.deepseek.com/api_keys",
        models=ModelsEndpoint("/models"),
    ),
    Provider(
        id="xai", name="xAI (Grok)", category="openai_compatible", protocol="openai_compat",
        endpoints=_one("https://api.x.ai/v1"), auth=Bearer(),
        key_prefixes=("xai-",), key_url="https://console.x.ai",
        models=ModelsEndpoint("/models", fields=ModelFields(drop_ids=r"image|imagine")),
        notes="A bad key may answer 400 'Incorrect API key provided'; errors.BODY_MARKERS maps it to auth.",
    ),
    Provider(
        id="ai21", name="AI21", category="openai_compatible", protocol="openai_compat",
        endpoints=_one("https://api.ai21.com/studio/v1"), auth=Bearer(),
        key_url="https://studio.ai21.com/account/api-key",
        models=StaticModels("ai21"), key_check=ProbeChat("jamba-mini"), stream_usage=False,
        notes="/models reportedly answers an empty list even without a key: static list + probe. "
        "Key URL UNCONFIRMED.",
    ),
    Provider(
        id="fireworks", open_model_samplers=True, name="Fireworks AI", category="openai_compatible", protocol="openai_compat",
        endpoints=_one("https://api.fireworks.ai/inference/v1"), auth=Bearer(),
        key_prefixes=("fw_",), key_url="https://fireworks.ai/account/api-keys",
        models=ModelsEndpoint("/models", fields=ModelFields(keep=(Keep("supports_chat"),))),
        notes="Key prefix fw_ UNCONFIRMED. 412 = account blocked (maps to billing).",
    ),
    Provider(
        id="aimlapi", name="AIML API", category="openai_compatible", protocol="openai_compat",
        endpoints=_one("https://api.aimlapi.com/v1"), auth=Bearer(),
        key_url="https://aimlapi.com/app/keys",
        models=ModelsEndpoint("/models", validates_key=False, fields=ModelFields(
            name=("info.name", "name"), context=("info.contextLength", "context_length"),
            keep=(Keep("type", equals="chat-completion"),),
        )),
        key_check=ProbeChat("gpt-4o-mini"),
        notes="Public model list and no auth-only endpoint found: key tested with a one-token generation "
        "(probe model UNCONFIRMED).",
    ),
    Provider(
        id="nanogpt", open_model_samplers=True, name="NanoGPT", category="openai_compatible", protocol="openai_compat",
        endpoints=(
            Endpoint("paygo", "Pay-per-use", "https://nano-gpt.com/api/v1"),
            Endpoint("subscription", "Subscription", "https://nano-gpt.com/api/subscription/v1"),
        ),
        auth=Bearer(), key_prefixes=("sk-nano-",), key_url="https://nano-gpt.com/api",
        models=ModelsEndpoint("/models", query={"detailed": "true"}, validates_key=False, fields=ModelFields(
            price_in="pricing.prompt", price_out="pricing.completion", price_per=1_000_000,
        )),
        key_check=AuthEndpoint("/check-balance", method="POST", base="account", auth=HeaderKey("x-api-key")),
        urls={"account": "https://nano-gpt.com/api"},
        notes="Subscription chat/models paths UNCONFIRMED in official docs (used by several clients).",
    ),
    Provider(
        id="electronhub", name="ElectronHub", category="openai_compatible", protocol="openai_compat",
        endpoints=_one("https://api.electronhub.ai/v1"), auth=Bearer(),
        key_prefixes=("ek-",), key_url="https://playground.electronhub.ai/console",
        models=ModelsEndpoint("/models", fields=ModelFields(
            context=("tokens", "context_length"), price_in="pricing.input", price_out="pricing.output",
            keep=(Keep("endpoints", contains="/v1/chat/completions"),),
        )),
        notes="Whether /models needs a key is UNCONFIRMED; assumed it does. Key URL UNCONFIRMED.",
    ),
    Provider(
        id="cometapi", name="CometAPI", category="openai_compatible", protocol="openai_compat",
        endpoints=_one("https://api.cometapi.com/v1"), auth=Bearer(),
        key_url="https://api.cometapi.com/console/token",
        models=ModelsEndpoint("/models", fields=ModelFields(drop_ids=_NON_CHAT)),
        notes="Key format and whether /models validates the key are UNCONFIRMED; assumed it does.",
    ),
    # --- specialized ---------------------------------------------------------------------------
    Provider(
        id="cohere", name="Cohere", category="specialized", protocol="cohere",
        endpoints=_one("https://api.cohere.com"), auth=Bearer(),
        key_url="https://dashboard.cohere.com/api-keys",
        models=ModelsEndpoint("/v1/models", query={"endpoint": "chat", "page_size": "1000"}),
    ),
    Provider(
        id="novelai", name="NovelAI", category="specialized", protocol="novelai",
        endpoints=_one("https://text.novelai.net"), auth=Bearer(),
        key_prefixes=("pst-",), key_label="Persistent API Token",
        key_url="https://novelai.net (Account Settings → Get Persistent API Token)",
        models=StaticModels("novelai"), key_check=AuthEndpoint("/user/subscription", base="account"),
        urls={"account": "https://api.novelai.net"},
        notes="No models endpoint: static list; key tested on the account API. pst- prefix UNCONFIRMED.",
    ),
    # --- enterprise ----------------------------------------------------------------------------
    Provider(
        id="azure_openai", name="Azure OpenAI", category="enterprise", protocol="azure_openai",
        endpoints=_one("https://{resource_name}.openai.azure.com/openai"), auth=HeaderKey("api-key"),
        key_url="https://portal.azure.com (your resource → Keys and Endpoint)",
        models=ModelsEndpoint("/models"), key_check=ProbeChat(),  # GET /models, then 1 token on the deployment
        fields=(
            Field("resource_name", "Resource Name", placeholder="my-resource", pattern=r"[a-z0-9][a-z0-9-]{1,62}",
                  help="The name in https://<resource>.openai.azure.com."),
            Field("deployment_id", "Deployment ID", placeholder="gpt-4o-prod", pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}",
                  help="The deployment name you chose in Azure (not the model name)."),
            Field("api_version", "API Version", default="2024-10-21", pattern=r"\d{4}-\d{2}-\d{2}(-preview)?",
                  help="The data-plane API version, e.g. 2024-10-21."),
        ),
        max_tokens_param="max_completion_tokens",
    ),
    Provider(
        id="vertex", name="Vertex AI (Google Cloud)", category="enterprise", protocol="vertex",
        endpoints=_one("https://{region}-aiplatform.googleapis.com/v1"), auth=ServiceAccount(),
        key_label="Service Account JSON", key_kind="textarea",
        key_url="https://console.cloud.google.com/iam-admin/serviceaccounts",
        models=StaticModels("vertex"), key_check=TokenExchange(),
        fields=(
            Field("region", "Region", default="us-central1", placeholder="us-central1",
                  pattern=r"global|us|eu|[a-z]+-[a-z]+[0-9]{1,2}", help="Where the models run, e.g. us-east5 for Claude."),
            Field("project_id", "Project ID", level="optional", pattern=r"[a-z][a-z0-9-]{4,28}[a-z0-9]",
                  help="Defaults to project_id in the service-account JSON."),
        ),
        notes="Key test = token exchange (proves the service account); a model may still need enabling in "
        "Model Garden. Claude models go through rawPredict/streamRawPredict.",
    ),
    # --- regional ------------------------------------------------------------------------------
    Provider(
        id="moonshot", name="Moonshot (Kimi)", category="regional", protocol="openai_compat",
        endpoints=(
            Endpoint("international", "International", "https://api.moonshot.ai/v1"),
            Endpoint("china", "China", "https://api.moonshot.cn/v1"),
        ),
        auth=Bearer(), key_prefixes=("sk-",), key_url="https://platform.moonshot.ai/console/api-keys",
        models=ModelsEndpoint("/models"),
    ),
    Provider(
        id="siliconflow", name="SiliconFlow", category="regional", protocol="openai_compat",
        endpoints=(
            Endpoint("global", "Global", "https://api.siliconflow.com/v1"),
            Endpoint("cn", "China", "https://api.siliconflow.cn/v1"),
        ),
        auth=Bearer(), key_prefixes=("sk-",), key_url="https://cloud.siliconflow.com/account/ak",
        models=ModelsEndpoint("/models", query={"type": "text", "sub_type": "chat"}),
    ),
    Provider(
        id="zai", name="Z.AI (Zhipu)", category="regional", protocol="openai_compat",
        endpoints=(
            Endpoint("common", "Common", "https://api.z.ai/api/paas/v4"),
            Endpoint("coding", "Coding", "https://api.z.ai/api/coding/paas/v4"),
        ),
        auth=Bearer(), key_url="https://z.ai/manage-apikey/apikey-list",
        models=StaticModels("zai"), key_check=ProbeChat("glm-4.5-air"),
        headers={"Accept-Language": "en-US,en"},
        notes="No models endpoint: static list + one-token probe. 429 also covers exhausted balance.",
    ),
    # --- free ----------------------------------------------------------------------------------
    Provider(
        id="pollinations", name="Pollinations", category="free", protocol="openai_compat",
        endpoints=_one("https://gen.pollinations.ai/v1"), auth=Bearer(), key_policy="optional",
        key_prefixes=("sk_", "pk_"), key_url="https://enter.pollinations.ai",
        models=ModelsEndpoint("/models", validates_key=False, fields=ModelFields(all_free=True)),
        key_check=ProbeChat("openai"),
        notes="Key optional; whether keyless use still works on gen.pollinations.ai is UNCONFIRMED.",
    ),
    # --- custom --------------------------------------------------------------------------------
    Provider(
        id="custom_openai", open_model_samplers=True, name="Custom (OpenAI-compatible)", category="custom", protocol="openai_compat",
        endpoints=_one(""), auth=Bearer(), key_policy="optional",
        models=ModelsEndpoint("/models"), discover_base=True,
        notes="Ollama, LM Studio, llama.cpp, vLLM, KoboldCpp, TabbyAPI, proxies. The base URL is tried as "
        "typed, then with /v1 and /api/v1.",
    ),
)

# --- lookups -----------------------------------------------------------------------------------

_BY_ID = {p.id: p for p in PROVIDERS}


def get(provider_id: str) -> Provider:
    """The provider with this id. Unknown ids raise: never a silent OpenAI default."""
    try:
        return _BY_ID[provider_id]
    except KeyError:
        raise KeyError(f"unknown provider {provider_id!r}") from None


def all_providers() -> tuple[Provider, ...]:
    return PROVIDERS


def ids() -> tuple[str, ...]:
    return tuple(_BY_ID)


def by_category() -> dict[str, tuple[Provider, ...]]:
    """Providers grouped in the guide's category order (for the Add Provider picker)."""
    return {c: tuple(p for p in PROVIDERS if p.category == c) for c in CATEGORIES}
